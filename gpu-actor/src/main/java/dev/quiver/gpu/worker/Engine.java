package dev.quiver.gpu.worker;

import dev.quiver.gpu.backend.Backend;
import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.backend.NoopBackend;
import dev.quiver.gpu.backend.cpu.CpuBackend;
import dev.quiver.gpu.backend.cuda.CudaAvailability;
import dev.quiver.gpu.backend.cuda.CudaBackend;
import dev.quiver.gpu.backend.cuda.DeviceBackend;
import dev.quiver.gpu.cache.AdapterCache;
import dev.quiver.gpu.constraint.ConstraintCache;
import dev.quiver.gpu.constraint.ConstraintException;
import dev.quiver.gpu.constraint.Matcher;
import dev.quiver.gpu.constraint.TokenIndex;
import dev.quiver.gpu.kv.BlockAllocator;
import dev.quiver.gpu.kv.KvBlockManager;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.model.WeightFormat;
import dev.quiver.gpu.sampling.LogitProcessor;
import dev.quiver.gpu.sampling.Sampler;
import dev.quiver.gpu.sampling.StopMatcher;
import dev.quiver.gpu.scheduler.Scheduler;
import dev.quiver.gpu.scheduler.Sequence;
import dev.quiver.gpu.scheduler.StepPlan;
import dev.quiver.gpu.tokenizer.IncrementalDecoder;
import dev.quiver.gpu.tokenizer.Tokenizer;
import dev.quiver.gpu.tokenizer.Tokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inference engine of one worker: a loop on its own thread that owns the backend (and so the compute
 * context, base weights, KV cache and adapter slots), the scheduler and the adapter cache. Other threads only
 * enqueue commands; every step is schedule → build the batch → forward → sample → emit events → free finished
 * sequences.
 *
 * <p>A request fails alone: bad fields, an unknown or refused adapter, or an over-long prompt end that request
 * with a typed {@link EngineError}, and the batch goes on.
 *
 * <p>A request may resume from output tokens its client already received (failover from a worker that died):
 * they are prefilled with the prompt and replayed through the request's decoder and stop matcher with their
 * text dropped, and because the draw of position p is {@code CounterRng.uniform(seed, p)} the continuation is
 * the one the first worker would have produced.
 */
public final class Engine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Engine.class);
    private static final int CONSTRAINT_CACHE_SIZE = 64;

    private final EngineSettings settings;
    private final BlockingQueue<Consumer<Engine>> commands = new LinkedBlockingQueue<>();
    private final Thread thread;
    private final ExecutorService loaderPool;
    private final CompletableFuture<Void> ready = new CompletableFuture<>();
    private volatile boolean stopping;

    // engine-thread state
    private Backend backend;
    private ModelConfig config;
    private Tokenizer tokenizer;
    private Set<Integer> eosIds;
    private Scheduler scheduler;
    private KvBlockManager kv;
    private AdapterCache cache;
    private Sampler sampler;
    private LogitProcessor processor;
    private ConstraintCache constraints; // structured outputs: compiled specs + the vocabulary's token trie
    private int maxModelLen;
    private final Map<String, Active> active = new HashMap<>();
    private long arrivals;
    private long steps;
    private long promptTokens;
    private long generatedTokens;
    private long preemptions;
    private int lastBatchSize;
    private volatile boolean healthy = true;
    private final List<Consumer<String>> evictionListeners = new ArrayList<>();

    /** A running request: its sequence plus what streaming needs. */
    private static final class Active {
        final Sequence seq;
        final EngineListener listener;
        final IncrementalDecoder decoder;
        final StopMatcher stops;
        /** Teacher-forced logprobs of prompt tokens 1..P-1 gathered so far; null when not asked for or sent. */
        List<EngineListener.TokenLogprob> promptLogprobs;
        Matcher constraint; // structured outputs: null when the request has no constraint

        Active(Sequence seq, EngineListener listener, IncrementalDecoder decoder, StopMatcher stops) {
            this.seq = seq;
            this.listener = listener;
            this.decoder = decoder;
            this.stops = stops;
            this.promptLogprobs = seq.params.promptLogprobs() >= 0 ? new ArrayList<>() : null;
        }
    }

    private Engine(EngineSettings settings, String name) {
        this.settings = settings;
        this.loaderPool = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name + "-adapter-loader");
            t.setDaemon(true);
            return t;
        });
        this.thread = new Thread(this::run, name);
        this.thread.setDaemon(true);
    }

    /** Starts an engine over the model in {@code modelDir}; returns once the weights are loaded. */
    public static Engine start(Path modelDir, EngineSettings settings, String name) {
        Engine e = new Engine(settings, name);
        e.commands.add(self -> self.init(modelDir));
        e.thread.start();
        try {
            e.ready.join();
        } catch (java.util.concurrent.CompletionException ex) {
            e.close();
            throw ex.getCause() instanceof RuntimeException re ? re : ex;
        }
        return e;
    }

    private void init(Path modelDir) {
        try {
            ModelWeights weights = ModelWeights.load(modelDir);
            config = weights.config;
            String kind = settings.backend();
            if (kind.equals("cuda") && settings.weightFormat() != WeightFormat.NATIVE) {
                throw new UnsupportedOperationException("quiver.engine.weight-format = " + settings.weightFormat()
                        + " is implemented by the cpu backend only; use weight-format = native with backend 'cuda'");
            }
            if (kind.equals("cuda")) {
                String why = CudaAvailability.unavailableReason();
                if (why != null) {
                    throw new UnsupportedOperationException("backend 'cuda' is not available: " + why);
                }
            }
            if (!kind.equals("cpu") && !kind.equals("noop") && !kind.equals("cuda")) {
                throw new UnsupportedOperationException("backend '" + kind + "' is not available: the backends are "
                        + "cpu, cuda and noop");
            }
            maxModelLen = settings.maxModelLen() > 0 ? Math.min(settings.maxModelLen(), config.maxContext())
                    : config.maxContext();
            int kvDim = config.kvDim();
            int blocks = KvBlockManager.blocksForBudget(settings.kvCacheBytes(), config.numLayers(),
                    settings.blockSize(), kvDim, 4);
            // NOTE: the CUDA backend keeps its KV cache in float32 too, so the budget above (4 bytes) holds for it.
            backend = switch (kind) {
                case "noop" -> new NoopBackend(config, blocks, settings.blockSize(), settings.maxLoras());
                case "cuda" -> new CudaBackend(weights, DeviceBackend.Settings.of(blocks, settings.blockSize(),
                        settings.maxLoras(), settings.maxBatchedTokens(), settings.maxLoraRank()));
                default -> new CpuBackend(weights, new CpuBackend.Settings(settings.threads(), blocks,
                        settings.blockSize(), settings.maxLoras(), settings.weightFormat(), settings.weightsInHeap()));
            };
            if (backend instanceof CpuBackend cpu && settings.weightsInHeap() && !cpu.weightsInHeap()
                    && settings.weightFormat() == WeightFormat.NATIVE && weights.lmHead.dtype() != DType.F16) {
                log.warn("engine {}: {} weights read in place from the mapped file: the heap ({} MiB max) has "
                        + "no room for them and the KV cache; raise -Xmx to copy them (quiver.engine."
                        + "weights-in-heap, docs/BENCHMARKS.md)", thread.getName(), weights.lmHead.dtype(),
                        Runtime.getRuntime().maxMemory() >> 20);
            }
            kv = new KvBlockManager(new BlockAllocator(blocks, settings.blockSize()));
            cache = new AdapterCache(new AdapterCache.Settings(settings.maxLoras(), settings.maxCpuLoras(),
                    settings.maxLoraRank(), settings.hostCopyBudget()), backend, config,
                    r -> loaderPool.execute(() -> {
                        try {
                            r.run();
                        } finally {
                            commands.add(self -> { }); // wake the loop to install the result
                        }
                    }),
                    (key, reason) -> evictionListeners.forEach(l -> l.accept(key + " " + reason)));
            // NOTE: adapters load ahead of their turn at most as many as there are slots (and never more than the
            // host tier holds, which would evict loaded ones before they run); a slot rotates to another adapter
            // once its requests ran min-slot-steps steps (see Scheduler).
            scheduler = new Scheduler(new Scheduler.Settings(settings.maxNumSeqs(), settings.maxBatchedTokens(),
                    Math.max(1, Math.min(settings.maxLoras(), settings.maxCpuLoras())), settings.minSlotSteps()), kv, cache);
            tokenizer = Files.exists(modelDir.resolve("tokenizer.json")) ? Tokenizers.load(modelDir) : null;
            eosIds = new HashSet<>(config.eosTokenIds());
            if (tokenizer != null) {
                eosIds.addAll(tokenizer.eosIds());
            }
            sampler = new Sampler(config.vocabSize());
            processor = new LogitProcessor(config.vocabSize());
            Tokenizer tok = tokenizer;
            constraints = new ConstraintCache(() -> TokenIndex.of(tok, config.vocabSize()), eosIds,
                    CONSTRAINT_CACHE_SIZE);
            log.info("engine {} ready: {} layers, hidden {}, vocab {}, {} KV blocks of {} tokens, {} adapter slots, "
                    + "host copies up to {} and {} MiB{}", thread.getName(), config.numLayers(), config.hiddenSize(),
                    config.vocabSize(), blocks, settings.blockSize(), settings.maxLoras(), settings.maxCpuLoras(),
                    settings.hostCopyBudget() >> 20,
                    backend instanceof CpuBackend cpu && cpu.weightsInHeap()
                            ? ", " + weights.lmHead.dtype() + " weights in the heap" : "");
            ready.complete(null);
        } catch (Throwable t) {
            ready.completeExceptionally(t);
            stopping = true;
        }
    }

    public ModelConfig config() {
        return config;
    }

    /** The model's tokenizer, or null when the model directory has none. */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public int maxModelLen() {
        return maxModelLen;
    }

    public EngineSettings settings() {
        return settings;
    }

    // ---- commands (any thread) ----

    public void submit(GenerateRequest request, EngineListener listener) {
        enqueue(self -> self.admit(request, listener));
    }

    public void cancel(String requestId) {
        enqueue(self -> self.doCancel(requestId));
    }

    /** Registers an adapter's local directory without loading it. */
    public void registerAdapter(String key, Path dir) {
        enqueue(self -> self.cache.register(key, dir));
    }

    /**
     * Loads an adapter into a compute slot (pin keeps it there); completes with the slot once it is ready, or
     * exceptionally with the refusal.
     */
    public CompletableFuture<Integer> loadAdapter(String key, Path dir, boolean pin) {
        CompletableFuture<Integer> f = new CompletableFuture<>();
        enqueue(self -> {
            self.cache.register(key, dir);
            self.awaitSlot(key, pin, f);
        });
        return f;
    }

    /** Evicts an adapter from slot and host memory; completes false while running requests still use it. */
    public CompletableFuture<Boolean> evictAdapter(String key) {
        CompletableFuture<Boolean> f = new CompletableFuture<>();
        enqueue(self -> f.complete(self.cache.evict(key)));
        return f;
    }

    /** Lets LRU evict a pinned adapter again (it stays loaded until then). */
    public void unpinAdapter(String key) {
        enqueue(self -> self.cache.unpin(key));
    }

    public CompletableFuture<EngineStatus> status() {
        CompletableFuture<EngineStatus> f = new CompletableFuture<>();
        enqueue(self -> f.complete(self.snapshot()));
        return f;
    }

    /**
     * How many times a running request left the batch, KV kept, so that its adapter's slot went to a waiting
     * adapter (slot rotation with more hot adapters than slots; see {@link Scheduler}).
     */
    public CompletableFuture<Long> slotRotationPauses() {
        CompletableFuture<Long> f = new CompletableFuture<>();
        enqueue(self -> f.complete(self.scheduler.pauses()));
        return f;
    }

    /** Called on the engine thread with "key reason" when an adapter leaves its slot. */
    public void onEviction(Consumer<String> listener) {
        enqueue(self -> self.evictionListeners.add(listener));
    }

    public boolean isHealthy() {
        return healthy;
    }

    private void enqueue(Consumer<Engine> c) {
        if (stopping) {
            throw new IllegalStateException("engine " + thread.getName() + " is stopped");
        }
        commands.add(c);
    }

    // ---- engine thread ----

    private void run() {
        try {
            while (!stopping) {
                Consumer<Engine> c = scheduler != null && scheduler.hasWork() && !onlyWaitingForAdapters()
                        ? commands.poll() : commands.poll(50, TimeUnit.MILLISECONDS);
                while (c != null) {
                    c.accept(this);
                    c = commands.poll();
                }
                if (scheduler == null || stopping) {
                    continue;
                }
                cache.poll();
                failRefusedAdapters();
                if (scheduler.hasWork()) {
                    step();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            log.error("engine {} loop died", thread.getName(), t);
            healthy = false;
        } finally {
            shutdownOnThread();
        }
    }

    private boolean onlyWaitingForAdapters() {
        return scheduler.runningCount() == 0 && cache.isLoading();
    }

    private void admit(GenerateRequest r, EngineListener l) {
        EngineError err = validate(r);
        if (err != null) {
            safe(() -> l.onFailed(r.id(), err));
            return;
        }
        if (scheduler.waitingCount() >= settings.maxWaiting()) {
            safe(() -> l.onFailed(r.id(), new EngineError(EngineError.Kind.OVERLOADED, "worker queue is full ("
                    + settings.maxWaiting() + " waiting requests); retry later", null, 1)));
            return;
        }
        if (r.adapter() != null) {
            if (r.adapterDir() != null) {
                cache.register(r.adapter(), Path.of(r.adapterDir()));
            }
            if (!cache.isKnown(r.adapter())) {
                safe(() -> l.onFailed(r.id(), new EngineError(EngineError.Kind.UNKNOWN_ADAPTER,
                        "adapter '" + r.adapter() + "' is not known to this worker", "model", 0)));
                return;
            }
        }
        // NOTE: resume tokens join the sequence as output with computed = 0, the state a preempted sequence is
        // in, so the first step prefills prompt + resume and samples position prompt + resume next.
        Sequence s = new Sequence(r.id(), r.adapter(), r.promptIds(), r.params(), r.params().seed(), arrivals++,
                settings.blockSize());
        int[] resume = r.resumeLength() == 0 ? new int[0] : r.resumeTokens();
        for (int t : resume) {
            s.append(t);
        }
        IncrementalDecoder dec = tokenizer == null ? null : tokenizer.newDecoder(r.params().skipSpecialTokens());
        Active a = new Active(s, l, dec, new StopMatcher(r.params().stop()));
        // structured outputs: compile (cached) and replay delivered tokens through the matcher
        if (r.params().constraint() != null) {
            EngineError cerr = startConstraint(a, r.params().constraint(), resume);
            if (cerr != null) {
                safe(() -> l.onFailed(r.id(), cerr));
                return;
            }
        }
        Ended ended = prime(a, resume);
        if (ended != null && ended.at() < resume.length - 1) {
            safe(() -> l.onFailed(r.id(), new EngineError(EngineError.Kind.INVALID_REQUEST, "the request ended ("
                    + ended.why() + ") at resume token " + ended.at() + " but " + (resume.length - 1 - ended.at())
                    + " more resume tokens follow it", "prompt", 0)));
            return;
        }
        promptTokens += r.promptIds().length;
        if (ended != null) {
            safe(() -> l.onAccepted(r.id(), r.promptIds().length));
            if (ended.flushes()) {
                finishFlushing(a, ended.reason());
            } else {
                finish(a, ended.reason());
            }
            return;
        }
        if (r.adapter() != null) {
            cache.lookup(r.adapter());
        }
        active.put(r.id(), a);
        scheduler.add(s);
        safe(() -> l.onAccepted(r.id(), r.promptIds().length));
    }

    /**
     * Structured outputs: gives the request its matcher and replays the resume tokens through it (up to an EOS,
     * which {@link #prime} handles), or says why the request fails.
     */
    private EngineError startConstraint(Active a, dev.quiver.gpu.constraint.ConstraintSpec spec, int[] resume) {
        if (tokenizer == null) {
            return new EngineError(EngineError.Kind.INVALID_REQUEST, "structured outputs need a tokenizer and this "
                    + "model directory has no tokenizer.json", "response_format", 0);
        }
        try {
            a.constraint = constraints.matcher(spec);
        } catch (ConstraintException e) {
            return new EngineError(EngineError.Kind.INVALID_REQUEST, e.getMessage(), "response_format", 0);
        }
        for (int i = 0; i < resume.length && !isEos(a.seq, resume[i]); i++) {
            if (!a.constraint.advance(resume[i])) {
                return new EngineError(EngineError.Kind.INVALID_REQUEST, "resume token " + i + " (id " + resume[i]
                        + ") does not fit the request's output constraint", "prompt", 0);
            }
        }
        return null;
    }

    /** Where and why a resumed request's original run ended inside its resume tokens. */
    private record Ended(int at, EngineListener.FinishReason reason, boolean flushes, String why) {
    }

    /**
     * Brings a resumed request's decoder and stop matcher to the state the original run left them in, by pushing
     * the resume tokens through them and dropping the text (the client already has it): bytes of a split UTF-8
     * character and a partial stop-string match stay held back, exactly as they were. Applies the stop rules of
     * {@link #emit} after each token; returns where the original run ended, or null when it goes on.
     */
    private Ended prime(Active a, int[] resume) {
        Sequence s = a.seq;
        for (int i = 0; i < resume.length; i++) {
            int tok = resume[i];
            if (isEos(s, tok)) {
                return new Ended(i, EngineListener.FinishReason.STOP, true, "end of sequence");
            }
            decode(a, tok);
            if (a.stops.stopped()) {
                return new Ended(i, EngineListener.FinishReason.STOP, false, "stop string");
            }
            if (reachedLength(s, i + 1, s.promptLength() + i + 1)) {
                return new Ended(i, EngineListener.FinishReason.LENGTH, true, "length");
            }
        }
        return null;
    }

    private EngineError validate(GenerateRequest r) {
        if (active.containsKey(r.id())) {
            return new EngineError(EngineError.Kind.INVALID_REQUEST, "request id '" + r.id() + "' is already running",
                    null, 0);
        }
        int[] p = r.promptIds();
        if (p == null || p.length == 0) {
            return new EngineError(EngineError.Kind.INVALID_REQUEST, "prompt is empty", "prompt", 0);
        }
        for (int t : p) {
            if (t < 0 || t >= config.vocabSize()) {
                return new EngineError(EngineError.Kind.INVALID_REQUEST, "prompt token id " + t
                        + " is outside the vocabulary [0, " + config.vocabSize() + ")", "prompt", 0);
            }
        }
        if (r.resumeLength() > 0) {
            for (int t : r.resumeTokens()) {
                if (t < 0 || t >= config.vocabSize()) {
                    return new EngineError(EngineError.Kind.INVALID_REQUEST, "resume token id " + t
                            + " is outside the vocabulary [0, " + config.vocabSize() + ")", "prompt", 0);
                }
            }
            if (r.resumeLength() > r.params().maxTokens()) {
                return new EngineError(EngineError.Kind.INVALID_REQUEST, "the request resumes after "
                        + r.resumeLength() + " tokens but max_tokens is " + r.params().maxTokens(), "max_tokens", 0);
            }
        }
        for (int t : r.params().logitBias().keySet()) {
            if (t >= config.vocabSize()) {
                return new EngineError(EngineError.Kind.INVALID_REQUEST, "logit_bias token id " + t
                        + " is outside the vocabulary [0, " + config.vocabSize() + ")", "logit_bias", 0);
            }
        }
        for (int t : r.params().stopTokenIds()) {
            if (t >= config.vocabSize()) {
                return new EngineError(EngineError.Kind.INVALID_REQUEST, "stop_token_ids id " + t
                        + " is outside the vocabulary [0, " + config.vocabSize() + ")", "stop_token_ids", 0);
            }
        }
        int total = p.length + r.params().maxTokens();
        if (total > maxModelLen) {
            return new EngineError(EngineError.Kind.CONTEXT_LENGTH_EXCEEDED, "this model's maximum context length is "
                    + maxModelLen + " tokens; the request has " + p.length + " prompt tokens and max_tokens "
                    + r.params().maxTokens() + " (" + total + " in all)", "max_tokens", 0);
        }
        int blocksNeeded = (total + settings.blockSize() - 1) / settings.blockSize();
        if (blocksNeeded > backend.numKvBlocks()) {
            return new EngineError(EngineError.Kind.CONTEXT_LENGTH_EXCEEDED, "the request needs " + total
                    + " tokens of KV cache but this worker holds " + backend.numKvBlocks() * settings.blockSize(),
                    "max_tokens", 0);
        }
        if (!r.params().stop().isEmpty() && tokenizer == null) {
            return new EngineError(EngineError.Kind.INVALID_REQUEST, "stop strings need a tokenizer and this model "
                    + "directory has no tokenizer.json", "stop", 0);
        }
        return null;
    }

    private void doCancel(String id) {
        Active a = active.remove(id);
        if (a == null) {
            return;
        }
        scheduler.remove(a.seq);
        safe(() -> a.listener.onFinished(id, EngineListener.FinishReason.CANCELLED,
                new EngineListener.Usage(a.seq.promptLength(), a.seq.outputLength())));
    }

    private void awaitSlot(String key, boolean pin, CompletableFuture<Integer> f) {
        cache.poll();
        String failure = cache.failures().get(key);
        if (failure != null) {
            f.completeExceptionally(new dev.quiver.gpu.lora.AdapterRefusedException(failure));
            return;
        }
        int slot = cache.preload(key, pin);
        if (slot >= 0) {
            f.complete(slot);
        } else if (!cache.isLoading() && cache.failures().get(key) == null && !cache.isResident(key)) {
            if (pin) {
                cache.unpin(key); // not loaded: a pin left behind would be published, and nothing would clear it
            }
            f.completeExceptionally(new IllegalStateException("no free adapter slot for '" + key
                    + "': every slot is in use or pinned"));
        } else {
            // re-check after the next command or load completion
            loaderPool.execute(() -> {
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                if (!stopping) {
                    commands.add(self -> self.awaitSlot(key, pin, f));
                }
            });
        }
    }

    private void failRefusedAdapters() {
        Map<String, String> failures = cache.failures();
        if (failures.isEmpty()) {
            return;
        }
        for (Sequence s : scheduler.waiting()) {
            String why = s.adapter == null ? null : failures.get(s.adapter);
            if (why != null) {
                Active a = active.remove(s.id);
                scheduler.remove(s);
                safe(() -> a.listener.onFailed(s.id, new EngineError(EngineError.Kind.ADAPTER_REFUSED, why, "model", 0)));
            }
        }
    }

    private void step() {
        StepPlan plan = scheduler.schedule();
        preemptions += plan.preempted().size();
        if (plan.isEmpty()) {
            return;
        }
        int rows = plan.totalTokens();
        int[] tokens = new int[rows];
        int[] positions = new int[rows];
        int[] slots = new int[rows];
        int[] seqOf = new int[rows];
        int[][] tables = new int[plan.entries().size()][];
        List<Integer> logitRows = new ArrayList<>();
        List<StepPlan.Entry> sampling = new ArrayList<>();
        // prompt rows whose logits score the next prompt token (echo with logprobs): their sequence, position
        List<Sequence> scoredSeqs = new ArrayList<>();
        List<Integer> scoredRows = new ArrayList<>();
        List<Integer> scoredPositions = new ArrayList<>();
        int row = 0;
        for (int i = 0; i < plan.entries().size(); i++) {
            StepPlan.Entry e = plan.entries().get(i);
            Sequence s = e.seq();
            tables[i] = s.blocks().blocks();
            Active owner = active.get(s.id);
            // the next prompt position to score: rows recomputed after a preemption are scored once only
            int nextScored = owner != null && owner.promptLogprobs != null ? owner.promptLogprobs.size()
                    : Integer.MAX_VALUE;
            for (int j = 0; j < e.tokens(); j++) {
                int p = s.computed() + j;
                tokens[row] = s.token(p);
                positions[row] = p;
                slots[row] = s.slot();
                seqOf[row] = i;
                if (p == nextScored && p < s.promptLength() - 1) {
                    scoredSeqs.add(s);
                    scoredRows.add(row);
                    scoredPositions.add(p);
                    nextScored++;
                }
                row++;
            }
            if (e.samples()) {
                logitRows.add(row - 1);
                sampling.add(e);
            }
        }
        int vocab = config.vocabSize();
        logitRows.addAll(scoredRows); // NOTE: after the sampled rows, so row i of the logits is sampling.get(i)
        float[] logits = new float[logitRows.size() * vocab];
        try {
            backend.forward(new ForwardBatch(tokens, positions, slots, seqOf, tables,
                    logitRows.stream().mapToInt(Integer::intValue).toArray()), logits);
        } catch (RuntimeException ex) {
            log.error("engine {}: forward step failed; failing its {} requests", thread.getName(),
                    plan.entries().size(), ex);
            healthy = false;
            for (StepPlan.Entry e : plan.entries()) {
                Active a = active.remove(e.seq().id);
                scheduler.remove(e.seq());
                if (a != null) {
                    safe(() -> a.listener.onFailed(e.seq().id, EngineError.of(EngineError.Kind.INTERNAL,
                            "the worker's forward step failed: " + ex.getMessage())));
                }
            }
            return;
        }
        steps++;
        lastBatchSize = plan.entries().size();
        for (StepPlan.Entry e : plan.entries()) {
            e.seq().advance(e.tokens());
        }
        scorePrompts(logits, sampling.size(), scoredSeqs, scoredPositions);
        for (int i = 0; i < sampling.size(); i++) {
            Sequence s = sampling.get(i).seq();
            Active a = active.get(s.id);
            int position = s.length();
            // structured outputs: mask what the constraint forbids (false: the request ended there)
            if (a.constraint != null && !constrain(a, logits, i * vocab, vocab)) {
                continue;
            }
            Sampler.Sample pick = sample(logits, i * vocab, s, position);
            if (pick == null) {
                // NOTE: only min_tokens can mask the last token a constraint allows (EOS where the value is complete).
                finishFlushing(a, EngineListener.FinishReason.STOP);
                continue;
            }
            if (a.constraint != null) {
                a.constraint.advance(pick.tokenId());
            }
            s.append(pick.tokenId());
            generatedTokens++;
            emit(a, pick);
        }
    }

    /**
     * Draws the next token of {@code s} from its logits row: plain rows go straight to the sampler; rows whose
     * params adjust logits are adjusted on a copy ({@link LogitProcessor}) and the chosen token is then scored on
     * the raw row, so reported logprobs stay the model's. Returns null when the adjustments leave no token to draw
     * (min_tokens masking the only token an output constraint still allows).
     */
    private Sampler.Sample sample(float[] logits, int offset, Sequence s, int position) {
        if (!LogitProcessor.needed(s.params, s.outputLength())) {
            return sampler.sample(logits, offset, s.params, position);
        }
        int vocab = config.vocabSize();
        float[] row = Arrays.copyOfRange(logits, offset, offset + vocab);
        processor.apply(row, 0, s.params, s.promptTokens(), s.outputTokens(), eosIds);
        if (!anyFinite(row)) {
            return null;
        }
        Sampler.Sample pick = sampler.sample(row, 0, s.params, position);
        return s.params.logprobs() < 0 ? pick : sampler.score(logits, offset, pick.tokenId(), s.params.logprobs());
    }

    private static boolean anyFinite(float[] row) {
        for (float v : row) {
            if (v != Float.NEGATIVE_INFINITY) {
                return true;
            }
        }
        return false;
    }

    /**
     * Records the teacher-forced logprob of prompt token p + 1 for each scored row at position p (rows start at
     * {@code firstRow} of the logits), and sends a request's list once its whole prompt is computed.
     */
    private void scorePrompts(float[] logits, int firstRow, List<Sequence> seqs, List<Integer> positions) {
        int vocab = config.vocabSize();
        for (int k = 0; k < seqs.size(); k++) {
            Sequence s = seqs.get(k);
            Active a = active.get(s.id);
            int p = positions.get(k);
            Sampler.Sample sc = sampler.score(logits, (firstRow + k) * vocab, s.token(p + 1),
                    s.params.promptLogprobs());
            a.promptLogprobs.add(new EngineListener.TokenLogprob(sc.tokenId(), sc.logprob(), sc.topIds(),
                    sc.topLogprobs()));
        }
        for (Active a : active.values()) {
            if (a.promptLogprobs != null && a.seq.computed() >= a.seq.promptLength()) {
                List<EngineListener.TokenLogprob> lps = List.copyOf(a.promptLogprobs);
                a.promptLogprobs = null;
                safe(() -> a.listener.onPromptLogprobs(a.seq.id, lps));
            }
        }
    }

    /**
     * Structured outputs: sets the logits the request's constraint forbids to -Infinity. Ends the request (and
     * returns false) where nothing can be sampled: with STOP when the value is complete under ignore_eos or the
     * vocabulary cannot spell any way on, as a failure when the automaton outgrows its limits.
     */
    private boolean constrain(Active a, float[] logits, int offset, int vocab) {
        try {
            if (a.constraint.maskLogits(logits, offset, vocab)
                    && !(a.seq.params.ignoreEos() && a.constraint.isComplete())) {
                return true;
            }
            finishFlushing(a, EngineListener.FinishReason.STOP);
        } catch (ConstraintException e) {
            active.remove(a.seq.id);
            scheduler.remove(a.seq);
            safe(() -> a.listener.onFailed(a.seq.id, new EngineError(EngineError.Kind.INVALID_REQUEST,
                    e.getMessage(), "response_format", 0)));
        }
        return false;
    }

    /** Streams the new token, then applies the stop rules in order: EOS, stop string, max_tokens, context. */
    private void emit(Active a, Sampler.Sample pick) {
        Sequence s = a.seq;
        int tok = pick.tokenId();
        List<EngineListener.TokenLogprob> lp = s.params.logprobs() >= 0
                ? List.of(new EngineListener.TokenLogprob(tok, pick.logprob(), pick.topIds(), pick.topLogprobs()))
                : List.of();
        if (isEos(s, tok)) {
            finishFlushing(a, EngineListener.FinishReason.STOP);
            return;
        }
        String text = decode(a, tok);
        safe(() -> a.listener.onTokens(s.id, new int[] {tok}, text, lp));
        if (a.stops.stopped()) {
            finish(a, EngineListener.FinishReason.STOP);
            return;
        }
        if (reachedLength(s, s.outputLength(), s.length())) {
            finishFlushing(a, EngineListener.FinishReason.LENGTH);
        }
    }

    /** Whether {@code tok} ends the request: EOS (unless ignore_eos) or one of its stop_token_ids (always). */
    private boolean isEos(Sequence s, int tok) {
        return (!s.params.ignoreEos() && eosIds.contains(tok)) || s.params.stopTokenIds().contains(tok);
    }

    /** The text a new token makes safe to show, after the stop matcher. */
    private static String decode(Active a, int tok) {
        return a.decoder == null ? "" : a.stops.append(a.decoder.push(tok));
    }

    private boolean reachedLength(Sequence s, int outputLength, int length) {
        return outputLength >= s.params.maxTokens() || length >= maxModelLen;
    }

    /** Ends a request by EOS or length: the text still held back can no longer be cut, so it goes out first. */
    private void finishFlushing(Active a, EngineListener.FinishReason reason) {
        String rest = a.decoder == null ? "" : a.stops.append(a.decoder.flush()) + a.stops.flush();
        if (!rest.isEmpty()) {
            safe(() -> a.listener.onTokens(a.seq.id, new int[0], rest, List.of()));
        }
        finish(a, reason);
    }

    private void finish(Active a, EngineListener.FinishReason reason) {
        active.remove(a.seq.id);
        scheduler.remove(a.seq);
        safe(() -> a.listener.onFinished(a.seq.id, reason,
                new EngineListener.Usage(a.seq.promptLength(), a.seq.outputLength())));
    }

    private EngineStatus snapshot() {
        Map<String, Integer> adapterLoad = new TreeMap<>();
        for (List<Sequence> seqs : List.of(scheduler.waiting(), scheduler.running())) {
            for (Sequence s : seqs) {
                if (s.adapter != null) {
                    adapterLoad.merge(s.adapter, 1, Integer::sum);
                }
            }
        }
        return new EngineStatus(backend.name(), healthy, scheduler.runningCount(), scheduler.waitingCount(),
                kv.freeBlocks(), backend.numKvBlocks(), kv.usage(), steps, promptTokens, generatedTokens, preemptions,
                lastBatchSize, cache.stats(), Collections.unmodifiableMap(adapterLoad), settings.maxWaiting(),
                settings.maxLoras());
    }

    private void safe(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            log.warn("engine {}: a request listener threw; ignoring it", thread.getName(), e);
        }
    }

    private void shutdownOnThread() {
        for (Active a : List.copyOf(active.values())) {
            safe(() -> a.listener.onFailed(a.seq.id, new EngineError(EngineError.Kind.SHUTTING_DOWN,
                    "the worker is shutting down", null, 1)));
        }
        active.clear();
        if (backend != null) {
            backend.close();
        }
        loaderPool.shutdownNow();
    }

    /** Stops the loop; requests still running fail as retriable. Waits for the thread to end. */
    @Override
    public void close() {
        stopping = true;
        commands.add(self -> { });
        if (Thread.currentThread() != thread) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
