package dev.quiver.node.catalog;

import dev.quiver.node.cluster.ReplicatedMap;
import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.CompletionStage;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * Every adapter's latest state, replicated to every node (Distributed Data, key {@code quiver-adapter-catalog}):
 * what the edge reads to answer "may this caller use this model?" and {@code /v1/models} without a round trip.
 * Adapter entities write their state after each event and when they recover (other nodes see it after gossip,
 * about {@code distributed-data.gossip-interval}); the registry writes the state an admin call returned to every
 * reachable node before the call returns, so a new adapter or version is usable through any node at once.
 */
public final class AdapterCatalog {

    private final ReplicatedMap<CatalogEntry> entries;

    private AdapterCatalog(ActorSystem<?> system) {
        this.entries = ReplicatedMap.start(system, "quiver-adapter-catalog", CatalogEntry::seqNr, snapshot -> { });
    }

    public static AdapterCatalog start(ActorSystem<?> system) {
        return new AdapterCatalog(system);
    }

    public void put(CatalogEntry entry) {
        entries.put(entry.name(), entry);
    }

    /**
     * Writes {@code entry} and waits (at most {@code timeout}) until every reachable node has it: an admin change
     * is visible cluster-wide when its call returns.
     */
    public CompletionStage<Void> putEverywhere(CatalogEntry entry, Duration timeout) {
        return entries.putEverywhere(entry.name(), entry, timeout);
    }

    public Optional<CatalogEntry> get(String name) {
        return Optional.ofNullable(entries.snapshot().get(name));
    }

    /** Like {@link #get}, but also sees what reached this node's replica since the last change notification. */
    public CompletionStage<Optional<CatalogEntry>> getFresh(String name) {
        Optional<CatalogEntry> known = get(name);
        return known.isPresent() ? java.util.concurrent.CompletableFuture.completedFuture(known)
                : entries.readFresh(name);
    }

    public Collection<CatalogEntry> all() {
        return entries.snapshot().values();
    }
}
