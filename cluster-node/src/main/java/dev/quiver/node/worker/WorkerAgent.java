package dev.quiver.node.worker;

import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.worker.EngineError;
import dev.quiver.gpu.worker.EngineListener;
import dev.quiver.gpu.worker.GpuWorker;
import dev.quiver.node.cluster.ClusterMessage;
import dev.quiver.node.cluster.ClusterMetrics;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.blob.AdapterDirectories;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * The cluster's side of one {@link GpuWorker}, on the worker's node: it registers the worker with the
 * Receptionist, publishes the worker's load and resident adapters to every node a few times a second (through a
 * {@link LoadBoard}: the node's worker directory), brings an adapter version's files from the blob store into the node's disk cache before
 * the worker needs them (requests and placements name a version by its digest, never by a path, so any node can
 * serve any adapter), and tells the adapter's entity when the worker evicts it.
 *
 * <p>Requests go to the GpuWorker with the requester's {@code replyTo}, so tokens stream from the worker straight
 * to the edge that asked, not through this actor.
 */
public final class WorkerAgent extends AbstractBehavior<WorkerAgent.Command> {

    /** The Receptionist key every worker agent registers under. */
    public static final ServiceKey<Command> SERVICE_KEY = ServiceKey.create(Command.class, "quiver-worker");

    public sealed interface Command extends ClusterMessage permits Generate, Cancel, Place, Release, Fetched,
            PlaceFetched, Loaded, PublishLoad, StatusRead, Evicted, EvictAttempt, EvictReply, Drain {
    }

    /**
     * Generate for {@code adapter} version {@code version} (content {@code digest}), or the base model when
     * {@code adapter} is null. {@code resumeTokens}: output the client already has (failover), or null.
     */
    public record Generate(String requestId, String adapter, int version, String digest, int[] promptIds,
                           SamplingParams params, int[] resumeTokens, ActorRef<GpuWorker.Event> replyTo)
            implements Command {
        /** The engine's key of the adapter version, or null for the base model. */
        public String key() {
            return adapter == null ? null : adapterKey(adapter, version);
        }
    }

    public record Cancel(String requestId) implements Command {
    }

    /** Load an adapter version into a compute slot ({@code pin}: keep it there) and report the result. */
    public record Place(String adapter, int version, String digest, boolean pin, ActorRef<PlaceResult> replyTo)
            implements Command {
    }

    /** How a placement ended on worker {@code workerId}. */
    public record PlaceResult(String workerId, String nodeId, String adapter, int version, boolean pinned,
                              boolean ok, String error) implements ClusterMessage {
    }

    /**
     * Stop holding an adapter version: {@code unpinOnly} keeps it loaded but lets LRU evict it; otherwise it is
     * evicted as soon as no running request uses it.
     */
    public record Release(String adapter, int version, boolean unpinOnly, String reason) implements Command {
    }

    /**
     * This node is shutting down: from now on the worker's load says {@code draining}, published to every node at
     * once so that routing and placement skip it; requests already sent still run. {@code replyTo} hears once every
     * reachable node has the draining load (or after {@code timeout}).
     */
    public record Drain(Duration timeout, ActorRef<org.apache.pekko.Done> replyTo) implements Command {
    }

    private record Fetched(String digest, Path dir, String error) implements Command {
    }

    private record PlaceFetched(Place place, Path dir, String error) implements Command {
    }

    private record Loaded(Place place, GpuWorker.AdapterLoaded result) implements Command {
    }

    private record PublishLoad() implements Command {
    }

    private record StatusRead(GpuWorker.WorkerStatus status) implements Command {
    }

    private record Evicted(GpuWorker.AdapterEvictedNotice notice) implements Command {
    }

    private record EvictAttempt(String key, int attempt) implements Command {
    }

    private record EvictReply(String key, int attempt, GpuWorker.AdapterEvicted result) implements Command {
    }

    /** Where the agent sends what it learns about adapters: the adapter entities, through sharding. */
    public interface AdapterEvents {
        /** The worker no longer holds {@code adapter} version {@code version} ({@code reason}: lru | operator). */
        void evicted(String adapter, int version, String workerId, String nodeId, String reason);
    }

    /**
     * Where the agent publishes its worker's {@link WorkerLoad} for every node to read: the node's worker directory.
     * NOTE: an interface of the agent's own, so that the worker package does not depend on the directory that
     * reads it.
     */
    public interface LoadBoard {
        /** The worker's current load, spread to the other nodes by gossip. */
        void publish(WorkerLoad load);

        /**
         * {@code load} sent to every reachable node at once, for a change they must act on now (draining).
         * Completes when they all have it or after {@code timeout}; never fails.
         */
        CompletionStage<Void> publishEverywhere(WorkerLoad load, Duration timeout);

        /** The worker's host copies, when the set changed (gossip, like the load). */
        void publishHost(WorkerHostCopies copies);
    }

    /** What the agent is, where it runs and what it talks to. */
    public record Setup(String workerId, String nodeId, String address, ActorRef<GpuWorker.Command> worker,
                        AdapterDirectories files, Executor io, LoadBoard directory, AdapterEvents events,
                        Duration publishInterval, Duration placementTimeout, int maxRunning,
                        boolean hostCopiesApart) {
        /** Host copies published apart from the load (quiver.node.placement.host-copies-apart, the default). */
        public Setup(String workerId, String nodeId, String address, ActorRef<GpuWorker.Command> worker,
                     AdapterDirectories files, Executor io, LoadBoard directory, AdapterEvents events,
                     Duration publishInterval, Duration placementTimeout, int maxRunning) {
            this(workerId, nodeId, address, worker, files, io, directory, events, publishInterval, placementTimeout,
                    maxRunning, true);
        }
    }

    /** The engine's key of adapter {@code name} version {@code version}. */
    public static String adapterKey(String name, int version) {
        return name + "@v" + version;
    }

    /** The adapter name of an engine key, or null when it is not {@code name@vN}. */
    public static String adapterOf(String key) {
        int at = key.lastIndexOf("@v");
        return at > 0 ? key.substring(0, at) : null;
    }

    /** How the message of a request failed because its adapter's files could not be fetched begins. */
    static final String FETCH_FAILED = "cannot fetch adapter ";

    /** Whether {@code err} says the adapter version's files could not be brought from the blob store. */
    public static boolean isFetchFailure(EngineError err) {
        return err.kind() == EngineError.Kind.INTERNAL && err.message() != null
                && err.message().startsWith(FETCH_FAILED);
    }

    /** The version of an engine key, or 0. */
    public static int versionOf(String key) {
        int at = key.lastIndexOf("@v");
        try {
            return at > 0 ? Integer.parseInt(key.substring(at + 2)) : 0;
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    public static Behavior<Command> create(Setup setup) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new WorkerAgent(ctx, timers, setup)));
    }

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(WorkerAgent.class);
    private static final int EVICT_ATTEMPTS = 1200;          // x 100 ms: requests in flight get 2 minutes
    private static final Duration EVICT_RETRY = Duration.ofMillis(100);

    private final Setup setup;
    private final long startedAt = System.currentTimeMillis();
    /** Digest → requests waiting for its files to arrive in the disk cache. */
    private final Map<String, List<Generate>> fetching = new HashMap<>();
    /** Keys to evict once idle, with why. */
    private final Map<String, String> releasing = new HashMap<>();
    private WorkerLoad lastPublished;
    /** The host copies last published (null: none yet). */
    private WorkerHostCopies lastHost;
    /** Set by {@link Drain}: every load published from then on says draining. */
    private boolean draining;

    private WorkerAgent(ActorContext<Command> ctx, TimerScheduler<Command> timers, Setup setup) {
        super(ctx);
        this.setup = setup;
        ctx.getSystem().receptionist().tell(Receptionist.register(SERVICE_KEY, ctx.getSelf()));
        setup.worker().tell(new GpuWorker.SubscribeEvictions(ctx.messageAdapter(GpuWorker.AdapterEvictedNotice.class,
                Evicted::new)));
        timers.startTimerWithFixedDelay(new PublishLoad(), setup.publishInterval());
        ctx.getSelf().tell(new PublishLoad());
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Generate.class, this::onGenerate)
                .onMessage(Fetched.class, this::onFetched)
                .onMessage(Cancel.class, this::onCancel)
                .onMessage(Place.class, this::onPlace)
                .onMessage(PlaceFetched.class, this::onPlaceFetched)
                .onMessage(Loaded.class, this::onLoaded)
                .onMessage(Release.class, this::onRelease)
                .onMessage(EvictAttempt.class, this::onEvictAttempt)
                .onMessage(EvictReply.class, this::onEvictReply)
                .onMessage(Evicted.class, this::onEvicted)
                .onMessage(PublishLoad.class, p -> {
                    setup.worker().tell(new GpuWorker.GetStatus(getContext().messageAdapter(
                            GpuWorker.WorkerStatus.class, StatusRead::new)));
                    return this;
                })
                .onMessage(StatusRead.class, this::onStatus)
                .onMessage(Drain.class, this::onDrain)
                .build();
    }

    // ---- requests ----

    private Behavior<Command> onGenerate(Generate g) {
        if (g.adapter() == null) {
            forward(g, null);
            return this;
        }
        Path cached = setup.files().cachedPath(ContentDigest.parse(g.digest()));
        if (Files.isDirectory(cached)) {
            forward(g, cached);
            return this;
        }
        List<Generate> waiting = fetching.get(g.digest());
        if (waiting != null) {
            waiting.add(g);
            return this;
        }
        waiting = new ArrayList<>();
        waiting.add(g);
        fetching.put(g.digest(), waiting);
        fetch(g.digest(), (dir, err) -> new Fetched(g.digest(), dir, err));
        return this;
    }

    private Behavior<Command> onFetched(Fetched f) {
        List<Generate> waiting = fetching.remove(f.digest());
        if (waiting == null) {
            return this;
        }
        for (Generate g : waiting) {
            if (f.error() == null) {
                forward(g, f.dir());
            } else {
                g.replyTo().tell(new GpuWorker.Failed(g.requestId(), new EngineError(EngineError.Kind.INTERNAL,
                        FETCH_FAILED + "'" + g.adapter() + "' v" + g.version() + " on worker " + setup.workerId()
                                + ": " + f.error(), null, 1)));
            }
        }
        return this;
    }

    private void forward(Generate g, Path dir) {
        setup.worker().tell(new GpuWorker.Generate(g.requestId(), g.key(), dir == null ? null : dir.toString(),
                g.promptIds(), g.params(), g.resumeTokens(), g.replyTo()));
    }

    private Behavior<Command> onCancel(Cancel c) {
        for (List<Generate> waiting : fetching.values()) {
            for (Generate g : List.copyOf(waiting)) {
                if (g.requestId().equals(c.requestId())) {
                    waiting.remove(g);
                    g.replyTo().tell(new GpuWorker.Finished(g.requestId(), EngineListener.FinishReason.CANCELLED,
                            new EngineListener.Usage(g.promptIds().length,
                                    g.resumeTokens() == null ? 0 : g.resumeTokens().length)));
                }
            }
        }
        setup.worker().tell(new GpuWorker.Cancel(c.requestId()));
        return this;
    }

    // ---- placement ----

    private Behavior<Command> onPlace(Place p) {
        releasing.remove(adapterKey(p.adapter(), p.version()));
        Path cached = setup.files().cachedPath(ContentDigest.parse(p.digest()));
        if (Files.isDirectory(cached)) {
            load(p, cached);
        } else {
            fetch(p.digest(), (dir, err) -> new PlaceFetched(p, dir, err));
        }
        return this;
    }

    private Behavior<Command> onPlaceFetched(PlaceFetched f) {
        if (f.error() != null) {
            f.place().replyTo().tell(new PlaceResult(setup.workerId(), setup.nodeId(), f.place().adapter(),
                    f.place().version(), f.place().pin(), false, "cannot fetch the adapter's files: " + f.error()));
        } else {
            load(f.place(), f.dir());
        }
        return this;
    }

    private void load(Place p, Path dir) {
        getContext().ask(GpuWorker.AdapterLoaded.class, setup.worker(), setup.placementTimeout(),
                r -> new GpuWorker.LoadAdapter(adapterKey(p.adapter(), p.version()), dir.toString(), p.pin(), r),
                (r, err) -> new Loaded(p, r != null ? r : new GpuWorker.AdapterLoaded(adapterKey(p.adapter(),
                        p.version()), false, -1, "the worker did not answer: " + err)));
    }

    private Behavior<Command> onLoaded(Loaded l) {
        Place p = l.place();
        p.replyTo().tell(new PlaceResult(setup.workerId(), setup.nodeId(), p.adapter(), p.version(), p.pin(),
                l.result().ok(), l.result().error()));
        getContext().getSelf().tell(new PublishLoad());
        return this;
    }

    private Behavior<Command> onRelease(Release r) {
        String key = adapterKey(r.adapter(), r.version());
        if (r.unpinOnly()) {
            setup.worker().tell(new GpuWorker.UnpinAdapter(key));
            return this;
        }
        releasing.put(key, r.reason());
        getContext().getSelf().tell(new EvictAttempt(key, 0));
        return this;
    }

    private Behavior<Command> onEvictAttempt(EvictAttempt a) {
        if (!releasing.containsKey(a.key())) {
            return this;           // placed again meanwhile
        }
        getContext().ask(GpuWorker.AdapterEvicted.class, setup.worker(), Duration.ofSeconds(30),
                r -> new GpuWorker.EvictAdapter(a.key(), r),
                (r, err) -> new EvictReply(a.key(), a.attempt(), r != null ? r
                        : new GpuWorker.AdapterEvicted(a.key(), false, String.valueOf(err))));
        return this;
    }

    private Behavior<Command> onEvictReply(EvictReply r) {
        if (r.result().evicted()) {
            releasing.remove(r.key());
        } else if (r.attempt() < EVICT_ATTEMPTS && releasing.containsKey(r.key())) {
            getContext().scheduleOnce(EVICT_RETRY, getContext().getSelf(), new EvictAttempt(r.key(), r.attempt() + 1));
        } else {
            getContext().getLog().warn("worker {}: adapter {} could not be evicted ({}): {}", setup.workerId(),
                    r.key(), releasing.remove(r.key()), r.result().reason());
        }
        return this;
    }

    private Behavior<Command> onEvicted(Evicted e) {
        String key = e.notice().adapter();
        String name = adapterOf(key);
        if (name != null) {
            setup.events().evicted(name, versionOf(key), setup.workerId(), setup.nodeId(), e.notice().reason());
        }
        getContext().getSelf().tell(new PublishLoad());
        return this;
    }

    // ---- load publishing ----

    private Behavior<Command> onDrain(Drain d) {
        draining = true;
        log.info("worker {} is draining: routing and placement "
                + "skip it from now on", setup.workerId());
        if (lastPublished == null) {
            // nothing published yet, so no node routes here: the next status read publishes the draining load
            d.replyTo().tell(org.apache.pekko.Done.getInstance());
            return this;
        }
        lastPublished = lastPublished.asDraining(System.currentTimeMillis());
        setup.directory().publishEverywhere(lastPublished, d.timeout())
                .thenRun(() -> d.replyTo().tell(org.apache.pekko.Done.getInstance()));
        return this;
    }

    private Behavior<Command> onStatus(StatusRead r) {
        GpuWorker.WorkerStatus s = r.status();
        var a = s.adapters();
        long now = System.currentTimeMillis();
        // The host copies go apart, and only when the set changed (WorkerHostCopies says why); sorted, so that a
        // change of the cache's LRU order alone is no change.
        List<String> host = a.host().stream().sorted().toList();
        if (setup.hostCopiesApart() && (lastHost == null || !lastHost.keys().equals(host))) {
            lastHost = new WorkerHostCopies(setup.workerId(), host, now);
            setup.directory().publishHost(lastHost);
        }
        WorkerLoad.Cache cache = new WorkerLoad.Cache(setup.hostCopiesApart() ? List.of() : host, a.slotHits(),
                a.hostHits(), a.diskMisses(), a.slotEvictions(), a.hostEvictions(), a.diskToHost().p50Ms(),
                a.hostToSlot().p50Ms());
        WorkerLoad load = new WorkerLoad(setup.workerId(), setup.nodeId(), setup.address(), getContext().getSelf(),
                s.healthy(), s.running(), setup.maxRunning(), s.waiting(), s.maxWaiting(), s.freeSlots(),
                s.maxLoras(), s.resident(), s.pinned(), s.adapterLoad(), s.kvUsage(), cache, startedAt, now, draining);
        // Publish on every change, and at least every 2 s so a reader can tell a live worker from a stale entry.
        if (lastPublished == null || !sameLoad(lastPublished, load)
                || load.updatedAt() - lastPublished.updatedAt() >= 2000) {
            setup.directory().publish(load);
            lastPublished = load;
        }
        return this;
    }

    private static boolean sameLoad(WorkerLoad a, WorkerLoad b) {
        return a.healthy() == b.healthy() && a.draining() == b.draining() && a.running() == b.running() && a.waiting() == b.waiting()
                && a.freeSlots() == b.freeSlots() && a.resident().equals(b.resident())
                && a.pinned().equals(b.pinned()) && a.adapterLoad().equals(b.adapterLoad())
                && a.cache().equals(b.cache());
    }

    // ---- files ----

    private interface FetchReply {
        Command reply(Path dir, String error);
    }

    /**
     * Fetches in flight, by digest: a placement and the request that caused it ask for the same files at the same
     * moment, and both wait for one read of the blob store. Completed on the I/O pool, hence concurrent.
     */
    private final Map<String, CompletableFuture<Path>> inFlight = new java.util.concurrent.ConcurrentHashMap<>();

    /** Brings {@code digest}'s files into the disk cache on the I/O pool (blocking Cassandra reads), once at a time. */
    private void fetch(String digest, FetchReply reply) {
        CompletableFuture<Path> files = inFlight.get(digest);
        if (files == null) {
            // only this actor adds entries, so the check and the put cannot race; the I/O pool removes them
            CompletableFuture<Path> mine = new CompletableFuture<>();
            inFlight.put(digest, mine);
            long started = System.nanoTime();
            CompletableFuture.supplyAsync(() -> {
                try {
                    return setup.files().fetch(ContentDigest.parse(digest));
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, setup.io()).whenComplete((dir, err) -> {
                inFlight.remove(digest, mine);
                ClusterMetrics.fetched(err == null, System.nanoTime() - started);
                if (err == null) {
                    mine.complete(dir);
                } else {
                    mine.completeExceptionally(err);
                }
            });
            files = mine;
        }
        getContext().pipeToSelf(files, (dir, err) -> reply.reply(dir, err == null ? null : rootMessage(err)));
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null && (t instanceof java.util.concurrent.CompletionException
                || t instanceof java.io.UncheckedIOException)) {
            t = t.getCause();
        }
        return t.getMessage();
    }
}
