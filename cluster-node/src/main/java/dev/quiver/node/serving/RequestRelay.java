package dev.quiver.node.serving;

import dev.quiver.edge.api.GenerationListener;
import dev.quiver.edge.api.Served;
import dev.quiver.node.rollout.SplitChooser;
import dev.quiver.persistence.state.AdapterState;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.gpu.worker.EngineError;
import dev.quiver.gpu.worker.GpuWorker;
import dev.quiver.node.catalog.AdapterCatalog;
import dev.quiver.node.catalog.CatalogEntry;
import dev.quiver.node.cluster.ClusterMetrics;
import dev.quiver.node.directory.WorkerDirectory;
import dev.quiver.node.worker.WorkerLoad;
import dev.quiver.node.entity.AdapterEntity;
import dev.quiver.node.placement.PlacementPolicy;
import dev.quiver.node.worker.WorkerAgent;
import dev.quiver.edge.api.Generation;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.apache.pekko.cluster.typed.Unsubscribe;

/**
 * The edge's side of one generation, on the node that holds the client's connection (one actor per request). It
 * asks the adapter's entity for a worker (the base model needs no entity: the local directory picks one), sends
 * the request to that worker's agent with itself as {@code replyTo}, and relays the worker's events to the edge's
 * {@link GenerationListener}.
 *
 * <p>A request for an adapter that a live worker already holds is routed from this node's replicated catalog and
 * worker directory, with no round trip; only a request that needs a placement (or a replica) asks the entity,
 * and if the entity cannot be reached in time (its node died and its shard has not moved yet) the relay places the
 * request from its own view rather than wait.
 *
 * <p>Failover: the relay watches the worker's agent and follows the cluster's reachability. When the agent's node
 * becomes unreachable (the failure detector's {@code UnreachableMember}, seconds before the split-brain resolver
 * downs and removes it), is removed, or the worker fails the request as retriable (stopping, an internal error),
 * the relay cancels the attempt, asks for another worker, never the same one, and sends the request again with the
 * tokens the client already has as {@code resumeTokens}; the engine continues exactly where the first one stopped
 * (counter-based sampling), so the client sees no duplicated and no lost token. Each attempt has its own engine
 * request id, so late events of an earlier attempt are dropped: a node that was only suspected and comes back
 * reachable does no harm (its tokens are ignored, and the cancel reaches it once it is reachable again).
 *
 * <p>While any member is unreachable, an ask of an adapter's entity is bounded by
 * {@code quiver.node.routing.unreachable-route-timeout} instead of {@code route-timeout}: the entity's shard may
 * live on the unreachable node, where the ask would only be lost, and the relay's own placement is the better
 * answer (the entity journals it when it runs again). A request that finds no worker before
 * {@code quiver.node.routing.deadline} fails with a retriable error. A request refused as overloaded before its first token fails at once (backpressure), with the hint.
 *
 * <p>When this actor stops early (the client went away), the worker's death watch on the requester cancels the
 * request and frees its KV blocks; {@link CancelRequest} cancels it explicitly.
 */
public final class RequestRelay extends AbstractBehavior<Object> {
    // NOTE: the message type is Object because the worker's GpuWorker.Event arrives directly (this actor is the
    // request's replyTo, so the worker's death watch on the requester sees it) beside the relay's own commands.

    /** The client went away: cancel in the engine and wait for its Finished(cancelled). */
    public record CancelRequest() {
    }

    private record Routed(AdapterEntity.RouteReply reply, Throwable error) {
    }

    /** An entity's answer, with when the ask was sent (for its latency). */
    private record Asked(AdapterEntity.RouteReply reply, Throwable error, long sentNanos) {
    }

    private record WorkerGone(String workerId, int attempt) {
    }

    private record Retry() {
    }

    /** A member became unreachable (this node's failure detector, or gossip from the others). */
    private record MemberUnreachable(ClusterEvent.UnreachableMember event) {
    }

    private record DeadlinePassed() {
    }

    /** Attempt {@code attempt} had no output within the load timeout while its adapter version was loading. */
    private record LoadTimedOut(int attempt) {
    }

    /**
     * How the relay reaches the cluster, the base model's served name and content digest (for the fingerprint of
     * requests it serves), and how long a worker may take to load an adapter version it does not hold
     * ({@code loadTimeout}, {@code quiver.node.routing.load-timeout}).
     */
    public record Setup(WorkerDirectory directory, AdapterCatalog catalog, PlacementPolicy policy,
                        java.util.function.Function<String, EntityRef<AdapterEntity.Command>> entities,
                        Duration routeTimeout, Duration retryBackoff, Duration deadline, String baseModel,
                        String baseDigest, Duration loadTimeout, Duration unreachableRouteTimeout) {
        /** The default bound of an entity ask while a member is unreachable. */
        public static final Duration DEFAULT_UNREACHABLE_ROUTE_TIMEOUT = Duration.ofMillis(500);

        /** With {@link #DEFAULT_UNREACHABLE_ROUTE_TIMEOUT} (or {@code routeTimeout} when that is shorter). */
        public Setup(WorkerDirectory directory, AdapterCatalog catalog, PlacementPolicy policy,
                     java.util.function.Function<String, EntityRef<AdapterEntity.Command>> entities,
                     Duration routeTimeout, Duration retryBackoff, Duration deadline, String baseModel,
                     String baseDigest, Duration loadTimeout) {
            this(directory, catalog, policy, entities, routeTimeout, retryBackoff, deadline, baseModel, baseDigest,
                    loadTimeout, min(routeTimeout, DEFAULT_UNREACHABLE_ROUTE_TIMEOUT));
        }

        /** With the default load timeout and unreachable route timeout. */
        public Setup(WorkerDirectory directory, AdapterCatalog catalog, PlacementPolicy policy,
                     java.util.function.Function<String, EntityRef<AdapterEntity.Command>> entities,
                     Duration routeTimeout, Duration retryBackoff, Duration deadline, String baseModel,
                     String baseDigest) {
            this(directory, catalog, policy, entities, routeTimeout, retryBackoff, deadline, baseModel, baseDigest,
                    dev.quiver.node.NodeSettings.DEFAULT_LOAD_TIMEOUT);
        }

        public Setup(WorkerDirectory directory, AdapterCatalog catalog, PlacementPolicy policy,
                     java.util.function.Function<String, EntityRef<AdapterEntity.Command>> entities,
                     Duration routeTimeout, Duration retryBackoff, Duration deadline) {
            this(directory, catalog, policy, entities, routeTimeout, retryBackoff, deadline, "base", null);
        }

        private static Duration min(Duration a, Duration b) {
            return a.compareTo(b) <= 0 ? a : b;
        }
    }

    public static Behavior<Object> create(Generation generation, boolean baseModel, GenerationListener listener,
                                          Setup setup) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
                new RequestRelay(ctx, timers, generation, baseModel, listener, setup)));
    }

    private static final String DEADLINE = "deadline";
    private static final String LOAD_TIMEOUT = "load-timeout";
    /** The entity's route timeout while the journal is down (see {@link #entityRouteTimeout}). */
    static final Duration OUTAGE_ROUTE_TIMEOUT = Duration.ofMillis(500);

    private final TimerScheduler<Object> timers;
    private final Generation generation;
    /** Whether the base model serves: asked for, or standing in for an adapter that could not be loaded. */
    private boolean baseModel;
    /** The adapter version this request is pinned to once first sent (0 before): a resume stays on it. */
    private int pinnedVersion;
    /** On a fallback: the adapter version that could not be loaded ({@code name@vN}) and why. */
    private String fallbackFrom;
    private String fallbackReason;
    /** An Accepted not yet told to the listener (an adapter attempt that may still fall back), or -1. */
    private int heldAccept = -1;
    private final GenerationListener listener;
    private final Setup setup;
    private final List<Integer> delivered = new ArrayList<>();
    private final Set<String> excluded = new LinkedHashSet<>();
    private int attempt;
    private String attemptId;
    private String workerId;
    private ActorRef<WorkerAgent.Command> agent;
    private boolean accepted;
    private boolean cancelled;
    private boolean promptLogprobsSent;
    private int promptTokens;
    private ServiceError lastError;
    /** Whether an earlier attempt already went to a worker (so this one resumes the request). */
    private boolean sentBefore;
    /** The adapter key of the current attempt, counted in the directory until the attempt ends. */
    private String routedKey;
    /** The cluster address (unique, as text) of the current attempt's worker when it is on another node, else null. */
    private String workerAddress;
    /** Whether this relay follows the cluster's reachability events (from its first remote attempt on). */
    private boolean followingReachability;
    /**
     * Members this relay was told are unreachable (and not reachable again since). NOTE: the events can arrive
     * before {@code Cluster.state()} shows them (that view is updated by its own subscriber), so routing reads both.
     */
    private final Set<String> suspected = new java.util.HashSet<>();

    private RequestRelay(ActorContext<Object> ctx, TimerScheduler<Object> timers, Generation generation,
                         boolean baseModel, GenerationListener listener, Setup setup) {
        super(ctx);
        this.timers = timers;
        this.generation = generation;
        this.baseModel = baseModel;
        this.listener = listener;
        this.setup = setup;
        this.promptTokens = generation.promptIds().length;
        route();
    }

    /** The current attempt no longer occupies its worker (as far as this node's directory counts it). */
    private void releaseAttempt() {
        if (workerId != null) {
            setup.directory().noteDone(workerId, routedKey);
            workerId = null;
        }
        workerAddress = null;
    }

    /**
     * The member {@code m} is unreachable: if the current attempt runs on it, resume the request elsewhere now
     * rather than wait for the node's removal (the split-brain resolver's {@code stable-after} later).
     */
    private Behavior<Object> onUnreachable(org.apache.pekko.cluster.Member m) {
        if (agent == null || workerAddress == null || !workerAddress.equals(m.uniqueAddress().toString())) {
            return this;
        }
        if (cancelled) {
            // the client went away and the worker cannot confirm the cancel: nothing is left to wait for
            listener.onFinished("cancelled", promptTokens, delivered.size());
            return Behaviors.stopped();
        }
        ClusterMetrics.resumedOnUnreachable();
        getContext().getLog().info("request {}: the node of worker {} ({}) is unreachable after {} tokens; resuming "
                + "elsewhere", generation.requestId(), workerId, m.address(), delivered.size());
        return retryElsewhere(new ServiceError(ServiceError.Kind.UNAVAILABLE, "the node of the worker serving this "
                + "request became unreachable", null, 1));
    }

    /** Whether this node sees any member of the cluster as unreachable now. */
    private boolean anyUnreachable() {
        return !unreachableAddresses().isEmpty();
    }

    /** The unique addresses (as text) of the members unreachable now: the cluster's view and this relay's events. */
    private Set<String> unreachableAddresses() {
        Set<String> out = new java.util.HashSet<>(suspected);
        Cluster.get(getContext().getSystem()).state().getUnreachable().forEach(m ->
                out.add(m.uniqueAddress().toString()));
        return out;
    }

    @Override
    public Receive<Object> createReceive() {
        return newReceiveBuilder()
                .onSignal(org.apache.pekko.actor.typed.PostStop.class, s -> {
                    releaseAttempt();
                    if (followingReachability) {
                        Cluster.get(getContext().getSystem()).subscriptions().tell(Unsubscribe.apply(
                                getContext().getSelf().narrow()));
                    }
                    return this;
                })
                .onMessage(ClusterEvent.UnreachableMember.class, u -> {
                    suspected.add(u.member().uniqueAddress().toString());
                    return onUnreachable(u.member());
                })
                .onMessage(ClusterEvent.ReachableMember.class, r -> {
                    suspected.remove(r.member().uniqueAddress().toString());
                    return this;
                })
                .onMessage(GpuWorker.Event.class, this::onEvent)
                .onMessage(Routed.class, this::onRouted)
                .onMessage(Asked.class, a -> {
                    ClusterMetrics.entityAsked(a.error() == null, System.nanoTime() - a.sentNanos());
                    return onRouted(new Routed(a.reply(), a.error()));
                })
                .onMessage(WorkerGone.class, g -> {
                    if (g.attempt() == attempt && agent != null && cancelled) {
                        listener.onFinished("cancelled", promptTokens, delivered.size());
                        return Behaviors.stopped();
                    }
                    if (g.attempt() == attempt && agent != null) {
                        getContext().getLog().info("request {}: worker {} is gone after {} tokens; resuming elsewhere",
                                generation.requestId(), g.workerId(), delivered.size());
                        return retryElsewhere(new ServiceError(ServiceError.Kind.UNAVAILABLE, "the worker serving "
                                + "this request stopped", null, 1));
                    }
                    return this;
                })
                .onMessage(LoadTimedOut.class, this::onLoadTimedOut)
                .onMessage(Retry.class, r -> {
                    route();
                    return this;
                })
                .onMessage(DeadlinePassed.class, d -> {
                    ClusterMetrics.deadlineExceeded();
                    ServiceError last = lastError;
                    if (agent != null) {
                        agent.tell(new WorkerAgent.Cancel(attemptId));
                    }
                    listener.onFailed(new ServiceError(ServiceError.Kind.UNAVAILABLE, "the request could not be "
                            + "served within " + setup.deadline().toSeconds() + " s"
                            + (last == null ? "" : " (" + last.message() + ")") + "; retry", null, 1));
                    return Behaviors.stopped();
                })
                .onMessage(CancelRequest.class, c -> {
                    cancelled = true;
                    if (agent == null) {
                        listener.onFinished("cancelled", promptTokens, delivered.size());
                        return Behaviors.stopped();
                    }
                    agent.tell(new WorkerAgent.Cancel(attemptId));
                    return this;
                })
                .build();
    }

    // ---- routing ----

    private void route() {
        if (!timers.isTimerActive(DEADLINE)) {
            // the deadline bounds the time without a worker serving the request, not a long generation
            timers.startSingleTimer(DEADLINE, new DeadlinePassed(), setup.deadline());
        }
        attempt++;
        attemptId = attempt == 1 ? generation.requestId() : generation.requestId() + "#" + attempt;
        agent = null;
        if (baseModel) {
            List<WorkerLoad> live = setup.directory().routable();
            PlacementPolicy.Decision d = setup.policy().routeBase(excluded, live);
            if (d instanceof PlacementPolicy.Route r) {
                WorkerLoad w = live.stream().filter(l -> l.workerId().equals(r.workerId())).findFirst().orElseThrow();
                ClusterMetrics.routed(fallbackFrom != null ? "base_fallback" : "base");
                send(w.workerId(), w.agent(), null, 0, null);
                return;
            }
            onRouted(new Routed(d instanceof PlacementPolicy.Overloaded o
                    ? new AdapterEntity.NotRouted(AdapterEntity.NotRouted.Reason.OVERLOADED,
                            "the cluster is saturated: " + o.reason() + "; retry later", o.retryAfterSeconds())
                    : new AdapterEntity.NotRouted(AdapterEntity.NotRouted.Reason.UNAVAILABLE,
                            d instanceof PlacementPolicy.NoWorker n ? n.reason() : "no worker", 1), null));
            return;
        }
        // A worker that holds the adapter's current version (persisted, live, with room): routed from this node's
        // catalog and directory, with no round trip. Anything that changes placement asks the adapter's entity.
        Optional<PlacementPolicy.Route> local = localRoute(false);
        if (local.isPresent()) {
            ClusterMetrics.routed("resident");
            sendLocal(local.get());
            return;
        }
        if (heldOnlyByUnreachable()) {
            // The adapter's workers are on unreachable members (a failover): its entity may well be there too, and
            // an ask would only wait out its bound; the relay places it now (the entity journals it later).
            Optional<PlacementPolicy.Route> now = localRoute(true);
            if (now.isPresent()) {
                getContext().getLog().info("request {}: adapter {} is held only on unreachable nodes; placing it on {}"
                        + " from this node's view", generation.requestId(), generation.model(), now.get().workerId());
                ClusterMetrics.routed("fallback");
                sendLocal(now.get());
                return;
            }
        }
        List<String> exclude = List.copyOf(excluded);
        int pinned = pinnedVersion;
        // NOTE: with a member unreachable, the entity's shard may be on it: sharding sends the ask there, where it is
        // lost, until the member is downed and the shard moves (stable-after and more later). The short bound lets
        // the relay place the request itself (onRouted's fallback) within a fraction of a second instead.
        askTimeout = anyUnreachable() ? setup.unreachableRouteTimeout() : entityRouteTimeout();
        long sent = System.nanoTime();
        getContext().pipeToSelf(setup.entities().apply(generation.model()).<AdapterEntity.RouteReply>ask(
                replyTo -> new AdapterEntity.Route(attemptId, exclude, replyTo, pinned, generation.splitKey()),
                askTimeout), (reply, error) -> new Asked(reply, error, sent));
    }

    /**
     * How long to wait for the adapter's entity. While this node's journal probe reports the journal down, an entity
     * that is not running (passivated, or restarting after a journal failure) cannot recover to answer: the request
     * is placed from this node's view (see {@link #onRouted}) after {@link #OUTAGE_ROUTE_TIMEOUT}, not the full
     * route timeout; a running entity answers well within it.
     */
    private Duration entityRouteTimeout() {
        return dev.quiver.node.ops.NodeHealth.get(getContext().getSystem()).journalOutage().isPresent()
                && setup.routeTimeout().compareTo(OUTAGE_ROUTE_TIMEOUT) > 0 ? OUTAGE_ROUTE_TIMEOUT
                : setup.routeTimeout();
    }

    /**
     * Whether the journaled holders of the version this request gets are all on members this node sees as
     * unreachable (at least one of them).
     */
    private boolean heldOnlyByUnreachable() {
        Set<String> down = unreachableAddresses();
        if (down.isEmpty()) {
            return false;
        }
        Optional<CatalogEntry> entry = setup.catalog().get(generation.model()).filter(CatalogEntry::active);
        if (entry.isEmpty()) {
            return false;
        }
        List<String> holders = entry.get().holders(versionFor(entry.get()));
        return !holders.isEmpty() && holders.stream().allMatch(w -> setup.directory().load(w)
                .map(l -> down.contains(l.address())).orElse(false));
    }

    /** The bound of the last entity ask (for the log). */
    private Duration askTimeout;

    /**
     * The version this request gets from {@code entry}: the one it is pinned to, else the split's choice by the
     * request's sticky key (the current version when there is no split).
     */
    private int versionFor(CatalogEntry entry) {
        if (pinnedVersion > 0 && entry.state().version(pinnedVersion).isPresent()) {
            return pinnedVersion;
        }
        return SplitChooser.choose(entry.state(), generation.splitKey());
    }

    /**
     * The policy's answer from local state: only a resident hit, or (with {@code anyPlacement}, when the entity
     * cannot be reached) also a placement, which the worker then loads on demand.
     */
    private Optional<PlacementPolicy.Route> localRoute(boolean anyPlacement) {
        Optional<CatalogEntry> entry = setup.catalog().get(generation.model()).filter(CatalogEntry::active);
        if (entry.isEmpty()) {
            return Optional.empty();
        }
        int version = versionFor(entry.get());
        String key = WorkerAgent.adapterKey(generation.model(), version);
        List<WorkerLoad> live = setup.directory().routable();
        List<String> holders = new ArrayList<>(entry.get().holders(version));
        // Also what the live workers publish as held (in a slot or host memory): the journal keeps one version per
        // worker (a split's other versions), and a worker that loaded the adapter while its entity was out of reach
        // (a relay's own placement during a failover) is journaled only when the entity runs again.
        live.stream().filter(w -> !holders.contains(w.workerId()) && w.holds(key))
                .forEach(w -> holders.add(w.workerId()));
        PlacementPolicy.Decision d = setup.policy().route(key, holders, excluded, live);
        return d instanceof PlacementPolicy.Route r && (anyPlacement || r.outcome() == PlacementPolicy.Outcome.RESIDENT)
                ? Optional.of(r) : Optional.empty();
    }

    private void sendLocal(PlacementPolicy.Route r) {
        CatalogEntry e = setup.catalog().get(generation.model()).orElseThrow();
        WorkerLoad w = setup.directory().load(r.workerId()).orElseThrow();
        int version = versionFor(e);
        send(w.workerId(), w.agent(), generation.model(), version, e.state().version(version).orElseThrow().digest()
                .hex());
    }

    private Behavior<Object> onRouted(Routed r) {
        if (cancelled) {
            listener.onFinished("cancelled", promptTokens, delivered.size());
            return Behaviors.stopped();
        }
        if (r.error() != null) {
            // The entity's node may have died (sharding restarts it elsewhere once the node is downed). Meanwhile
            // the request need not wait: place it from local state; the entity journals the placement later, when
            // its maintenance finds the adapter on the worker.
            Optional<PlacementPolicy.Route> fallback = localRoute(true);
            if (fallback.isPresent()) {
                getContext().getLog().info("request {}: the entity of adapter {} did not answer in {}; placing it on "
                        + "{} from this node's view", generation.requestId(), generation.model(),
                        askTimeout, fallback.get().workerId());
                ClusterMetrics.routed("fallback");
                sendLocal(fallback.get());
                return this;
            }
            return retryLater(new ServiceError(ServiceError.Kind.UNAVAILABLE, "the adapter's entity did not "
                    + "answer: " + r.error().getMessage(), null, 1));
        }
        if (r.reply() instanceof AdapterEntity.Routed ok) {
            send(ok.workerId(), ok.agent(), generation.model(), ok.version(), ok.digest());
            return this;
        }
        AdapterEntity.NotRouted no = (AdapterEntity.NotRouted) r.reply();
        return switch (no.reason()) {
            case NOT_FOUND -> fail(ServiceError.notFound("model", "The model '" + generation.model()
                    + "' does not exist or you do not have access to it."));
            case OVERLOADED -> delivered.isEmpty() && !accepted
                    ? fail(new ServiceError(ServiceError.Kind.OVERLOADED, no.message(), null,
                            Math.max(1, no.retryAfterSeconds())))
                    : retryLater(new ServiceError(ServiceError.Kind.OVERLOADED, no.message(), null,
                            no.retryAfterSeconds()));
            case UNAVAILABLE -> allWorkersTried()
                    ? fail(lastError != null ? lastError : new ServiceError(ServiceError.Kind.UNAVAILABLE,
                            no.message(), null, 1))
                    : retryLater(new ServiceError(ServiceError.Kind.UNAVAILABLE, no.message(), null,
                            Math.max(1, no.retryAfterSeconds())));
        };
    }

    private void send(String worker, ActorRef<WorkerAgent.Command> target, String adapter, int version,
                      String digest) {
        if (sentBefore) {
            ClusterMetrics.resumed();
        }
        sentBefore = true;
        if (adapter != null) {
            pinnedVersion = version;
            listener.onServed(Served.adapter(adapter, version, digest, setup.baseModel(), worker));
        } else if (fallbackFrom != null) {
            listener.onServed(Served.fallback(setup.baseModel(), setup.baseDigest(), worker, fallbackFrom,
                    fallbackReason));
        } else {
            listener.onServed(Served.base(setup.baseModel(), setup.baseDigest(), worker));
        }
        workerId = worker;
        agent = target;
        routedKey = adapter == null ? null : WorkerAgent.adapterKey(adapter, version);
        setup.directory().noteRouted(worker, routedKey);
        timers.cancel(LOAD_TIMEOUT);
        if (routedKey != null && setup.directory().load(worker).map(l -> !l.resident().contains(routedKey))
                .orElse(true)) {
            // the worker has to fetch and load the version first; its first output says the load is done
            timers.startSingleTimer(LOAD_TIMEOUT, new LoadTimedOut(attempt), setup.loadTimeout());
        }
        getContext().watchWith(target, new WorkerGone(worker, attempt));
        workerAddress = remoteAddress(worker, target);
        if (workerAddress != null && !followingReachability) {
            // NOTE: subscribed per relay, and only once a worker on another node serves it: the initial state
            // arrives as events too, so a member that became unreachable between the routing and now is noticed.
            followingReachability = true;
            Cluster.get(getContext().getSystem()).subscriptions().tell(Subscribe.create(
                    getContext().getSelf().narrow(), ClusterEvent.ReachabilityEvent.class));
        }
        int[] resume = delivered.isEmpty() ? null : delivered.stream().mapToInt(Integer::intValue).toArray();
        target.tell(new WorkerAgent.Generate(attemptId, adapter, version, digest, generation.promptIds(),
                generation.params(), resume, getContext().getSelf().narrow()));
    }

    // ---- events ----

    private Behavior<Object> onEvent(GpuWorker.Event e) {
        if (!e.requestId().equals(attemptId)) {
            return this;       // a late event of an earlier attempt
        }
        if (!(e instanceof GpuWorker.Accepted)) {
            timers.cancel(LOAD_TIMEOUT);   // output or an end: the version loaded, or failed in its own words
        }
        if (e instanceof GpuWorker.Accepted a) {
            timers.cancel(DEADLINE);
            if (!accepted) {
                if (!baseModel && fallbackWanted()) {
                    // the engine accepts before it loads the adapter: the client hears of it (a stream's headers
                    // and first chunk, naming the version) only with the first output, so a version that then
                    // fails to load can still be replaced by the base model without anything sent in its name
                    heldAccept = a.promptTokens();
                } else {
                    tellAccepted(a.promptTokens());
                }
            }
        } else if (e instanceof GpuWorker.Tokens t) {
            releaseHeldAccept();
            for (int id : t.tokenIds()) {
                delivered.add(id);
            }
            listener.onTokens(t.tokenIds(), t.text(), t.logprobs().stream().map(lp ->
                    new GenerationListener.TokenLogprob(lp.tokenId(), lp.logprob(), lp.topIds(), lp.topLogprobs()))
                    .toList());
        } else if (e instanceof GpuWorker.PromptLogprobs pl) {
            releaseHeldAccept();
            if (!promptLogprobsSent) { // a worker that takes over after a failover scores the prompt again
                promptLogprobsSent = true;
                listener.onPromptLogprobs(pl.logprobs().stream().map(lp ->
                        new GenerationListener.TokenLogprob(lp.tokenId(), lp.logprob(), lp.topIds(), lp.topLogprobs()))
                        .toList());
            }
        } else if (e instanceof GpuWorker.Finished f) {
            releaseHeldAccept();
            listener.onFinished(f.reason().wire(), f.usage().promptTokens(), f.usage().completionTokens());
            return Behaviors.stopped();
        } else if (e instanceof GpuWorker.Failed f) {
            EngineError err = f.error();
            if (!baseModel && !cancelled && loadFailure(err)) {
                reportLoadFailure(err);
                if (delivered.isEmpty() && !accepted && fallbackWanted()) {
                    return fallBack(err);
                }
            }
            if (!cancelled && resumable(err)) {
                return retryElsewhere(toServiceError(err));
            }
            return fail(toServiceError(err));
        }
        return this;
    }

    /**
     * Failures another worker may not have: the worker is stopping or failed inside. An overloaded worker is
     * also tried elsewhere once the request has started streaming (the client is already waiting on it).
     */
    private boolean resumable(EngineError err) {
        return err.kind() == EngineError.Kind.SHUTTING_DOWN || err.kind() == EngineError.Kind.INTERNAL
                || (err.kind() == EngineError.Kind.OVERLOADED && accepted);
    }

    private void tellAccepted(int prompt) {
        accepted = true;
        heldAccept = -1;
        promptTokens = prompt;
        listener.onAccepted(prompt);
    }

    private void releaseHeldAccept() {
        if (heldAccept >= 0 && !accepted) {
            tellAccepted(heldAccept);
        }
    }

    /** The adapter version could not be loaded on the worker: its files were refused or could not be fetched. */
    private static boolean loadFailure(EngineError err) {
        return err.kind() == EngineError.Kind.ADAPTER_REFUSED || WorkerAgent.isFetchFailure(err);
    }

    /** The request or its adapter opted into the base model standing in when the adapter cannot be loaded. */
    private boolean fallbackWanted() {
        return generation.fallbackToBase() || setup.catalog().get(generation.model())
                .map(e -> AdapterState.FALLBACK_BASE.equals(e.state().fallback())).orElse(false);
    }

    /** Tells the adapter's entity, which journals {@code LoadFailed}. */
    private void reportLoadFailure(EngineError err) {
        if (workerId == null || generation.model() == null) {
            return;
        }
        String node = setup.directory().load(workerId).map(WorkerLoad::nodeId).orElse("unknown");
        setup.entities().apply(generation.model()).tell(new AdapterEntity.LoadFailedReport(workerId, node,
                pinnedVersion, err.message()));
    }

    /** Serves the request with the base model instead, marked, never silently. */
    private Behavior<Object> fallBack(EngineError err) {
        getContext().getLog().warn("request {}: adapter {} v{} could not be loaded on {} ({}); the base model serves "
                + "it (fallback)", generation.requestId(), generation.model(), pinnedVersion, workerId, err.message());
        fallbackFrom = generation.model() + "@v" + pinnedVersion;
        fallbackReason = err.message();
        heldAccept = -1;
        if (agent != null) {
            getContext().unwatch(agent);
        }
        releaseAttempt();
        agent = null;
        baseModel = true;
        excluded.clear();
        route();
        return this;
    }

    /**
     * The worker did not bring the adapter version into a slot within the load timeout (a stalled blob fetch, a
     * load that hangs): journaled as a load failure; the base model serves a request that opted into it, any other
     * request is tried on another worker (and fails with a retriable 503 once every worker was tried).
     */
    private Behavior<Object> onLoadTimedOut(LoadTimedOut t) {
        if (t.attempt() != attempt || agent == null || cancelled || !delivered.isEmpty()) {
            return this;
        }
        EngineError err = new EngineError(EngineError.Kind.INTERNAL, "adapter '" + generation.model() + "' v"
                + pinnedVersion + " did not load on worker " + workerId + " within "
                + setup.loadTimeout().toMillis() / 1000.0 + " s (quiver.node.routing.load-timeout)", null, 1);
        reportLoadFailure(err);
        if (!accepted && fallbackWanted()) {
            agent.tell(new WorkerAgent.Cancel(attemptId));
            return fallBack(err);
        }
        return retryElsewhere(new ServiceError(ServiceError.Kind.UNAVAILABLE, err.message() + "; retry", null, 1));
    }

    /** The unique cluster address of {@code worker}'s node when it is not this node, else null. */
    private String remoteAddress(String worker, ActorRef<WorkerAgent.Command> target) {
        if (!target.path().address().hasGlobalScope()) {
            return null;
        }
        return setup.directory().load(worker).map(WorkerLoad::address).orElse(null);
    }

    private Behavior<Object> retryElsewhere(ServiceError why) {
        if (agent != null) {
            getContext().unwatch(agent);
            agent.tell(new WorkerAgent.Cancel(attemptId));
            excluded.add(workerId);
        }
        releaseAttempt();
        agent = null;
        lastError = why;
        route();
        return this;
    }

    /**
     * Whether this request already failed on every worker the cluster knows of (a single node whose worker is
     * stopping, say): waiting for the deadline would not help.
     */
    private boolean allWorkersTried() {
        return !excluded.isEmpty() && excluded.containsAll(setup.directory().loads().keySet());
    }

    private Behavior<Object> retryLater(ServiceError why) {
        lastError = why;
        timers.startSingleTimer(new Retry(), setup.retryBackoff());
        return this;
    }

    private Behavior<Object> fail(ServiceError e) {
        listener.onFailed(e);
        return Behaviors.stopped();
    }

    /** The engine's typed errors in the edge's terms (one to one). */
    static ServiceError toServiceError(EngineError e) {
        ServiceError.Kind kind = switch (e.kind()) {
            case INVALID_REQUEST -> ServiceError.Kind.INVALID_REQUEST;
            case CONTEXT_LENGTH_EXCEEDED -> ServiceError.Kind.CONTEXT_LENGTH_EXCEEDED;
            case UNKNOWN_ADAPTER -> ServiceError.Kind.NOT_FOUND;
            case ADAPTER_REFUSED -> ServiceError.Kind.ADAPTER_REFUSED;
            case OVERLOADED -> ServiceError.Kind.OVERLOADED;
            case SHUTTING_DOWN -> ServiceError.Kind.UNAVAILABLE;
            case INTERNAL -> ServiceError.Kind.INTERNAL;
        };
        return new ServiceError(kind, e.message(), e.param(), e.retryAfterSeconds());
    }
}
