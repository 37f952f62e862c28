package dev.quiver.node.catalog;

import com.fasterxml.jackson.annotation.JsonIgnore;
import dev.quiver.node.cluster.ClusterMessage;
import dev.quiver.persistence.state.AdapterState;
import dev.quiver.persistence.state.AdapterVersion;
import dev.quiver.persistence.state.Residency;
import java.util.List;

/**
 * An adapter as every node sees it without asking its entity: the entity's state after its event number
 * {@code seqNr} (the last-writer-wins clock of the catalog).
 *
 * <p>NOTE: {@code AdapterRegistered} has a tenant but no "shared" flag; until the event has one, a shared adapter
 * is registered with tenant {@code shared:<owner>}, read back by {@link #owner()} and {@link #shared()}.
 */
public record CatalogEntry(AdapterState state, long seqNr) implements ClusterMessage {

    /** The tenant prefix that marks a shared adapter. */
    public static final String SHARED_PREFIX = "shared:";

    @JsonIgnore
    public String name() {
        return state.name();
    }

    @JsonIgnore
    public String owner() {
        return owner(state.tenant());
    }

    @JsonIgnore
    public boolean shared() {
        return state.tenant().startsWith(SHARED_PREFIX);
    }

    /** Registered and not retired. */
    @JsonIgnore
    public boolean active() {
        return state.isRegistered() && !state.isRetired();
    }

    /** Whether {@code tenant} may see and use it: its owner, or anyone when it is shared. */
    public boolean visibleTo(String tenant) {
        return state.isRegistered() && (shared() || owner().equals(tenant));
    }

    @JsonIgnore
    public AdapterVersion current() {
        return state.current().orElseThrow();
    }

    /** Workers holding the current version (as persisted). */
    @JsonIgnore
    public List<String> holders() {
        return state.residents().stream().filter(r -> r.version() == state.currentVersion())
                .map(Residency::worker).toList();
    }

    /** Workers holding {@code version} (as persisted; the journal keeps one version per worker). */
    public List<String> holders(int version) {
        return state.residents().stream().filter(r -> r.version() == version).map(Residency::worker).toList();
    }

    /** The owning tenant of a stored tenant value. */
    public static String owner(String tenant) {
        return tenant.startsWith(SHARED_PREFIX) ? tenant.substring(SHARED_PREFIX.length()) : tenant;
    }
}
