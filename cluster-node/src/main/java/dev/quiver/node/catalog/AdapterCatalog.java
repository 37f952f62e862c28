package dev.quiver.node.catalog;

import dev.quiver.node.cluster.ClusterMessage;
import dev.quiver.node.cluster.ReplicatedMap;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * Every adapter's latest state, replicated to every node (Distributed Data, keys {@code quiver-adapter-catalog-N}):
 * what the edge reads to answer "may this caller use this model?" and {@code /v1/models} without a round trip.
 * Adapter entities write their state after each event and when they recover (unless the catalog holds it already;
 * other nodes get the change as a delta within about 200 ms, or at the next full-state gossip, every
 * {@code distributed-data.gossip-interval}); the registry writes the state an admin call returned to every
 * reachable node before the call returns, so a new adapter or version is usable through any node at once.
 *
 * <p>A replica's change reaches this node's snapshot (what the relays route by) only at the replicator's next
 * change notification; so after the replicated write, {@link #putEverywhere} also hands the entry to every node's
 * catalog directly ({@link Sync}, through the Receptionist) and completes once each answered that its snapshot
 * has it: a promote or an abort routes by the new state on every node when the admin call returns.
 */
public final class AdapterCatalog {


    /** The Receptionist key of every node's catalog sync actor. */
    public static final ServiceKey<Sync> SYNC_KEY = ServiceKey.create(Sync.class, "quiver-catalog-sync");

    /** Put {@code entry} into this node's snapshot (unless it holds a newer one) and say so. */
    public record Sync(CatalogEntry entry, ActorRef<Synced> replyTo) implements ClusterMessage {
    }

    /** The node's snapshot holds the entry (or a newer one). */
    public record Synced(String name) implements ClusterMessage {
    }

    private record Listing(Set<ActorRef<Sync>> refs) {
    }

    private final ActorSystem<?> system;
    private final ReplicatedMap<CatalogEntry> entries;
    private volatile Set<ActorRef<Sync>> syncs = Set.of();

    private AdapterCatalog(ActorSystem<?> system) {
        this.system = system;
        // quiver.node.catalog-buckets: Distributed Data keys the catalog is spread over (reference.conf says why)
        int buckets = system.settings().config().getInt("quiver.node.catalog-buckets");
        this.entries = ReplicatedMap.start(system, "quiver-adapter-catalog", buckets, CatalogEntry::seqNr,
                snapshot -> { });
        system.systemActorOf(syncBehavior(), "adapter-catalog-sync", Props.empty());
    }

    /** Answers {@link Sync} on this node, and follows the Receptionist's list of every node's sync actor. */
    private Behavior<Object> syncBehavior() {
        return Behaviors.setup(ctx -> {
            ctx.getSystem().receptionist().tell(Receptionist.register(SYNC_KEY, ctx.getSelf().narrow()));
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(SYNC_KEY, ctx.messageAdapter(
                    Receptionist.Listing.class, l -> new Listing(l.getServiceInstances(SYNC_KEY)))));
            return Behaviors.receive(Object.class)
                    .onMessage(Listing.class, l -> {
                        syncs = Set.copyOf(l.refs());
                        return Behaviors.same();
                    })
                    .onMessage(Sync.class, s -> {
                        entries.putLocal(s.entry().name(), s.entry()).thenRun(() ->
                                s.replyTo().tell(new Synced(s.entry().name())));
                        return Behaviors.same();
                    })
                    .build();
        });
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
        return entries.putEverywhere(entry.name(), entry, timeout).thenCompose(x -> syncEverywhere(entry, timeout));
    }

    /**
     * Hands {@code entry} to every node's catalog and completes once each has it in its snapshot, or after
     * {@code timeout} for the ones that do not answer (an unreachable node learns it by gossip).
     */
    private CompletionStage<Void> syncEverywhere(CatalogEntry entry, Duration timeout) {
        List<CompletableFuture<Synced>> acks = new ArrayList<>();
        for (ActorRef<Sync> ref : syncs) {
            acks.add(AskPattern.<Sync, Synced>ask(ref, replyTo -> new Sync(entry, replyTo), timeout,
                    system.scheduler()).toCompletableFuture().exceptionally(err -> null));
        }
        return CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new));
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

    /**
     * Every entry as a majority of the nodes holds it, for a node that has just joined (see
     * {@link ReplicatedMap#readMajority}); this node's replica where no majority answers within {@code timeout}.
     */
    public CompletionStage<java.util.Map<String, CatalogEntry>> readMajority(Duration timeout) {
        return entries.readMajority(timeout);
    }

    public Collection<CatalogEntry> all() {
        return entries.snapshot().values();
    }
}
