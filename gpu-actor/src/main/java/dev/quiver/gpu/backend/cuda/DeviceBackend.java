package dev.quiver.gpu.backend.cuda;

import dev.quiver.gpu.backend.Backend;
import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.DTypes;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.model.WeightMatrix;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The host side of the device backends, shared by {@link CudaBackend} (kernels on the GPU through the JCuda
 * driver API) and {@code TwinBackend} (tests: the same launches run by the kernels' Java twins): uploading the
 * weights, laying out adapter slots and their offset tables, packing each step's inputs ({@link StepLayout}),
 * planning the launches ({@link LaunchPlanner}) and reading the logits back. Subclasses only move bytes and
 * launch.
 *
 * <p>Everything is called from the thread that constructed the backend (the engine thread; a CUDA context is
 * current on one thread), and each entry point checks it and makes the backend's context current there
 * ({@link #makeContextCurrent}), so two backends on one thread (tests) never issue work into each other's context.
 *
 * <p>Ordering: every copy, zero-fill and launch a subclass issues is ordered before the launches that follow it
 * (on one compute stream for CUDA), except adapter copies ({@link #copySlot}), which may overlap the base part of
 * a step until {@link #awaitSlots} just before its first LoRA launch. Every {@link #forward} ends with {@link
 * #synchronize}, so a kernel fault fails the step that caused it, whether or not the step had logit rows.
 */
public abstract class DeviceBackend implements Backend {
    /**
     * @param numKvBlocks       KV cache blocks of blockSize tokens
     * @param numSlots          adapter slots (max-loras)
     * @param maxRows           most token rows in one step (max-num-batched-tokens); sizes the activations
     * @param maxLoraRank       largest adapter rank a slot holds
     * @param tensorCoreMinRows projections over at least this many rows use tensor cores (1..9)
     */
    public record Settings(int numKvBlocks, int blockSize, int numSlots, int maxRows, int maxLoraRank,
                           int tensorCoreMinRows) {
        public Settings {
            if (numKvBlocks <= 0 || blockSize <= 0 || numSlots < 0 || maxRows <= 0 || maxLoraRank <= 0) {
                throw new IllegalArgumentException("invalid device backend settings " + this);
            }
        }

        public static Settings of(int numKvBlocks, int blockSize, int numSlots, int maxRows, int maxLoraRank) {
            return new Settings(numKvBlocks, blockSize, numSlots, maxRows, maxLoraRank,
                    LaunchPlanner.MATVEC_MAX_ROWS + 1);
        }
    }

    protected final ModelConfig c;
    protected final Settings settings;
    protected final WeightType weightType;
    protected final LaunchPlanner planner;
    /** Floats of {@link Buffers#SLOTS} each slot owns. */
    protected final long slotCapacity;
    private final Thread owner;
    private final Map<String, String> aliases = new HashMap<>();
    private final long[] aTable;   // [layers * 7, numSlots] host mirror of LORA_A
    private final long[] bTable;   // [layers * 7, numSlots] host mirror of LORA_B
    private final int[] ranks;     // [numSlots], 0 = empty
    private final float[] scales;  // [numSlots]
    private final SlotLayout[] resident;
    private int lastLogitRows;
    private Consumer<Launch> afterLaunch;

    protected DeviceBackend(ModelConfig c, DType modelDType, Settings settings) {
        this.c = c;
        this.settings = settings;
        this.weightType = WeightType.forModel(modelDType);
        this.planner = new LaunchPlanner(c, weightType, settings.numKvBlocks(), settings.blockSize(),
                settings.numSlots(), settings.tensorCoreMinRows());
        this.slotCapacity = SlotLayout.capacityFloats(c, settings.maxLoraRank());
        this.owner = Thread.currentThread();
        int entries = c.numLayers() * LoraModule.COUNT * settings.numSlots();
        aTable = new long[entries];
        bTable = new long[entries];
        Arrays.fill(aTable, -1);
        Arrays.fill(bTable, -1);
        ranks = new int[settings.numSlots()];
        scales = new float[settings.numSlots()];
        resident = new SlotLayout[settings.numSlots()];
    }

    /** What this backend will allocate, before anything is. */
    public DeviceBudget budget() {
        return DeviceBudget.of(c, weightType, settings.numKvBlocks(), settings.blockSize(), settings.numSlots(),
                settings.maxLoraRank(), settings.maxRows());
    }

    // ---- what a subclass provides ----

    /** Allocates a device buffer, zero-filled before any later copy or launch touches it. */
    protected abstract void allocate(String buffer, long bytes);

    /**
     * Copies src's remaining bytes to {@code buffer + offset}, ordered before every later copy and launch (but not
     * necessarily complete on return); src may be reused as soon as this returns.
     */
    protected abstract void copyIn(String buffer, long offset, ByteBuffer src);

    /** Copies the step's packed ints to {@link Buffers#STEP} (growing it if needed), ordered before the launches. */
    protected abstract void copyStep(int[] data);

    /**
     * Starts copying adapter {@code a}, packed as {@code layout}, into slot {@code slot} (which begins {@code
     * byteOffset} bytes into {@link Buffers#SLOTS}); may return before the copy completes.
     */
    protected abstract void copySlot(int slot, long byteOffset, SlotLayout layout, LoraAdapter a);

    /** Orders the launches that follow after every pending copy into these slots. */
    protected abstract void awaitSlots(Set<Integer> slots);

    protected abstract void launch(Launch l);

    /** Copies the first n floats (or ints) of a buffer to the host after every launch so far has completed. */
    protected abstract void copyOut(String buffer, float[] dst, int n);

    protected abstract void copyOut(String buffer, int[] dst, int n);

    /** Waits until every copy and launch issued so far has completed; a kernel fault surfaces here. */
    protected abstract void synchronize();

    /** Bytes of an allocated buffer. */
    protected abstract long bufferBytes(String buffer);

    /**
     * Called by {@link #checkThread} on the owner thread: makes this backend's compute context the thread's
     * current one (another backend created on the same thread may have replaced it). Nothing by default.
     */
    protected void makeContextCurrent() {
    }

    /** The buffer a name refers to: the head is the embedding's buffer when tied. */
    protected final String real(String buffer) {
        return aliases.getOrDefault(buffer, buffer);
    }

    protected final void checkThread() {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException(name() + " backend is bound to thread '" + owner.getName()
                    + "' (its compute context is current there only) but was called from '"
                    + Thread.currentThread().getName() + "'");
        }
        makeContextCurrent();
    }

    // ---- start ----

    /** Allocates every buffer and uploads the weights; called once by the subclass constructor. */
    protected final void allocateAndUpload(ModelWeights w) {
        uploadMatrix(Buffers.EMBED, w.embedding);
        if (w.lmHead == w.embedding) {
            aliases.put(Buffers.LM_HEAD, Buffers.EMBED);
        } else {
            uploadMatrix(Buffers.LM_HEAD, w.lmHead);
        }
        uploadFloats(Buffers.FINAL_NORM, w.finalNorm);
        for (int l = 0; l < c.numLayers(); l++) {
            ModelWeights.Layer lw = w.layers[l];
            uploadFloats(Buffers.attnNorm(l), lw.attnNorm());
            uploadFloats(Buffers.mlpNorm(l), lw.mlpNorm());
            for (LoraModule m : LoraModule.values()) {
                uploadMatrix(Buffers.weight(l, m), lw.module(m.peftName));
            }
            if (c.qkvBias()) {
                uploadFloats(Buffers.bias(l, LoraModule.Q), lw.qBias());
                uploadFloats(Buffers.bias(l, LoraModule.K), lw.kBias());
                uploadFloats(Buffers.bias(l, LoraModule.V), lw.vBias());
            }
        }
        double[] inv = c.ropeInverseFrequencies();
        float[] invF = new float[inv.length];
        for (int i = 0; i < inv.length; i++) {
            invF[i] = (float) inv[i];
        }
        uploadFloats(Buffers.INV_FREQ, invF);
        allocate(Buffers.K_CACHE, c.numLayers() * planner.kvLayerBytes());
        allocate(Buffers.V_CACHE, c.numLayers() * planner.kvLayerBytes());
        int n = settings.maxRows();
        long f = 4;
        allocate(Buffers.X, f * n * c.hiddenSize());
        allocate(Buffers.XB, f * n * c.hiddenSize());
        allocate(Buffers.Q, f * n * c.qDim());
        allocate(Buffers.K, f * n * c.kvDim());
        allocate(Buffers.V, f * n * c.kvDim());
        allocate(Buffers.ATT, f * n * c.qDim());
        allocate(Buffers.GATE, f * n * c.intermediateSize());
        allocate(Buffers.UP, f * n * c.intermediateSize());
        allocate(Buffers.LORA_TMP, f * n * settings.maxLoraRank());
        allocate(Buffers.NORMED, f * n * c.hiddenSize());
        allocate(Buffers.LOGITS, f * n * c.vocabSize());
        allocate(Buffers.IDS, f * n);
        allocate(Buffers.SLOTS, Math.max(4, 4 * slotCapacity * settings.numSlots()));
        allocate(Buffers.LORA_A, Math.max(8, 8L * aTable.length));
        allocate(Buffers.LORA_B, Math.max(8, 8L * bTable.length));
        allocate(Buffers.LORA_RANK, Math.max(4, 4L * ranks.length));
        allocate(Buffers.LORA_SCALE, Math.max(4, 4L * scales.length));
        copyTables();
    }

    private void uploadFloats(String name, float[] v) {
        ByteBuffer b = ByteBuffer.allocateDirect(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        allocate(name, b.capacity());
        copyIn(name, 0, b);
    }

    /**
     * A weight matrix into a new buffer in the device weight type: BF16/F16 bytes go up as stored (straight
     * from the mapping); F32 is rounded to BF16 a chunk of rows at a time.
     */
    private void uploadMatrix(String name, WeightMatrix m) {
        allocate(name, m.bytes() / m.dtype().size() * weightType.size());
        if ((m.dtype() == DType.BF16 && weightType == WeightType.BF16)
                || (m.dtype() == DType.F16 && weightType == WeightType.F16)) {
            copyIn(name, 0, m.data().duplicate().clear());
            return;
        }
        if (m.dtype() != DType.F32 || weightType != WeightType.BF16) {
            throw new IllegalArgumentException(name + ": cannot convert " + m.dtype() + " to " + weightType);
        }
        int chunkRows = Math.max(1, (4 << 20) / (m.cols() * 2));
        ByteBuffer chunk = ByteBuffer.allocateDirect(chunkRows * m.cols() * 2).order(ByteOrder.LITTLE_ENDIAN);
        float[] row = new float[m.cols()];
        for (int r0 = 0; r0 < m.rows(); r0 += chunkRows) {
            int r1 = Math.min(m.rows(), r0 + chunkRows);
            chunk.clear();
            for (int r = r0; r < r1; r++) {
                m.row(r, row, 0);
                for (float v : row) {
                    chunk.putShort(DTypes.floatToBf16(v));
                }
            }
            chunk.flip();
            copyIn(name, (long) r0 * m.cols() * 2, chunk);
        }
    }

    private void copyTables() {
        copyIn(Buffers.LORA_A, 0, longs(aTable));
        copyIn(Buffers.LORA_B, 0, longs(bTable));
        ByteBuffer r = ByteBuffer.allocateDirect(Math.max(4, 4 * ranks.length)).order(ByteOrder.LITTLE_ENDIAN);
        r.asIntBuffer().put(ranks);
        copyIn(Buffers.LORA_RANK, 0, r.limit(4 * ranks.length));
        ByteBuffer s = ByteBuffer.allocateDirect(Math.max(4, 4 * scales.length)).order(ByteOrder.LITTLE_ENDIAN);
        s.asFloatBuffer().put(scales);
        copyIn(Buffers.LORA_SCALE, 0, s.limit(4 * scales.length));
    }

    private static ByteBuffer longs(long[] v) {
        ByteBuffer b = ByteBuffer.allocateDirect(Math.max(8, 8 * v.length)).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(v);
        return b.limit(8 * v.length);
    }

    // ---- Backend ----

    @Override
    public ModelConfig config() {
        return c;
    }

    @Override
    public int numKvBlocks() {
        return settings.numKvBlocks();
    }

    @Override
    public int blockSize() {
        return settings.blockSize();
    }

    @Override
    public int numSlots() {
        return settings.numSlots();
    }

    @Override
    public void loadSlot(int slot, LoraAdapter adapter) {
        checkThread();
        checkSlot(slot);
        if (adapter.rank > settings.maxLoraRank()) {
            throw new IllegalArgumentException("adapter " + adapter.id + " has rank " + adapter.rank
                    + ", over the " + settings.maxLoraRank() + " the slots are sized for");
        }
        SlotLayout layout = SlotLayout.of(adapter, c);
        long base = slot * slotCapacity;
        copySlot(slot, 4 * base, layout, adapter);
        long[] a = layout.aEntries(base);
        long[] b = layout.bEntries(base);
        for (int i = 0; i < a.length; i++) {
            aTable[i * settings.numSlots() + slot] = a[i];
            bTable[i * settings.numSlots() + slot] = b[i];
        }
        ranks[slot] = adapter.rank;
        scales[slot] = adapter.scale;
        resident[slot] = layout;
        copyTables();
    }

    @Override
    public void clearSlot(int slot) {
        checkThread();
        checkSlot(slot);
        for (int i = 0; i < c.numLayers() * LoraModule.COUNT; i++) {
            aTable[i * settings.numSlots() + slot] = -1;
            bTable[i * settings.numSlots() + slot] = -1;
        }
        ranks[slot] = 0;
        scales[slot] = 0;
        resident[slot] = null;
        copyTables();
    }

    private void checkSlot(int slot) {
        if (slot < 0 || slot >= settings.numSlots()) {
            throw new IllegalArgumentException("slot " + slot + " outside [0, " + settings.numSlots() + ")");
        }
    }

    @Override
    public void forward(ForwardBatch b, float[] logits) {
        checkThread();
        if (b.rows() > settings.maxRows()) {
            throw new IllegalArgumentException("a step of " + b.rows() + " rows is over the " + settings.maxRows()
                    + " the device activations are sized for (max-num-batched-tokens)");
        }
        for (int tok : b.tokens()) {
            if (tok < 0 || tok >= c.vocabSize()) {
                throw new IllegalArgumentException("token id " + tok + " outside the vocabulary of " + c.vocabSize());
            }
        }
        StepLayout layout = StepLayout.of(b, settings.blockSize());
        for (int slot : b.rowSlot()) {
            if (slot >= settings.numSlots() || (slot >= 0 && resident[slot] == null)) {
                throw new IllegalStateException("a row uses empty adapter slot " + slot);
            }
        }
        Set<Integer> used = new LinkedHashSet<>();
        int maxRank = 0;
        for (int s : layout.segments().segSlot()) {
            used.add(s);
            maxRank = Math.max(maxRank, ranks[s]);
        }
        int n = b.logitRows().length;
        if (logits.length < n * c.vocabSize()) {
            throw new IllegalArgumentException("logits array of " + logits.length + " for " + n + " rows");
        }
        copyStep(layout.data());
        boolean awaited = false;
        for (Launch l : planner.forward(layout, maxRank)) {
            if (!awaited && l.kernel() == Kernel.LORA_SHRINK) {
                // the base part of the step before the first LoRA launch overlaps a slot copy still in flight
                awaitSlots(used);
                awaited = true;
            }
            launch(l);
            if (afterLaunch != null) {
                afterLaunch.accept(l);
            }
        }
        lastLogitRows = n;
        if (n > 0) {
            copyOut(Buffers.LOGITS, logits, n * c.vocabSize());
        }
        // NOTE: also when there are no logit rows (prefill chunks only): a fault must fail this step, not the next
        synchronize();
    }

    /**
     * For diagnosis (tests): calls {@code hook} after each launch of {@link #forward}, where it may read buffers
     * with {@link #snapshot}; null turns it off.
     */
    void traceLaunches(Consumer<Launch> hook) {
        this.afterLaunch = hook;
    }

    /** A whole float buffer, after every launch so far has completed (slow; for tests). */
    float[] snapshot(String buffer) {
        checkThread();
        float[] out = new float[(int) (bufferBytes(buffer) / 4)];
        copyOut(buffer, out, out.length);
        return out;
    }

    /** The greedy token of each logit row of the last {@link #forward}, computed on the device (argmax_rows). */
    public int[] argmaxOfLastStep() {
        checkThread();
        int[] ids = new int[lastLogitRows];
        if (lastLogitRows > 0) {
            launch(planner.argmax(lastLogitRows));
            copyOut(Buffers.IDS, ids, lastLogitRows);
        }
        return ids;
    }
}
