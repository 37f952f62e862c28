package dev.quiver.node.audit;

import dev.quiver.edge.api.AdapterEvent;
import java.util.List;
import java.util.Map;

/**
 * The adapter lifecycle audit trail: append-only, numbered, read by adapter or from a sequence number.
 *
 * <p>NOTE: only the in-memory registry ({@code quiver.node.persistence = in-memory}) writes here, through
 * {@link InMemoryAuditLog}, lost when the process exits. The durable registry
 * ({@link dev.quiver.node.adapters.JournaledAdapterRegistry}) needs no append: its events are the lifecycle actors'
 * journal, read back through the persistence module's {@code AdapterAuditLog}.
 */
public interface AuditLog {
    /** Appends one event and returns it with its sequence number and time. */
    AdapterEvent append(String adapter, String type, int version, String actor, Map<String, Object> detail);

    List<AdapterEvent> forAdapter(String adapter);

    /** Events with {@code seq > since}, oldest first. */
    List<AdapterEvent> since(long since);

    /** Whether events survive a restart (shown by /ready and the docs). */
    boolean durable();
}
