package dev.quiver.persistence.state;

import dev.quiver.persistence.JsonSerializable;
import java.time.Instant;

/** The last time a worker could not load the adapter, and the engine's reason. */
public record LoadFailure(String worker, String node, int version, String error, Instant at)
    implements JsonSerializable {}
