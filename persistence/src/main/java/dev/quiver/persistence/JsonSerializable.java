package dev.quiver.persistence;

/**
 * Marker for every type of this module that crosses a serialization boundary: lifecycle events
 * and snapshots in the journal, and the requests, replies and rejections that travel between
 * nodes. {@code reference.conf} binds it to Pekko's {@code jackson-json} serializer.
 *
 * <p>NOTE: JSON rather than CBOR. Lifecycle events are small and rare (a handful per adapter
 * per day), so CBOR's size and speed do not matter here, while JSON lets an operator read the
 * journal with plain cqlsh ({@code SELECT blobAsText(event) FROM messages ...}) during an
 * incident, which is what an audit trail is for.
 */
public interface JsonSerializable {}
