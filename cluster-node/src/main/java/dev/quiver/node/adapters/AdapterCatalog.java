package dev.quiver.node.adapters;

import dev.quiver.edge.api.AdapterAdmin;
import dev.quiver.edge.api.AdapterView;
import dev.quiver.edge.api.Caller;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * What the node needs of its adapter registry besides the admin API: resolving a request's {@code model} to the
 * active version's engine key and local directory, the adapters a caller may see, and a readiness check of where
 * the registry keeps its state. Two implementations, chosen by {@code quiver.node.persistence}:
 * {@link AdapterRegistry} (in memory, for tests and throwaway runs) and {@link JournaledAdapterRegistry}
 * (lifecycle events journaled in Cassandra, files in the Cassandra blob store).
 */
public interface AdapterCatalog extends AdapterAdmin {

    /** An adapter version ready to serve: the engine key and its directory. */
    record Resolved(String name, String key, Path dir) {
    }

    /** The readiness of the registry's storage, for {@code /ready}. */
    record StorageCheck(boolean ok, Object detail) {
    }

    /** The active version of {@code name} if the caller may use it. */
    Optional<Resolved> resolve(Caller caller, String name);

    /** The active adapters the caller may use, sorted by name (without cache details). */
    List<AdapterView> visible(Caller caller);

    /** Whether the registry and its audit trail survive a restart. */
    boolean durable();

    CompletionStage<StorageCheck> storageCheck();

    /** The engine key of an adapter version. */
    static String key(String name, int version) {
        return name + "@v" + version;
    }
}
