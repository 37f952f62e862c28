package dev.quiver.gpu.worker;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.quiver.gpu.model.WeightFormat;

/**
 * The engine's options, read once from {@code quiver.engine} (documented in this module's reference.conf).
 *
 * @param threads          CPU compute threads (0 in config = all cores)
 * @param kvCacheBytes     memory for the paged KV cache
 * @param blockSize        tokens per KV block
 * @param maxNumSeqs       sequences in one batch
 * @param maxBatchedTokens token budget of one step (chunked prefill)
 * @param maxModelLen      longest prompt + output (0 in config = the model's context)
 * @param maxLoras         adapter slots in compute memory
 * @param maxCpuLoras      validated adapters kept in host memory
 * @param maxLoraRank      adapters above this rank are refused
 * @param maxWaiting       queued requests before new ones are refused as overloaded
 * @param minSlotSteps     steps a request runs after admission before its adapter's slot may rotate to an
 *                         adapter waiting for one (more hot adapters than slots)
 * @param weightFormat     how the base model's projections are held: as stored, or quantised to Q8_0 at load
 *                         (cpu backend only)
 * @param weightsInHeap    F32 projections and head copied into the heap at load when it has room (cpu backend
 *                         only; read in place from the mapped file otherwise)
 * @param maxCpuLoraMemory bytes the host copies may take together ({@link #AUTO_CPU_LORA_MEMORY}: a quarter of the
 *                         JVM's maximum heap); the host tier holds at most maxCpuLoras copies and at most this much
 */
public record EngineSettings(String backend, int threads, long kvCacheBytes, int blockSize, int maxNumSeqs,
                             int maxBatchedTokens, int maxModelLen, int maxLoras, int maxCpuLoras, int maxLoraRank,
                             int maxWaiting, int minSlotSteps, WeightFormat weightFormat, boolean weightsInHeap,
                             long maxCpuLoraMemory) {
    /** The default of {@code min-slot-steps} in reference.conf, for settings built without it. */
    public static final int DEFAULT_MIN_SLOT_STEPS = 1;
    /** The default of {@code weights-in-heap} in reference.conf, for settings built without it. */
    public static final boolean DEFAULT_WEIGHTS_IN_HEAP = true;
    /** {@code max-cpu-lora-memory = auto}: a quarter of the JVM's maximum heap ({@link #hostCopyBudget()}). */
    public static final long AUTO_CPU_LORA_MEMORY = -1;

    public EngineSettings {
        if (minSlotSteps < 1) {
            throw new IllegalArgumentException("quiver.engine.min-slot-steps must be >= 1, got " + minSlotSteps);
        }
        if (weightFormat == null) {
            throw new IllegalArgumentException("quiver.engine.weight-format must be one of " + WeightFormat.allowed());
        }
        if (maxCpuLoraMemory != AUTO_CPU_LORA_MEMORY && maxCpuLoraMemory <= 0) {
            throw new IllegalArgumentException("quiver.engine.max-cpu-lora-memory must be auto or a positive size, got "
                    + maxCpuLoraMemory + " bytes");
        }
    }

    /** Settings with the default {@code max-cpu-lora-memory} (auto). */
    public EngineSettings(String backend, int threads, long kvCacheBytes, int blockSize, int maxNumSeqs,
                          int maxBatchedTokens, int maxModelLen, int maxLoras, int maxCpuLoras, int maxLoraRank,
                          int maxWaiting, int minSlotSteps, WeightFormat weightFormat, boolean weightsInHeap) {
        this(backend, threads, kvCacheBytes, blockSize, maxNumSeqs, maxBatchedTokens, maxModelLen, maxLoras,
                maxCpuLoras, maxLoraRank, maxWaiting, minSlotSteps, weightFormat, weightsInHeap, AUTO_CPU_LORA_MEMORY);
    }

    /** The host tier's byte budget: {@code maxCpuLoraMemory}, or a quarter of the maximum heap when auto. */
    public long hostCopyBudget() {
        return maxCpuLoraMemory == AUTO_CPU_LORA_MEMORY ? Runtime.getRuntime().maxMemory() / 4 : maxCpuLoraMemory;
    }

    /** Settings with the default {@code weights-in-heap}. */
    public EngineSettings(String backend, int threads, long kvCacheBytes, int blockSize, int maxNumSeqs,
                          int maxBatchedTokens, int maxModelLen, int maxLoras, int maxCpuLoras, int maxLoraRank,
                          int maxWaiting, int minSlotSteps, WeightFormat weightFormat) {
        this(backend, threads, kvCacheBytes, blockSize, maxNumSeqs, maxBatchedTokens, maxModelLen, maxLoras,
                maxCpuLoras, maxLoraRank, maxWaiting, minSlotSteps, weightFormat, DEFAULT_WEIGHTS_IN_HEAP);
    }

    /** Settings with the weights as the file stores them. */
    public EngineSettings(String backend, int threads, long kvCacheBytes, int blockSize, int maxNumSeqs,
                          int maxBatchedTokens, int maxModelLen, int maxLoras, int maxCpuLoras, int maxLoraRank,
                          int maxWaiting, int minSlotSteps) {
        this(backend, threads, kvCacheBytes, blockSize, maxNumSeqs, maxBatchedTokens, maxModelLen, maxLoras,
                maxCpuLoras, maxLoraRank, maxWaiting, minSlotSteps, WeightFormat.NATIVE);
    }

    /** Settings with the default {@code min-slot-steps}. */
    public EngineSettings(String backend, int threads, long kvCacheBytes, int blockSize, int maxNumSeqs,
                          int maxBatchedTokens, int maxModelLen, int maxLoras, int maxCpuLoras, int maxLoraRank,
                          int maxWaiting) {
        this(backend, threads, kvCacheBytes, blockSize, maxNumSeqs, maxBatchedTokens, maxModelLen, maxLoras,
                maxCpuLoras, maxLoraRank, maxWaiting, DEFAULT_MIN_SLOT_STEPS);
    }

    public static EngineSettings fromConfig(Config root) {
        Config c = root.getConfig("quiver.engine");
        int threads = c.getInt("threads");
        return new EngineSettings(c.getString("backend"),
                threads > 0 ? threads : Runtime.getRuntime().availableProcessors(),
                c.getBytes("kv-cache-memory"), c.getInt("block-size"), c.getInt("max-num-seqs"),
                c.getInt("max-num-batched-tokens"), c.getInt("max-model-len"), c.getInt("max-loras"),
                c.getInt("max-cpu-loras"), c.getInt("max-lora-rank"), c.getInt("max-waiting"),
                c.getInt("min-slot-steps"), weightFormat(c), c.getBoolean("weights-in-heap"), cpuLoraMemory(c));
    }

    /** {@code max-cpu-lora-memory}: auto, or a size in bytes (e.g. 2GiB). */
    private static long cpuLoraMemory(Config c) {
        String key = "max-cpu-lora-memory";
        if (c.getValue(key).unwrapped() instanceof String v && v.trim().equalsIgnoreCase("auto")) {
            return AUTO_CPU_LORA_MEMORY;
        }
        long bytes = c.getBytes(key);
        if (bytes <= 0) {
            throw new ConfigException.BadValue(c.origin(), "quiver.engine." + key,
                    "must be auto or a positive size (e.g. 2GiB), got " + bytes + " bytes");
        }
        return bytes;
    }

    /** {@code weight-format}, an unknown value refused as a config error naming the key and the allowed values. */
    private static WeightFormat weightFormat(Config c) {
        String key = "quiver.engine.weight-format";
        try {
            return WeightFormat.parse(c.getString("weight-format"), key);
        } catch (IllegalArgumentException e) {
            throw new ConfigException.BadValue(c.origin(), key, e.getMessage());
        }
    }

    /** The defaults of reference.conf. */
    public static EngineSettings defaults() {
        return fromConfig(ConfigFactory.defaultReference());
    }

    public EngineSettings withKvCacheBytes(long bytes) {
        return new EngineSettings(backend, threads, bytes, blockSize, maxNumSeqs, maxBatchedTokens, maxModelLen,
                maxLoras, maxCpuLoras, maxLoraRank, maxWaiting, minSlotSteps, weightFormat, weightsInHeap,
                maxCpuLoraMemory);
    }

    public EngineSettings withBatch(int seqs, int tokens) {
        return new EngineSettings(backend, threads, kvCacheBytes, blockSize, seqs, tokens, maxModelLen, maxLoras,
                maxCpuLoras, maxLoraRank, maxWaiting, minSlotSteps, weightFormat, weightsInHeap, maxCpuLoraMemory);
    }

    public EngineSettings withLoras(int slots, int host) {
        return new EngineSettings(backend, threads, kvCacheBytes, blockSize, maxNumSeqs, maxBatchedTokens,
                maxModelLen, slots, host, maxLoraRank, maxWaiting, minSlotSteps, weightFormat, weightsInHeap,
                maxCpuLoraMemory);
    }

    public EngineSettings withThreads(int n) {
        return new EngineSettings(backend, n, kvCacheBytes, blockSize, maxNumSeqs, maxBatchedTokens, maxModelLen,
                maxLoras, maxCpuLoras, maxLoraRank, maxWaiting, minSlotSteps, weightFormat, weightsInHeap,
                maxCpuLoraMemory);
    }

    public EngineSettings withMinSlotSteps(int n) {
        return new EngineSettings(backend, threads, kvCacheBytes, blockSize, maxNumSeqs, maxBatchedTokens,
                maxModelLen, maxLoras, maxCpuLoras, maxLoraRank, maxWaiting, n, weightFormat, weightsInHeap,
                maxCpuLoraMemory);
    }

    public EngineSettings withMaxWaiting(int n) {
        return new EngineSettings(backend, threads, kvCacheBytes, blockSize, maxNumSeqs, maxBatchedTokens,
                maxModelLen, maxLoras, maxCpuLoras, maxLoraRank, n, minSlotSteps, weightFormat, weightsInHeap,
                maxCpuLoraMemory);
    }

    public EngineSettings withWeightFormat(WeightFormat f) {
        return new EngineSettings(backend, threads, kvCacheBytes, blockSize, maxNumSeqs, maxBatchedTokens,
                maxModelLen, maxLoras, maxCpuLoras, maxLoraRank, maxWaiting, minSlotSteps, f, weightsInHeap,
                maxCpuLoraMemory);
    }

    public EngineSettings withCpuLoraMemory(long bytes) {
        return new EngineSettings(backend, threads, kvCacheBytes, blockSize, maxNumSeqs, maxBatchedTokens,
                maxModelLen, maxLoras, maxCpuLoras, maxLoraRank, maxWaiting, minSlotSteps, weightFormat,
                weightsInHeap, bytes);
    }

    public EngineSettings withWeightsInHeap(boolean inHeap) {
        return new EngineSettings(backend, threads, kvCacheBytes, blockSize, maxNumSeqs, maxBatchedTokens,
                maxModelLen, maxLoras, maxCpuLoras, maxLoraRank, maxWaiting, minSlotSteps, weightFormat, inHeap,
                maxCpuLoraMemory);
    }
}
