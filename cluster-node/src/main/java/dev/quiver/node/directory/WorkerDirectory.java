package dev.quiver.node.directory;

import com.typesafe.config.Config;
import dev.quiver.node.cluster.ClusterMetrics;
import dev.quiver.node.cluster.ReplicatedMap;
import dev.quiver.node.worker.WorkerAgent;
import dev.quiver.node.worker.WorkerHostCopies;
import dev.quiver.node.worker.WorkerLoad;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * This node's view of every worker in the cluster, read locally so that a routing decision never waits for a
 * remote round trip: the workers' published {@link WorkerLoad}s (Distributed Data), which of them are registered
 * with the Receptionist, and which cluster members are Up, reachable and not leaving. A worker is routable when
 * all three agree and it reports itself healthy and not draining.
 *
 * <p>Loads are published every {@code load-publish-interval}; between two publications this node adds the requests
 * its relays sent to a worker and that are still running, so a burst does not all go to the worker that looked
 * least loaded.
 *
 * <p>When a member is removed (downed or left), the directory reports the workers it hosted to the node-lost
 * handler (the cluster node sends their adapters' entities a {@code NodeLost}); their last loads are kept for a
 * few minutes, so {@link #isGone} still knows them, then dropped.
 */
public final class WorkerDirectory implements WorkerAgent.LoadBoard {

    /** The workers a removed member hosted, with their last published loads. */
    public record NodeLost(String address, List<WorkerLoad> workers) {
    }

    private record Prune(List<WorkerLoad> lost) {
    }

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(WorkerDirectory.class);

    /** How long the last load of a worker whose node was removed is kept. */
    private static final java.time.Duration STALE_LOAD_RETENTION = java.time.Duration.ofMinutes(5);

    private final ActorSystem<?> system;
    /** The published loads, host copies left out (see {@link #loadSnapshot()}). */
    private final ReplicatedMap<WorkerLoad> loads;
    /** Each worker's host copies, published apart from its load and only when they change. */
    private final ReplicatedMap<WorkerHostCopies> hostCopies;

    /** The two replicas' snapshots (immutable, swapped on change) and the loads merged from them. */
    private record Merged(Map<String, WorkerLoad> loads, Map<String, WorkerHostCopies> host,
                          Map<String, WorkerLoad> merged) {
    }

    private volatile Merged merged = new Merged(Map.of(), Map.of(), Map.of());
    /** Requests this node routed to a worker since its last published load: in all and per adapter key. */
    private static final class Routed {
        final AtomicInteger total = new AtomicInteger();
        final AtomicInteger placements = new AtomicInteger();
        final Map<String, AtomicInteger> byKey = new ConcurrentHashMap<>();

        void reset() {
            total.set(0);
            placements.set(0);
            byKey.clear();
        }

        Map<String, Integer> byKey() {
            Map<String, Integer> out = new java.util.HashMap<>();
            byKey.forEach((k, v) -> out.put(k, v.get()));
            return out;
        }
    }

    private final Map<String, Routed> routedSincePublished = new ConcurrentHashMap<>();
    private final Map<String, Long> lastSeen = new ConcurrentHashMap<>();
    private volatile Set<ActorRef<WorkerAgent.Command>> registered = Set.of();
    /** Unique addresses (as text) of members that are Up and reachable: the ones requests may go to. */
    private volatile Set<String> routableMembers = Set.of();
    /** Unique addresses of every member still in the cluster, reachable or not. */
    private volatile Set<String> members = Set.of();
    private final PauseFence pauseFence;

    private WorkerDirectory(ActorSystem<?> system, Consumer<NodeLost> onNodeLost) {
        this.system = system;
        this.loads = ReplicatedMap.start(system, "quiver-worker-load", WorkerLoad::updatedAt,
                snapshot -> routedSincePublished.keySet().forEach(k -> {
                    WorkerLoad l = snapshot.get(k);
                    Routed c = routedSincePublished.get(k);
                    if (l != null && c != null && l.updatedAt() > lastSeen.getOrDefault(k, 0L)) {
                        lastSeen.put(k, l.updatedAt());
                        c.reset();
                    }
                }));
        this.hostCopies = ReplicatedMap.start(system, "quiver-worker-host", WorkerHostCopies::updatedAt, h -> { });
        system.systemActorOf(watcher(onNodeLost), "worker-directory", Props.empty());
        Config fence = system.settings().config().getConfig("quiver.node.pause-fence");
        this.pauseFence = new PauseFence(fence.getDuration("threshold"), fence.getDuration("grace"), System::nanoTime);
        startTicker(system, pauseFence, fence.getDuration("threshold"));
    }

    /**
     * Ticks {@code fence} on a thread of its own (not an actor dispatcher, which a burst of work can hold up for
     * longer than a tick), about ten times per threshold; stops with the actor system.
     */
    private static void startTicker(ActorSystem<?> system, PauseFence fence, java.time.Duration threshold) {
        ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "quiver-pause-fence");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(10, threshold.toMillis() / 10);
        ticker.scheduleWithFixedDelay(() -> {
            try {
                java.time.Duration pause = fence.tick();
                if (!pause.isZero()) {
                    ClusterMetrics.paused();
                    LOG.warn("this node did not run for {} ms (a pause: GC, SIGSTOP, a starved or suspended "
                            + "VM); its adapter entities journal nothing until its view of the cluster is fresh",
                            pause.toMillis());
                }
            } catch (RuntimeException e) {
                LOG.error("pause fence tick failed", e);
            }
        }, every, every, TimeUnit.MILLISECONDS);
        system.getWhenTerminated().thenRun(ticker::shutdownNow);
    }

    /**
     * Every published load with its worker's host copies merged in; recomputed only when either replica changed
     * (their snapshots are immutable and replaced on change, so identity tells).
     */
    private Map<String, WorkerLoad> loadSnapshot() {
        Map<String, WorkerLoad> l = loads.snapshot();
        Map<String, WorkerHostCopies> h = hostCopies.snapshot();
        Merged m = merged;
        if (m.loads() == l && m.host() == h) {
            return m.merged();
        }
        Map<String, WorkerLoad> out = new java.util.HashMap<>();
        l.forEach((id, load) -> out.put(id, load.withHost(h.get(id))));
        Map<String, WorkerLoad> result = Map.copyOf(out);
        merged = new Merged(l, h, result);
        return result;
    }

    /** Starts this node's directory; {@code onNodeLost} runs on the directory's actor for each removed member. */
    public static WorkerDirectory start(ActorSystem<?> system, Consumer<NodeLost> onNodeLost) {
        return new WorkerDirectory(system, onNodeLost);
    }

    /** Called by this node's worker agents with their current load. */
    @Override
    public void publish(WorkerLoad load) {
        loads.put(load.workerId(), load);
    }

    /**
     * Publishes {@code load} to every reachable node at once (not by gossip): for a change others must act on now,
     * such as a worker starting to drain. Completes when they all have it or after {@code timeout}; never fails.
     */
    @Override
    public java.util.concurrent.CompletionStage<Void> publishEverywhere(WorkerLoad load, java.time.Duration timeout) {
        return loads.putEverywhere(load.workerId(), load, timeout);
    }

    @Override
    public void publishHost(WorkerHostCopies copies) {
        hostCopies.put(copies.workerId(), copies);
    }

    /**
     * The workers requests may go to now, with the requests this node routed to each since its last load. A draining
     * worker (its node is shutting down) is left out while any other worker is routable.
     */
    public List<WorkerLoad> routable() {
        Set<String> up = routableMembers;
        Set<ActorRef<WorkerAgent.Command>> reg = registered;
        List<WorkerLoad> out = new ArrayList<>();
        for (WorkerLoad l : loadSnapshot().values()) {
            if (l.healthy() && up.contains(l.address()) && reg.contains(l.agent())) {
                Routed extra = routedSincePublished.get(l.workerId());
                out.add(extra == null ? l : l.withLocal(extra.total.get(), extra.byKey(), extra.placements.get()));
            }
        }
        // NOTE: with nothing else left (a single node shutting down), a draining worker still serves what it can
        // until its deadline rather than have requests wait for a worker that will not come.
        List<WorkerLoad> staying = out.stream().filter(l -> !l.draining()).toList();
        return staying.isEmpty() ? out : staying;
    }

    /** The last load {@code workerId} published, routable or not. */
    public Optional<WorkerLoad> load(String workerId) {
        return Optional.ofNullable(loadSnapshot().get(workerId));
    }

    /** Every published load (also of workers that are not routable now). */
    public Map<String, WorkerLoad> loads() {
        return loadSnapshot();
    }

    /**
     * Whether {@code workerId} is known to be gone: it published a load from a member that is no longer in the
     * cluster. A worker never heard of is not "gone" (the cluster may still be starting).
     */
    public boolean isGone(String workerId) {
        WorkerLoad l = loads.snapshot().get(workerId);
        return l != null && !members.contains(l.address());
    }

    /**
     * Counts a request for adapter key {@code key} (null: the base model) that a relay of this node sent to
     * {@code workerId}, until the worker publishes its next load or the request ends ({@link #noteDone}).
     */
    public void noteRouted(String workerId, String key) {
        Routed r = routedSincePublished.computeIfAbsent(workerId, k -> new Routed());
        r.total.incrementAndGet();
        if (key != null) {
            r.byKey.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
        }
    }

    /** A request counted by {@link #noteRouted} ended (or left the worker). */
    public void noteDone(String workerId, String key) {
        Routed r = routedSincePublished.get(workerId);
        if (r == null) {
            return;
        }
        r.total.getAndUpdate(n -> Math.max(0, n - 1));
        if (key != null) {
            AtomicInteger k = r.byKey.get(key);
            if (k != null) {
                k.getAndUpdate(n -> Math.max(0, n - 1));
            }
        }
    }

    /** Counts a placement this node started on {@code workerId} (it takes a slot) until the worker's next load. */
    public void notePlacing(String workerId) {
        routedSincePublished.computeIfAbsent(workerId, k -> new Routed()).placements.incrementAndGet();
    }

    /**
     * Why this node's adapter entities must not journal now, or empty when they may. A node on the minority side of
     * a partition, one that was downed, and one that has just resumed from a pause (see {@link PauseFence}) must
     * not: the majority side has moved (or will move) their shards and writes to the same journals, so a write from
     * here could put two events under one sequence number.
     */
    public Optional<String> journalFence() {
        Optional<String> paused = pauseFence.fenced();
        if (paused.isPresent()) {
            return paused;
        }
        Cluster cluster = Cluster.get(system);
        MemberStatus self = cluster.selfMember().status();
        if (self == MemberStatus.down() || self == MemberStatus.removed()) {
            return Optional.of("this node was downed and is leaving the cluster");
        }
        var state = cluster.state();
        int members = 0;
        for (Member m : state.getMembers()) {
            members++;
        }
        if (members - state.getUnreachable().size() <= members / 2) {
            return Optional.of("this node cannot reach the majority of the cluster");
        }
        return Optional.empty();
    }

    /** Whether this node is Up in the cluster. */
    public boolean selfUp() {
        return Cluster.get(system).selfMember().status() == MemberStatus.up();
    }

    /**
     * Whether this node acts for the cluster on a member's removal: the oldest Up member does, so each removal is
     * handled once (handlers are idempotent, so a change of the oldest during a removal does no harm).
     */
    public boolean isCoordinator() {
        Cluster cluster = Cluster.get(system);
        Member oldest = null;
        for (Member m : cluster.state().getMembers()) {
            if (m.status() == MemberStatus.up() && (oldest == null || m.isOlderThan(oldest))) {
                oldest = m;
            }
        }
        return oldest != null && oldest.uniqueAddress().equals(cluster.selfMember().uniqueAddress());
    }

    private Behavior<Object> watcher(Consumer<NodeLost> onNodeLost) {
        return Behaviors.setup(ctx -> {
            Cluster cluster = Cluster.get(ctx.getSystem());
            ActorRef<ClusterEvent.ClusterDomainEvent> events = ctx.messageAdapter(ClusterEvent.ClusterDomainEvent.class,
                    e -> e);
            cluster.subscriptions().tell(Subscribe.create(events, ClusterEvent.ClusterDomainEvent.class));
            ActorRef<Receptionist.Listing> listings = ctx.messageAdapter(Receptionist.Listing.class, l -> l);
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(WorkerAgent.SERVICE_KEY, listings));
            return Behaviors.receive(Object.class)
                    .onMessage(Receptionist.Listing.class, l -> {
                        registered = Set.copyOf(l.getServiceInstances(WorkerAgent.SERVICE_KEY));
                        return Behaviors.same();
                    })
                    .onMessage(ClusterEvent.MemberRemoved.class, removed -> {
                        refreshMembers(cluster);
                        String address = removed.member().uniqueAddress().toString();
                        List<WorkerLoad> lost = loadSnapshot().values().stream()
                                .filter(l -> l.address().equals(address)).toList();
                        ctx.getLog().info("cluster member {} removed (was {}); it hosted workers {}", address,
                                removed.previousStatus(), lost.stream().map(WorkerLoad::workerId).toList());
                        onNodeLost.accept(new NodeLost(address, lost));
                        // The lost workers' last loads stay for a while: they are how entities that wake up later
                        // (their shard moved) tell that a resident worker is gone. Then the coordinator prunes them,
                        // unless the worker came back (a newer load from a new incarnation replaced it).
                        ctx.scheduleOnce(STALE_LOAD_RETENTION, ctx.getSelf(), new Prune(lost));
                        return Behaviors.same();
                    })
                    .onMessage(Prune.class, p -> {
                        if (isCoordinator()) {
                            for (WorkerLoad l : p.lost()) {
                                WorkerLoad now = loads.snapshot().get(l.workerId());
                                if (now != null && now.address().equals(l.address())) {
                                    loads.remove(l.workerId());
                                    WorkerHostCopies h = hostCopies.snapshot().get(l.workerId());
                                    if (h != null && h.updatedAt() <= now.updatedAt()) {
                                        hostCopies.remove(l.workerId()); // not one from a newer incarnation
                                    }
                                }
                            }
                        }
                        return Behaviors.same();
                    })
                    .onMessage(ClusterEvent.ClusterDomainEvent.class, e -> {
                        refreshMembers(cluster);
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    private void refreshMembers(Cluster cluster) {
        var state = cluster.state();
        Set<String> unreachable = new HashSet<>();
        for (Member m : state.getUnreachable()) {
            unreachable.add(m.uniqueAddress().toString());
        }
        Set<String> all = new HashSet<>();
        Set<String> up = new HashSet<>();
        for (Member m : state.getMembers()) {
            String a = m.uniqueAddress().toString();
            all.add(a);
            if (m.status() == MemberStatus.up() && !unreachable.contains(a)) {
                up.add(a);
            }
        }
        members = Set.copyOf(all);
        routableMembers = Set.copyOf(up);
    }
}
