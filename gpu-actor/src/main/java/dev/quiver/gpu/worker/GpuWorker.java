package dev.quiver.gpu.worker;

import dev.quiver.gpu.cache.AdapterCache;
import dev.quiver.gpu.sampling.SamplingParams;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * One GPU (or one CPU-backend) worker: owns an {@link Engine}, whose loop thread holds the compute context, the
 * base weights, the adapter slots and the batch queue; this actor is its mailbox. Requests stream their events
 * straight from the engine thread to the request's {@code replyTo}. A requester that stops (its client went
 * away) has its requests cancelled, freeing their KV blocks.
 */
public final class GpuWorker extends AbstractBehavior<GpuWorker.Command> {

    /** Messages the worker accepts. */
    public sealed interface Command extends WorkerMessage permits Generate, Cancel, LoadAdapter, EvictAdapter, UnpinAdapter,
            GetStatus, SubscribeEvictions, SubscriberGone, RequesterGone, RequestDone, AdapterEvictedInEngine {
    }

    /**
     * Generate tokens for a prompt. {@code adapter} is the adapter key (e.g. {@code name@3}) or null for the base
     * model; {@code adapterDir} is its local directory when the worker may not know it yet. {@code resumeTokens}
     * (null or empty for a fresh request) are the output tokens the client already received from a worker that
     * died: this worker continues exactly where that one stopped and streams only the continuation.
     */
    public record Generate(String requestId, String adapter, String adapterDir, int[] promptIds, SamplingParams params,
                           int[] resumeTokens, ActorRef<Event> replyTo) implements Command {

        /** A fresh request. */
        public Generate(String requestId, String adapter, String adapterDir, int[] promptIds, SamplingParams params,
                        ActorRef<Event> replyTo) {
            this(requestId, adapter, adapterDir, promptIds, params, null, replyTo);
        }
    }

    public record Cancel(String requestId) implements Command {
    }

    /** Load an adapter into a compute slot (pin = keep it resident) and reply when it is ready or refused. */
    public record LoadAdapter(String adapter, String adapterDir, boolean pin, ActorRef<AdapterLoaded> replyTo)
            implements Command {
    }

    public record EvictAdapter(String adapter, ActorRef<AdapterEvicted> replyTo) implements Command {
    }

    /** Keep the adapter loaded but no longer pinned: LRU may evict it again. */
    public record UnpinAdapter(String adapter) implements Command {
    }

    public record GetStatus(ActorRef<WorkerStatus> replyTo) implements Command {
    }

    /**
     * Asks to be told of every adapter that leaves this worker's slots (LRU or operator), so the cluster can
     * persist {@code EvictedFrom}. A subscriber that stops is dropped.
     */
    public record SubscribeEvictions(ActorRef<AdapterEvictedNotice> subscriber) implements Command {
    }

    /** An adapter left a compute slot of {@code worker}; reason is {@code lru} or {@code operator}. */
    public record AdapterEvictedNotice(String worker, String adapter, String reason) implements WorkerMessage {
    }

    record SubscriberGone(ActorRef<AdapterEvictedNotice> subscriber) implements Command {
    }

    record RequesterGone(ActorRef<Event> requester) implements Command {
    }

    record RequestDone(String requestId, ActorRef<Event> requester) implements Command {
    }

    /** The engine evicted an adapter (LRU or operator); published to eviction subscribers. */
    record AdapterEvictedInEngine(String adapter, String reason) implements Command {
    }

    /** Events of one request, sent to its {@code replyTo}. */
    public sealed interface Event extends WorkerMessage permits Accepted, Tokens, PromptLogprobs, Finished,
            Failed {
        String requestId();
    }

    public record Accepted(String requestId, int promptTokens) implements Event {
    }

    public record Tokens(String requestId, int[] tokenIds, String text, List<EngineListener.TokenLogprob> logprobs)
            implements Event {
    }

    /** The prompt's teacher-forced logprobs (tokens 1..P-1), once, before the first {@link Tokens}. */
    public record PromptLogprobs(String requestId, List<EngineListener.TokenLogprob> logprobs) implements Event {
    }

    public record Finished(String requestId, EngineListener.FinishReason reason, EngineListener.Usage usage)
            implements Event {
    }

    public record Failed(String requestId, EngineError error) implements Event {
    }

    public record AdapterLoaded(String adapter, boolean ok, int slot, String error) implements WorkerMessage {
    }

    public record AdapterEvicted(String adapter, boolean evicted, String reason) implements WorkerMessage {
    }

    /**
     * Load and residency of the worker, for placement and health. {@code adapterLoad} counts each adapter's
     * sequences waiting or running (base-model requests are not in it); {@code maxWaiting} bounds the queue and
     * {@code maxLoras} is the number of adapter slots in all.
     */
    public record WorkerStatus(String worker, boolean healthy, int running, int waiting, int freeKvBlocks,
                               int totalKvBlocks, double kvUsage, long generatedTokens, long preemptions,
                               int lastBatchSize, int freeSlots, List<String> resident, List<String> pinned,
                               AdapterCache.Stats adapters, Map<String, Integer> adapterLoad, int maxWaiting,
                               int maxLoras) implements WorkerMessage {
    }

    public static Behavior<Command> create(Path modelDir, EngineSettings settings, String name) {
        return Behaviors.setup(ctx -> new GpuWorker(ctx, Engine.start(modelDir, settings, name), name));
    }

    /** A worker over an engine that is already started (tests, the offline generator). */
    public static Behavior<Command> create(Engine engine, String name) {
        return Behaviors.setup(ctx -> new GpuWorker(ctx, engine, name));
    }

    private final Engine engine;
    private final String name;
    private final Map<ActorRef<Event>, Set<String>> byRequester = new HashMap<>();
    private final Set<ActorRef<AdapterEvictedNotice>> evictionSubscribers = new HashSet<>();

    private GpuWorker(ActorContext<Command> ctx, Engine engine, String name) {
        super(ctx);
        this.engine = engine;
        this.name = name;
        ActorRef<Command> self = ctx.getSelf();
        engine.onEviction(s -> {
            int sp = s.lastIndexOf(' ');
            self.tell(new AdapterEvictedInEngine(s.substring(0, sp), s.substring(sp + 1)));
        });
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Generate.class, this::onGenerate)
                .onMessage(Cancel.class, c -> {
                    engine.cancel(c.requestId());
                    return this;
                })
                .onMessage(LoadAdapter.class, this::onLoad)
                .onMessage(EvictAdapter.class, this::onEvict)
                .onMessage(UnpinAdapter.class, u -> {
                    engine.unpinAdapter(u.adapter());
                    return this;
                })
                .onMessage(GetStatus.class, this::onStatus)
                .onMessage(RequesterGone.class, this::onRequesterGone)
                .onMessage(RequestDone.class, this::onRequestDone)
                .onMessage(SubscribeEvictions.class, sub -> {
                    if (evictionSubscribers.add(sub.subscriber())) {
                        getContext().watchWith(sub.subscriber(), new SubscriberGone(sub.subscriber()));
                    }
                    return this;
                })
                .onMessage(SubscriberGone.class, g -> {
                    evictionSubscribers.remove(g.subscriber());
                    return this;
                })
                .onMessage(AdapterEvictedInEngine.class, e -> {
                    getContext().getLog().info("worker {}: adapter {} evicted ({})", name, e.adapter(), e.reason());
                    AdapterEvictedNotice notice = new AdapterEvictedNotice(name, e.adapter(), e.reason());
                    evictionSubscribers.forEach(sub -> sub.tell(notice));
                    return this;
                })
                .onSignal(PostStop.class, s -> {
                    engine.close();
                    return this;
                })
                .build();
    }

    private Behavior<Command> onGenerate(Generate g) {
        ActorRef<Event> to = g.replyTo();
        Set<String> ids = byRequester.computeIfAbsent(to, k -> {
            getContext().watchWith(k, new RequesterGone(k));
            return new HashSet<>();
        });
        ids.add(g.requestId());
        ActorRef<Command> self = getContext().getSelf();
        engine.submit(new GenerateRequest(g.requestId(), g.adapter(), g.adapterDir(), g.promptIds(), g.params(),
                        g.resumeTokens()),
                new EngineListener() {
                    @Override
                    public void onAccepted(String id, int promptTokens) {
                        to.tell(new Accepted(id, promptTokens));
                    }

                    @Override
                    public void onTokens(String id, int[] tokenIds, String text, List<TokenLogprob> logprobs) {
                        to.tell(new Tokens(id, tokenIds, text, logprobs));
                    }

                    @Override
                    public void onPromptLogprobs(String id, List<TokenLogprob> logprobs) {
                        to.tell(new PromptLogprobs(id, logprobs));
                    }

                    @Override
                    public void onFinished(String id, FinishReason reason, Usage usage) {
                        to.tell(new Finished(id, reason, usage));
                        self.tell(new RequestDone(id, to));
                    }

                    @Override
                    public void onFailed(String id, EngineError error) {
                        to.tell(new Failed(id, error));
                        self.tell(new RequestDone(id, to));
                    }
                });
        return this;
    }

    private Behavior<Command> onRequestDone(RequestDone d) {
        Set<String> ids = byRequester.get(d.requester());
        if (ids != null) {
            ids.remove(d.requestId());
            if (ids.isEmpty()) {
                byRequester.remove(d.requester());
                getContext().unwatch(d.requester());
            }
        }
        return this;
    }

    private Behavior<Command> onRequesterGone(RequesterGone g) {
        Set<String> ids = byRequester.remove(g.requester());
        if (ids != null) {
            ids.forEach(engine::cancel);
        }
        return this;
    }

    private Behavior<Command> onLoad(LoadAdapter l) {
        engine.loadAdapter(l.adapter(), Path.of(l.adapterDir()), l.pin()).whenComplete((slot, err) ->
                l.replyTo().tell(err == null ? new AdapterLoaded(l.adapter(), true, slot, null)
                        : new AdapterLoaded(l.adapter(), false, -1, rootMessage(err))));
        return this;
    }

    private Behavior<Command> onEvict(EvictAdapter e) {
        engine.evictAdapter(e.adapter()).whenComplete((ok, err) -> e.replyTo().tell(err != null
                ? new AdapterEvicted(e.adapter(), false, rootMessage(err))
                : new AdapterEvicted(e.adapter(), ok, ok ? "evicted" : "in use by running requests")));
        return this;
    }

    private Behavior<Command> onStatus(GetStatus g) {
        engine.status().whenComplete((s, err) -> {
            if (s != null) {
                g.replyTo().tell(new WorkerStatus(name, s.healthy(), s.running(), s.waiting(), s.freeKvBlocks(),
                        s.totalKvBlocks(), s.kvUsage(), s.generatedTokens(), s.preemptions(), s.lastBatchSize(),
                        s.adapters().freeSlots(), s.adapters().resident(), s.adapters().pinned(), s.adapters(),
                        s.adapterLoad(), s.maxWaiting(), s.maxLoras()));
            }
        });
        return this;
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null && (t instanceof java.util.concurrent.CompletionException)) {
            t = t.getCause();
        }
        return t.getMessage();
    }
}
