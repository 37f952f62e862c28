package dev.quiver.node.entity;

import dev.quiver.node.catalog.AdapterCatalog;
import dev.quiver.node.catalog.CatalogEntry;
import dev.quiver.node.cluster.ClusterMessage;
import dev.quiver.node.cluster.ClusterMetrics;
import dev.quiver.node.directory.WorkerDirectory;
import dev.quiver.node.placement.PlacementPolicy;
import dev.quiver.node.rollout.SplitChooser;
import dev.quiver.node.worker.WorkerAgent;
import dev.quiver.node.worker.WorkerLoad;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.events.AdapterEvent;
import dev.quiver.persistence.events.EvictionReason;
import dev.quiver.persistence.lifecycle.AdapterLifecycle;
import dev.quiver.persistence.lifecycle.LifecycleReply;
import dev.quiver.persistence.state.AdapterState;
import dev.quiver.persistence.state.Decision;
import dev.quiver.persistence.state.LifecycleRequest;
import dev.quiver.persistence.state.LifecycleRules;
import dev.quiver.persistence.state.Residency;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

/**
 * One adapter in the cluster (Cluster Sharding, one entity per adapter name, event-sourced on the persistence
 * module's {@link AdapterEvent}s and {@link AdapterState}; persistence id {@code Adapter|<name>}, the same as
 * {@link AdapterLifecycle}, so either reads the other's journal). It owns the adapter's life and decides where its
 * requests go:
 *
 * <ul>
 *   <li>{@link Execute}: lifecycle requests (register, publish, rollback, preload, retire), validated by
 *       {@link LifecycleRules}; after a version switch it moves its residents to the new version, after a retire
 *       it releases them.</li>
 *   <li>{@link Route}: picks a worker with the {@link PlacementPolicy} over the persisted residents and the live
 *       workers of the local {@link WorkerDirectory}; a placement it starts becomes {@code PlacedOn} only once the
 *       worker reports the adapter loaded, a failed one {@code LoadFailed}.</li>
 *   <li>{@link WorkerEvicted} and {@link NodeLost}: the worker dropped it from memory (LRU once it is in neither
 *       a compute slot nor host memory, or an operator's eviction) or its node is gone; persisted as
 *       {@code EvictedFrom}. Moves between a worker's slots and its host copies are not journaled.</li>
 *   <li>{@link Maintain} (a timer while it has residents or a preload, and once after recovery): drops residents
 *       of workers that are gone or restarted, journals a live worker that holds the current version without a
 *       journaled placement (placed by a relay while the entity was out of reach, or loaded again after an LRU
 *       eviction), and keeps {@code preloadReplicas} workers holding the current version pinned.</li>
 * </ul>
 *
 * <p>Journal outages ({@link Deps#journalOutage}, the node's latest journal probe): while the journal is known
 * down, {@link Execute} is answered at once as unavailable (naming the journal), and the events that reports and
 * maintenance decide (placements, evictions, load failures) are kept in memory, used for routing, and journaled by
 * the first maintenance after the journal is back, with {@code by} marked {@value #RETRIED}. A write that fails
 * before the probe has noticed stops the entity: the caller waiting for it is answered as unavailable at once,
 * and the entity restarts with backoff until the journal answers; what it had not journaled is then re-derived from
 * the workers' state by its after-recovery maintenance ({@code system:reconcile}).
 *
 * <p>Placement reads only persisted residents that are live now, plus placements in flight (kept in memory: a
 * restarted entity forgets them, and the worker's load or eviction reports catch up).
 */
public final class AdapterEntity
        extends EventSourcedBehaviorWithEnforcedReplies<AdapterEntity.Command, AdapterEvent, AdapterState> {

    public static final EntityTypeKey<Command> ENTITY_KEY =
            EntityTypeKey.create(Command.class, AdapterLifecycle.ENTITY_TYPE);

    public sealed interface Command extends ClusterMessage permits Execute, GetState, Route, PlacementDone,
            WorkerEvicted, NodeLost, Maintain, LoadFailedReport {
    }

    /** A lifecycle request from the admin API. */
    public record Execute(LifecycleRequest request, ActorRef<Outcome> replyTo) implements Command {
    }

    /**
     * The lifecycle's reply and the adapter's state after it, as the catalog holds it; or, when {@code unavailable}
     * is set, nothing was decided because this entity's node does not write to the journal now (it cannot reach the
     * cluster's majority, was downed, or has just resumed from a pause: {@link WorkerDirectory#journalFence}; retry).
     */
    public record Outcome(LifecycleReply reply, CatalogEntry entry, String unavailable) implements ClusterMessage {
    }

    public record GetState(ActorRef<CatalogEntry> replyTo) implements Command {
    }

    /**
     * Where should request {@code requestId} go? Never to a worker in {@code exclude}. {@code version}: the
     * version the request is pinned to (chosen by the relay, or kept across a failover resume), or 0 for the
     * entity to choose by {@code splitKey} (the current version, or the split's choice).
     */
    public record Route(String requestId, List<String> exclude, ActorRef<RouteReply> replyTo, int version,
                        String splitKey) implements Command {
        public Route(String requestId, List<String> exclude, ActorRef<RouteReply> replyTo) {
            this(requestId, exclude, replyTo, 0, requestId);
        }
    }

    /**
     * A request could not run on {@code worker} because {@code version} would not load there (refused files, a
     * blob that cannot be fetched): journaled as {@code LoadFailed}.
     */
    public record LoadFailedReport(String worker, String node, int version, String error) implements Command {
    }

    public sealed interface RouteReply extends ClusterMessage permits Routed, NotRouted {
    }

    /** Send it to {@code agent} as adapter {@code version} (content {@code digest}) of {@code tenant}. */
    public record Routed(String workerId, ActorRef<WorkerAgent.Command> agent, int version, String digest,
                         String tenant, String outcome) implements RouteReply {
    }

    /** It cannot be routed now. */
    public record NotRouted(Reason reason, String message, int retryAfterSeconds) implements RouteReply {
        public enum Reason { NOT_FOUND, OVERLOADED, UNAVAILABLE }
    }

    /** A worker agent's report of a placement this entity asked for. */
    public record PlacementDone(WorkerAgent.PlaceResult result) implements Command {
    }

    /**
     * {@code worker} dropped {@code version} from its memory, compute slots and host copies alike ({@code reason}:
     * lru | operator).
     */
    public record WorkerEvicted(String worker, String node, int version, String reason) implements Command {
    }

    /** The cluster member that hosted {@code workers} was removed. */
    public record NodeLost(List<String> workers, String node) implements Command {
    }

    public record Maintain() implements Command {
    }

    /**
     * What every entity of a node shares. {@code journalOutage}: what is wrong with the journal when the node knows
     * it is down (its latest probe failed), else empty.
     */
    public record Deps(WorkerDirectory directory, AdapterCatalog catalog, PlacementPolicy policy,
                       Duration maintainInterval, Duration placementTimeout, PersistenceSettings.Lifecycle lifecycle,
                       Clock clock, Supplier<Optional<String>> journalOutage) {
        /** Deps of a node that never takes its journal for down (writes are tried, and fail if they must). */
        public Deps(WorkerDirectory directory, AdapterCatalog catalog, PlacementPolicy policy,
                    Duration maintainInterval, Duration placementTimeout, PersistenceSettings.Lifecycle lifecycle,
                    Clock clock) {
            this(directory, catalog, policy, maintainInterval, placementTimeout, lifecycle, clock, Optional::empty);
        }
    }

    /** How the cause of a refused or failed write is named to the caller (the admin API shows it). */
    public static final String JOURNAL_DOWN = "the journal (Cassandra) is unreachable";
    /** Appended to {@code by} of an event that was decided during a journal outage and journaled after it. */
    public static final String RETRIED = " (retried after a journal outage)";
    /** At most this many undecided-to-journal requests are kept per entity during an outage (oldest dropped). */
    private static final int MAX_DEFERRED = 64;
    /** Restart of an entity whose journal write or recovery failed: first after this, then doubling. */
    private static final Duration RESTART_MIN = Duration.ofSeconds(1);
    private static final Duration RESTART_MAX = Duration.ofSeconds(5);

    /** Starts sharding of adapter entities on this node. */
    public static void init(ActorSystem<?> system, Deps deps) {
        ClusterSharding.get(system).init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId(), deps)));
    }

    public static Behavior<Command> create(String name, Deps deps) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new AdapterEntity(name, deps, ctx, timers)));
    }

    /** A placement this entity started and is waiting for. */
    private record Placing(int version, boolean pin, long startedNanos) {
    }

    private static final String MAINTAIN_TIMER = "maintain";
    private static final Duration RESTART_MARGIN = Duration.ofSeconds(2);

    private final String name;
    private final Deps deps;
    private final ActorContext<Command> ctx;
    private final TimerScheduler<Command> timers;
    private final ActorRef<WorkerAgent.PlaceResult> placeReplies;
    private final Map<String, Placing> placing = new HashMap<>();
    /**
     * Requests decided while the journal was down, in order: applied to the state for routing, journaled (marked
     * {@link #RETRIED}) by the first maintenance once it is back. Kept in memory only: a restart loses them and
     * the after-recovery maintenance re-derives the placements from the workers.
     */
    private final List<LifecycleRequest> deferred = new ArrayList<>();
    /** Who waits for the lifecycle change being written now: answered if the write fails and the entity stops. */
    private ActorRef<Outcome> writing;

    private AdapterEntity(String name, Deps deps, ActorContext<Command> ctx, TimerScheduler<Command> timers) {
        // NOTE: a failed journal write or recovery restarts the entity with backoff (the default stops it, and a
        // stopped entity only comes back with its next message, which a broken recovery then loses).
        super(AdapterLifecycle.persistenceId(name),
                SupervisorStrategy.restartWithBackoff(RESTART_MIN, RESTART_MAX, 0.2));
        this.name = name;
        this.deps = deps;
        this.ctx = ctx;
        this.timers = timers;
        this.placeReplies = ctx.messageAdapter(WorkerAgent.PlaceResult.class, PlacementDone::new);
    }

    @Override
    public AdapterState emptyState() {
        return AdapterState.unregistered(name);
    }

    @Override
    public CommandHandlerWithReply<Command, AdapterEvent, AdapterState> commandHandler() {
        return newCommandHandlerWithReplyBuilder()
                .forAnyState()
                .onCommand(Execute.class, this::onExecute)
                .onCommand(GetState.class, (state, c) -> Effect().reply(c.replyTo(), entry(state)))
                .onCommand(Route.class, this::onRoute)
                .onCommand(PlacementDone.class, this::onPlacementDone)
                .onCommand(WorkerEvicted.class, this::onWorkerEvicted)
                .onCommand(NodeLost.class, this::onNodeLost)
                .onCommand(Maintain.class, this::onMaintain)
                .onCommand(LoadFailedReport.class, (state, f) -> persistDecided(state, List.of(
                        new LifecycleRequest.ReportLoadFailure(f.worker(), f.node(), f.version(), f.error(),
                                "system:request"))))
                .build();
    }

    @Override
    public EventHandler<AdapterState, AdapterEvent> eventHandler() {
        return (state, event) -> state.apply(event);
    }

    @Override
    public SignalHandler<AdapterState> signalHandler() {
        return newSignalHandlerBuilder()
                .onSignal(RecoveryCompleted.instance(), state -> {
                    if (state.isRegistered()) {
                        deps.catalog().put(entry(state));
                        // once soon after (re)start: the workers may hold more or less than the journal says
                        timers.startSingleTimer("after-recovery", new Maintain(), deps.maintainInterval());
                    }
                    scheduleMaintenance(state);
                })
                .onSignal(PreRestart.instance(), state -> answerInterruptedWrite())
                .onSignal(PostStop.instance(), state -> answerInterruptedWrite())
                .build();
    }

    @Override
    public Set<String> tagsFor(AdapterEvent event) {
        return Set.of(deps.lifecycle().tag());
    }

    @Override
    public RetentionCriteria retentionCriteria() {
        return RetentionCriteria.snapshotEvery(deps.lifecycle().snapshotEvery(), deps.lifecycle().keepSnapshots());
    }

    // ---- lifecycle ----

    private ReplyEffect<AdapterEvent, AdapterState> onExecute(AdapterState state, Execute cmd) {
        Optional<String> fence = deps.directory().journalFence();
        if (fence.isPresent()) {
            return Effect().reply(cmd.replyTo(), new Outcome(null, entry(state), "adapter '" + name
                    + "' was not changed: the node holding it does not write to the journal now (" + fence.get()
                    + "); retry"));
        }
        Optional<String> outage = deps.journalOutage().get();
        if (outage.isPresent()) {
            return Effect().reply(cmd.replyTo(), new Outcome(null, entry(state), JOURNAL_DOWN + " (" + outage.get()
                    + "): adapter '" + name + "' was not changed; retry once it is back"));
        }
        Decision decision = LifecycleRules.decide(state, cmd.request(), deps.clock().instant());
        if (decision instanceof Decision.Accept accept) {
            AdapterEvent event = accept.event();
            writing = cmd.replyTo();
            return Effect().persist(event)
                    .thenRun(next -> {
                        writing = null;
                        afterLifecycleChange(state, next, event);
                    })
                    .thenReply(cmd.replyTo(), next -> new Outcome(new LifecycleReply.Accepted(event, next),
                            entry(next), null));
        }
        return Effect().reply(cmd.replyTo(), new Outcome(
                new LifecycleReply.Rejected(((Decision.Reject) decision).rejection()), entry(state), null));
    }

    /**
     * The entity stops or restarts (a journal write failed): whoever waits for the change being written is told at
     * once, not left to its ask timeout. The write may or may not have reached the journal.
     */
    private void answerInterruptedWrite() {
        ActorRef<Outcome> waiting = writing;
        writing = null;
        if (waiting != null) {
            waiting.tell(new Outcome(null, null, JOURNAL_DOWN + " or failed: the change to adapter '" + name
                    + "' was not confirmed (it may or may not have been journaled; check the adapter before "
                    + "retrying)"));
        }
    }

    /** Side effects of a persisted lifecycle change: the catalog, and the workers holding the adapter. */
    private void afterLifecycleChange(AdapterState before, AdapterState after, AdapterEvent event) {
        publish(after);
        if (event instanceof AdapterEvent.Retired) {
            for (Residency r : after.residents()) {
                release(r.worker(), r.version(), false, "retired");
            }
            placing.clear();
        } else if (after.currentVersion() != before.currentVersion()) {
            // A new current version: holders of the old one drop it once idle; pinned holders load the new one.
            for (Residency r : after.residents()) {
                if (r.version() != after.currentVersion()) {
                    boolean wasPinned = isPinnedOn(r.worker(), WorkerAgent.adapterKey(name, r.version()));
                    release(r.worker(), r.version(), false, "superseded by v" + after.currentVersion());
                    if (wasPinned && after.preloadReplicas() > 0) {
                        startPlacement(after, r.worker(), true);
                    }
                }
            }
            ensurePins(after);
        } else if (event instanceof AdapterEvent.PreloadChanged) {
            ensurePins(after);
        }
        if (event instanceof AdapterEvent.SplitStarted || event instanceof AdapterEvent.SplitChanged) {
            ensurePins(after);
            ensureArms(after);
        } else if (event instanceof AdapterEvent.SplitEnded) {
            releaseUntrafficked(after);
        }
        scheduleMaintenance(after);
    }

    // ---- routing ----

    private ReplyEffect<AdapterEvent, AdapterState> onRoute(AdapterState journaled, Route route) {
        AdapterState state = withDeferred(journaled);
        if (!state.isRegistered() || state.isRetired()) {
            ClusterMetrics.routed("not_found");
            return Effect().reply(route.replyTo(), new NotRouted(NotRouted.Reason.NOT_FOUND,
                    "adapter '" + name + "' does not exist", 0));
        }
        // A pinned version (a failover resume, or the relay's split choice) is served while it exists, even if a
        // promote or abort took its traffic away since: the request started on it.
        int version = route.version() > 0 && state.version(route.version()).isPresent() ? route.version()
                : SplitChooser.choose(state, route.splitKey() == null ? route.requestId() : route.splitKey());
        String key = WorkerAgent.adapterKey(name, version);
        List<WorkerLoad> live = deps.directory().routable();
        PlacementPolicy.Decision d = deps.policy().route(key, holders(state, version), Set.copyOf(route.exclude()),
                live);
        if (d instanceof PlacementPolicy.Route r) {
            if (state.getsTraffic(version)) {
                r.placeOn().ifPresent(w -> startPlacement(state, w, false, version));
            }
            WorkerLoad target = live.stream().filter(w -> w.workerId().equals(r.workerId())).findFirst()
                    .orElseThrow();
            ClusterMetrics.routed(r.outcome().wire());
            return Effect().reply(route.replyTo(), new Routed(r.workerId(), target.agent(), version,
                    state.version(version).orElseThrow().digest().hex(), state.tenant(), r.outcome().wire()));
        }
        if (d instanceof PlacementPolicy.Overloaded o) {
            ClusterMetrics.routed("overloaded");
            return Effect().reply(route.replyTo(), new NotRouted(NotRouted.Reason.OVERLOADED,
                    "the cluster is saturated: " + o.reason() + "; retry later", o.retryAfterSeconds()));
        }
        ClusterMetrics.routed("unavailable");
        return Effect().reply(route.replyTo(), new NotRouted(NotRouted.Reason.UNAVAILABLE,
                ((PlacementPolicy.NoWorker) d).reason(), 1));
    }

    /** Workers that hold, or are loading, the current version. */
    private Set<String> holders(AdapterState state) {
        return holders(state, state.currentVersion());
    }

    /**
     * Workers that hold, or are loading, {@code version}: as journaled, plus (for a version other than the current
     * one, since the journal keeps one version per worker) live workers that publish it among their residents.
     */
    private Set<String> holders(AdapterState state, int version) {
        Set<String> out = new LinkedHashSet<>();
        for (Residency r : state.residents()) {
            if (r.version() == version) {
                out.add(r.worker());
            }
        }
        placing.forEach((w, p) -> {
            if (p.version() == version) {
                out.add(w);
            }
        });
        if (version != state.currentVersion()) {
            String key = WorkerAgent.adapterKey(name, version);
            deps.directory().routable().forEach(w -> {
                if (w.holds(key)) {
                    out.add(w.workerId());
                }
            });
        }
        return out;
    }

    /** Every version that gets split traffic and that no live worker holds is placed on one (loads ahead). */
    private void ensureArms(AdapterState state) {
        if (!state.isRegistered() || state.isRetired()) {
            return;
        }
        List<WorkerLoad> live = deps.directory().routable();
        for (int version : state.trafficWeights().keySet()) {
            Set<String> holders = holders(state, version);
            if (!holders.isEmpty()) {
                continue;
            }
            PlacementPolicy.Decision d = deps.policy().route(WorkerAgent.adapterKey(name, version), holders,
                    Set.of(), live);
            if (d instanceof PlacementPolicy.Route r) {
                r.placeOn().ifPresent(w -> startPlacement(state, w, false, version));
            }
        }
    }

    /** After a split ends: live workers drop the versions that no longer get traffic, once idle. */
    private void releaseUntrafficked(AdapterState state) {
        for (WorkerLoad w : deps.directory().routable()) {
            Set<String> held = new java.util.LinkedHashSet<>(w.resident());
            held.addAll(w.cache().host());
            for (String key : held) {
                if (name.equals(WorkerAgent.adapterOf(key)) && !state.getsTraffic(WorkerAgent.versionOf(key))) {
                    release(w.workerId(), WorkerAgent.versionOf(key), false, "split ended: v"
                            + state.currentVersion() + " serves every request");
                }
            }
        }
        placing.entrySet().removeIf(e -> !state.getsTraffic(e.getValue().version()));
    }

    // ---- placement ----

    private void startPlacement(AdapterState state, String workerId, boolean pin) {
        startPlacement(state, workerId, pin, state.currentVersion());
    }

    private void startPlacement(AdapterState state, String workerId, boolean pin, int version) {
        Placing already = placing.get(workerId);
        if (already != null && already.version() == version && (already.pin() || !pin)) {
            return;
        }
        Optional<WorkerLoad> load = deps.directory().load(workerId);
        if (load.isEmpty()) {
            return;
        }
        placing.put(workerId, new Placing(version, pin, System.nanoTime()));
        if (!load.get().resident().contains(WorkerAgent.adapterKey(name, version))) {
            deps.directory().notePlacing(workerId);
        }
        timers.startSingleTimer("place-" + workerId, new PlacementDone(new WorkerAgent.PlaceResult(workerId,
                load.get().nodeId(), name, version, pin, false, "placement timed out after "
                + deps.placementTimeout().toSeconds() + " s")), deps.placementTimeout());
        load.get().agent().tell(new WorkerAgent.Place(name, version, state.version(version).orElseThrow().digest()
                .hex(), pin, placeReplies));
    }

    private ReplyEffect<AdapterEvent, AdapterState> onPlacementDone(AdapterState state, PlacementDone done) {
        WorkerAgent.PlaceResult r = done.result();
        Placing p = placing.get(r.workerId());
        if (p == null || p.version() != r.version()) {
            return Effect().noReply();    // a late report of a placement given up on
        }
        placing.remove(r.workerId());
        timers.cancel("place-" + r.workerId());
        ClusterMetrics.placed(r.ok(), System.nanoTime() - p.startedNanos());
        if (r.ok() && (state.isRetired() || !state.getsTraffic(r.version()))) {
            release(r.workerId(), r.version(), false, "no longer current");
            return Effect().noReply();
        }
        LifecycleRequest request = r.ok()
                ? new LifecycleRequest.Place(r.workerId(), r.nodeId(), "system:placement", r.version())
                : new LifecycleRequest.ReportLoadFailure(r.workerId(), r.nodeId(), r.version(),
                        String.valueOf(r.error()), "system:placement");
        if (!r.ok()) {
            ctx.getLog().warn("adapter {} v{} could not be placed on {}: {}", name, r.version(), r.workerId(),
                    r.error());
        }
        return persistDecided(state, List.of(request));
    }

    private ReplyEffect<AdapterEvent, AdapterState> onWorkerEvicted(AdapterState state, WorkerEvicted e) {
        Optional<Residency> r = state.residencyOn(e.worker());
        if (r.isEmpty() || r.get().version() != e.version()) {
            return Effect().noReply();
        }
        EvictionReason reason = "lru".equals(e.reason()) ? EvictionReason.LRU : EvictionReason.OPERATOR;
        return persistDecided(state, List.of(new LifecycleRequest.Evict(e.worker(), e.node(), reason,
                "system:worker")));
    }

    private ReplyEffect<AdapterEvent, AdapterState> onNodeLost(AdapterState state, NodeLost lost) {
        List<LifecycleRequest> requests = new ArrayList<>();
        for (String worker : lost.workers()) {
            placing.remove(worker);
            state.residencyOn(worker).ifPresent(r -> requests.add(new LifecycleRequest.Evict(worker, r.node(),
                    EvictionReason.NODE_LOST, "system:failover")));
        }
        return persistDecided(state, requests);
    }

    private ReplyEffect<AdapterEvent, AdapterState> onMaintain(AdapterState state, Maintain m) {
        if (!state.isRegistered()) {
            return Effect().noReply();
        }
        List<LifecycleRequest> requests = new ArrayList<>();
        List<LifecycleRequest> flushed = List.of();
        if (!deferred.isEmpty() && deps.journalOutage().get().isEmpty()) {
            // the journal is back: what was decided while it was down goes first, marked as retried; it stays
            // deferred until written (the journal's circuit breaker may still refuse the first write)
            ctx.getLog().info("adapter {}: the journal answers again; journaling {} deferred event(s)", name,
                    deferred.size());
            flushed = List.copyOf(deferred);
            flushed.forEach(q -> requests.add(retried(q)));
        }
        for (Residency r : state.residents()) {
            Optional<WorkerLoad> load = deps.directory().load(r.worker());
            boolean gone = deps.directory().isGone(r.worker());
            // NOTE: compares the worker's clock with the entity's; nodes are assumed NTP-synced to well under
            // RESTART_MARGIN. A worker restarted within the margin of a placement is caught by its own reports
            // instead (the adapter is simply loaded again on its next request).
            boolean restarted = load.isPresent()
                    && load.get().startedAt() > r.since().toEpochMilli() + RESTART_MARGIN.toMillis();
            if (gone || restarted) {
                ctx.getLog().info("adapter {}: worker {} {}; its residency is lost", name, r.worker(),
                        gone ? "left the cluster" : "restarted since the adapter was placed");
                requests.add(new LifecycleRequest.Evict(r.worker(), r.node(), EvictionReason.NODE_LOST,
                        "system:failover"));
            }
        }
        // A live worker that holds the current version without a journaled placement (a request placed it while
        // this entity was out of reach, or the worker loaded it again after an eviction): journal it.
        if (!state.isRetired()) {
            String key = WorkerAgent.adapterKey(name, state.currentVersion());
            AdapterState known = withDeferred(state);
            for (WorkerLoad w : deps.directory().routable()) {
                Optional<Residency> r = known.residencyOn(w.workerId());
                if ((r.isEmpty() || r.get().version() != state.currentVersion())
                        && !placing.containsKey(w.workerId()) && w.holds(key)) {
                    requests.add(new LifecycleRequest.Place(w.workerId(), w.nodeId(), "system:reconcile"));
                }
            }
        }
        if (requests.isEmpty()) {
            ensurePins(state);
            scheduleMaintenance(state);
            return Effect().noReply();
        }
        return persistDecided(state, requests, flushed);
    }

    /**
     * Persists the events these requests decide to, in order, skipping rejected ones (a report that no longer
     * applies, such as an eviction already recorded); then publishes the state and checks the preload.
     */
    private ReplyEffect<AdapterEvent, AdapterState> persistDecided(AdapterState state,
                                                                    List<LifecycleRequest> requests) {
        return persistDecided(state, requests, List.of());
    }

    /** As above; {@code flushed}: deferred requests among these, no longer deferred once their events are written. */
    private ReplyEffect<AdapterEvent, AdapterState> persistDecided(AdapterState state,
                                                                    List<LifecycleRequest> requests,
                                                                    List<LifecycleRequest> flushed) {
        List<AdapterEvent> events = new ArrayList<>();
        AdapterState s = state;
        for (LifecycleRequest q : requests) {
            Decision d = LifecycleRules.decide(s, q, deps.clock().instant());
            if (d instanceof Decision.Accept a) {
                events.add(a.event());
                s = s.apply(a.event());
            }
        }
        if (events.isEmpty()) {
            deferred.removeAll(flushed); // none of them applies any more
            return Effect().noReply();
        }
        Optional<String> fence = deps.directory().journalFence();
        if (fence.isPresent()) {
            // NOTE: reports and maintenance of a node cut off from the majority (or just resumed from a pause) are
            // dropped, not journaled: the entity's home on the majority side learns the same from the workers and
            // its own maintenance; maintenance here runs again and finds them if this node is still the home.
            ctx.getLog().info("adapter {}: not journaling {} event(s): {}", name, events.size(), fence.get());
            scheduleMaintenance(state);
            return Effect().noReply();
        }
        Optional<String> outage = deps.journalOutage().get();
        if (outage.isPresent()) {
            // (retried copies of deferred requests are not deferred again: their originals still are)
            defer(requests.stream().filter(q -> !q.by().endsWith(RETRIED)).toList());
            ctx.getLog().info("adapter {}: {} ({}); {} event(s) kept to journal once it is back", name, JOURNAL_DOWN,
                    outage.get(), deferred.size());
            scheduleMaintenance(state);
            return Effect().noReply();
        }
        return Effect().persist(events).thenRun(next -> {
            deferred.removeAll(flushed);
            publish(next);
            ensurePins(next);
            scheduleMaintenance(next);
        }).thenNoReply();
    }

    /**
     * Keeps {@code preloadReplicas} live workers holding the current version pinned: pins holders first, then
     * places it on more workers; with no preload, unpins it where it is pinned. Under a split every other version
     * with traffic is kept pinned the same way, so a preloaded adapter's canary is as warm as its baseline.
     */
    private void ensurePins(AdapterState state) {
        if (!state.isRegistered() || state.isRetired()) {
            return;
        }
        Map<String, WorkerLoad> live = new HashMap<>();
        deps.directory().routable().forEach(w -> live.put(w.workerId(), w));
        ensurePins(state, state.currentVersion(), live);
        for (int version : state.trafficWeights().keySet()) {
            if (version != state.currentVersion()) {
                ensurePins(state, version, live);
            }
        }
    }

    private void ensurePins(AdapterState state, int version, Map<String, WorkerLoad> live) {
        String key = WorkerAgent.adapterKey(name, version);
        boolean current = version == state.currentVersion();
        Set<String> holders = holders(state, version);
        Set<String> pinned = new HashSet<>();
        for (String w : live.keySet()) {
            Placing p = placing.get(w);
            if ((holders.contains(w) || !current) && (live.get(w).pinned().contains(key)
                    || (p != null && p.pin() && p.version() == version))) {
                pinned.add(w);
            }
        }
        int wanted = state.preloadReplicas();
        if (wanted == 0) {
            // unpinned: also where a pin is published without a journaled residency (a pin whose load failed on a
            // worker that then dropped the adapter), or the preload call would wait for it forever
            live.values().stream().filter(w -> !pinned.contains(w.workerId()) && w.pinned().contains(key))
                    .map(WorkerLoad::workerId).sorted().forEach(w -> release(w, version, true, "unpinned"));
        }
        if (pinned.size() > wanted) {
            pinned.stream().sorted().skip(wanted).forEach(w -> release(w, version, true, "unpinned"));
            return;
        }
        int missing = wanted - pinned.size();
        List<String> targets = new ArrayList<>();
        for (String h : holders.stream().sorted().toList()) {
            if (missing > 0 && live.containsKey(h) && !pinned.contains(h)) {
                targets.add(h);
                missing--;
            }
        }
        targets.addAll(deps.policy().pinTargets(key, holders, missing, live.values()));
        for (String w : targets) {
            Placing p = placing.get(w);
            // NOTE: one placement per worker at a time; an arm waits for the worker's other placement to end and
            // is pinned on a later maintenance round (maintenance runs while a preload is set)
            if (current || p == null) {
                startPlacement(state, w, true, version);
            }
        }
    }

    private boolean isPinnedOn(String workerId, String key) {
        return deps.directory().load(workerId).map(l -> l.pinned().contains(key)).orElse(false);
    }

    private void release(String workerId, int version, boolean unpinOnly, String reason) {
        deps.directory().load(workerId).ifPresent(l -> l.agent().tell(new WorkerAgent.Release(name, version,
                unpinOnly, reason)));
    }

    /** Maintenance runs while the adapter has residents, placements in flight or a preload; else it may sleep. */
    private void scheduleMaintenance(AdapterState state) {
        boolean needed = state.isRegistered() && (!state.residents().isEmpty() || state.preloadReplicas() > 0
                || !placing.isEmpty() || !deferred.isEmpty());
        if (needed && !timers.isTimerActive(MAINTAIN_TIMER)) {
            timers.startTimerWithFixedDelay(MAINTAIN_TIMER, new Maintain(), deps.maintainInterval());
        } else if (!needed) {
            timers.cancel(MAINTAIN_TIMER);
        }
    }

    /** Keeps {@code requests} to journal later (each once; the oldest dropped past {@link #MAX_DEFERRED}). */
    private void defer(List<LifecycleRequest> requests) {
        for (LifecycleRequest q : requests) {
            if (!deferred.contains(q)) {
                deferred.add(q);
            }
        }
        while (deferred.size() > MAX_DEFERRED) {
            LifecycleRequest dropped = deferred.remove(0);
            ctx.getLog().warn("adapter {}: dropping deferred {} (more than {} kept during the journal outage; "
                    + "maintenance re-derives placements from the workers)", name, dropped, MAX_DEFERRED);
        }
    }

    /** The journaled state with the deferred requests that still apply: what routing and reconciling go by. */
    private AdapterState withDeferred(AdapterState state) {
        AdapterState s = state;
        for (LifecycleRequest q : deferred) {
            if (LifecycleRules.decide(s, q, deps.clock().instant()) instanceof Decision.Accept a) {
                s = s.apply(a.event());
            }
        }
        return s;
    }

    /** {@code q} with its {@code by} marked as retried after an outage (for the audit trail). */
    static LifecycleRequest retried(LifecycleRequest q) {
        if (q instanceof LifecycleRequest.Place p) {
            return new LifecycleRequest.Place(p.worker(), p.node(), p.by() + RETRIED, p.version());
        }
        if (q instanceof LifecycleRequest.Evict e) {
            return new LifecycleRequest.Evict(e.worker(), e.node(), e.reason(), e.by() + RETRIED);
        }
        if (q instanceof LifecycleRequest.ReportLoadFailure f) {
            return new LifecycleRequest.ReportLoadFailure(f.worker(), f.node(), f.version(), f.error(),
                    f.by() + RETRIED);
        }
        return q;
    }

    private void publish(AdapterState state) {
        deps.catalog().put(entry(state));
    }

    private CatalogEntry entry(AdapterState state) {
        return new CatalogEntry(state, lastSequenceNumber(ctx));
    }
}
