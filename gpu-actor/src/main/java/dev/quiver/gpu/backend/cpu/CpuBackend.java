package dev.quiver.gpu.backend.cpu;

import dev.quiver.gpu.backend.Backend;
import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.model.WeightFormat;
import dev.quiver.gpu.model.WeightMatrix;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The reference backend: the whole Llama forward pass in Java, multi-threaded, on the Vector API, over
 * heterogeneous multi-LoRA batches and a paged KV cache held on the heap.
 *
 * <p>Per layer: RMSNorm → q/k/v projections (+bias, +LoRA) → RoPE (HF rotate-half) → K/V written to the rows'
 * cache slots → causal attention of each row over its sequence's cached positions (GQA) → o projection (+LoRA)
 * → residual → RMSNorm → SwiGLU MLP (+LoRA on gate/up/down) → residual. LoRA is applied unmerged and grouped by
 * slot (SGMV-style): each slot's rows are gathered, shrunk through A ([rank, in]) and expanded through B ([out,
 * rank]) scaled, then added to the base projection's output.
 *
 * <p>Every output element is computed by one thread in a fixed order, so a row's result does not depend on
 * the other rows of the batch (batch invariance) nor on how it was chunked (KV-cache decode equals recompute).
 * Adapter "slots" are host arrays here: the CPU's compute memory is its host memory.
 */
public final class CpuBackend implements Backend {
    /**
     * @param threads compute threads; numKvBlocks × blockSize token positions of KV; numSlots adapter slots;
     * weightFormat how the projections and the LM head are held (Q8_0: quantised here, at construction);
     * weightsInHeap whether F32 or BF16 projections and the LM head are copied into heap arrays packed into panels at
     * construction, if the heap has room for them (read in place from the mapped file otherwise); the two sum in
     * different fixed orders, so they agree to rounding, and each is batch-invariant on its own
     */
    public record Settings(int threads, int numKvBlocks, int blockSize, int numSlots, WeightFormat weightFormat,
                           boolean weightsInHeap) {
        /** Settings with the weights as the file stores them, F32 ones read in place. */
        public Settings(int threads, int numKvBlocks, int blockSize, int numSlots) {
            this(threads, numKvBlocks, blockSize, numSlots, WeightFormat.NATIVE);
        }

        /** Settings with F32 weights read in place. */
        public Settings(int threads, int numKvBlocks, int blockSize, int numSlots, WeightFormat weightFormat) {
            this(threads, numKvBlocks, blockSize, numSlots, weightFormat, false);
        }
    }

    private final ModelWeights weights;
    private final ModelConfig c;
    private final Settings settings;
    private final Parallel parallel;
    private final CpuMatrix.Scratch[] scratch;
    private final CpuMatrix[][] proj;        // [layer][module ordinal]
    private final CpuMatrix lmHead;
    private final float[] invFreq;           // [headDim / 2]
    private final float[][] kCache;          // [layer] -> [blocks * blockSize, kvDim]
    private final float[][] vCache;          // [layer] -> [blocks * blockSize, kvDim]
    private final CpuSlot[] slots;
    private final ByteBuffer[] slotA;        // [slot] -> every A of the slot's adapter, kept for the next load
    /** Whether the F32/BF16 projections and head were copied into the heap (asked for, and the heap had room). */
    private final boolean weightsInHeap;
    /** Rows per unit of a projection's dispatch: whole panels when the weights are in the heap. */
    private final int rowGrain;

    public CpuBackend(ModelWeights weights, Settings settings) {
        this.weights = weights;
        this.c = weights.config;
        this.settings = settings;
        this.parallel = new Parallel(settings.threads());
        this.scratch = new CpuMatrix.Scratch[settings.threads()];
        for (int i = 0; i < scratch.length; i++) {
            scratch[i] = new CpuMatrix.Scratch();
        }
        long perLayer = (long) settings.numKvBlocks() * settings.blockSize() * c.kvDim();
        if (perLayer > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("KV cache of " + settings.numKvBlocks() + " blocks is too large for one "
                    + "array per layer; lower the KV memory budget");
        }
        long copies = heapCopyBytes(weights);
        weightsInHeap = settings.weightsInHeap() && settings.weightFormat() == WeightFormat.NATIVE && copies > 0
                && heapHolds(copies + 2L * c.numLayers() * perLayer * 4);
        rowGrain = weightsInHeap ? PanelKernels.PANEL : 16;
        proj = new CpuMatrix[c.numLayers()][LoraModule.COUNT];
        for (int l = 0; l < c.numLayers(); l++) {
            for (LoraModule m : LoraModule.values()) {
                proj[l][m.ordinal()] = matrix(weights.layers[l].module(m.peftName));
            }
        }
        lmHead = matrix(weights.lmHead);
        double[] inv = c.ropeInverseFrequencies();
        invFreq = new float[inv.length];
        for (int i = 0; i < inv.length; i++) {
            invFreq[i] = (float) inv[i];
        }
        kCache = new float[c.numLayers()][(int) perLayer];
        vCache = new float[c.numLayers()][(int) perLayer];
        slots = new CpuSlot[settings.numSlots()];
        slotA = new ByteBuffer[settings.numSlots()];
    }

    /**
     * A projection as this backend multiplies it: in place from the file, copied into the heap (F32 or BF16 with
     * weights-in-heap), or quantised to Q8_0 now.
     * NOTE: Q8_0 and the heap copy cover every layer projection and the LM head (the largest matrix read per step);
     * the embedding stays mapped, as only one row of it is read per token.
     */
    private CpuMatrix matrix(WeightMatrix w) {
        if (settings.weightFormat() == WeightFormat.Q8_0) {
            return new CpuMatrix(w, Q8Matrix.quantize(w, parallel));
        }
        return weightsInHeap ? CpuMatrix.inHeap(w) : new CpuMatrix(w);
    }

    /** Bytes the heap copies of the F32/BF16 projections and the LM head take. */
    private static long heapCopyBytes(ModelWeights weights) {
        long bytes = CpuMatrix.heapBytes(weights.lmHead);
        for (ModelWeights.Layer layer : weights.layers) {
            for (LoraModule m : LoraModule.values()) {
                bytes += CpuMatrix.heapBytes(layer.module(m.peftName));
            }
        }
        return bytes;
    }

    /**
     * Whether the heap can take {@code bytes} more (the weights' copies and the KV cache) with a quarter of its
     * free room left for everything else.
     * NOTE: with a heap too small for the copies the weights stay mapped (as before weights-in-heap existed), so a
     * model larger than the heap still loads; {@link #weightsInHeap()} says which happened, the engine logs it.
     */
    private static boolean heapHolds(long bytes) {
        Runtime rt = Runtime.getRuntime();
        long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        return bytes <= free / 4 * 3;
    }

    /** Whether the F32/BF16 projections and the LM head are held in heap arrays (else read in place from the file). */
    public boolean weightsInHeap() {
        return weightsInHeap;
    }

    @Override
    public String name() {
        return "cpu";
    }

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
        return slots.length;
    }

    @Override
    public void loadSlot(int slot, LoraAdapter adapter) {
        if (adapter.numLayers() != c.numLayers()) {
            throw new IllegalArgumentException("adapter " + adapter.id + " has " + adapter.numLayers()
                    + " layers, the model " + c.numLayers());
        }
        long bytes = 0;
        for (float[] a : adapter.a) {
            bytes += a == null ? 0 : 4L * a.length;
        }
        // NOTE: one direct buffer per slot, reused by the next adapter loaded there while it fits: allocating
        // (and zeroing) a direct buffer per matrix on every load cost more than copying into it. Safe because a
        // slot is only loaded between steps, on the thread that runs them.
        if (slotA[slot] == null || slotA[slot].capacity() < bytes) {
            slotA[slot] = null;
            slotA[slot] = ByteBuffer.allocateDirect(Math.toIntExact(bytes));
        }
        slots[slot] = new CpuSlot(adapter, slotA[slot]);
    }

    /**
     * An adapter as this backend computes with it: A as PEFT stores it ([rank, in], for the shrink's dot
     * products) and B transposed ([rank, out]), so the expand is a vectorised sum of scaled rows. Bᵀ is the host
     * copy's own ({@link LoraAdapter#bt}, transposed once per host copy, not per slot load); A is copied into the
     * slot's direct buffer (the one weight type the kernels read), each matrix a slice of it.
     */
    private static final class CpuSlot {
        final LoraAdapter adapter;
        final float[][] bt; // [layers * 7] -> [rank * out] or null
        final ByteBuffer[] a; // [layers * 7] -> [rank, in] little-endian floats, or null

        CpuSlot(LoraAdapter a, ByteBuffer slotA) {
            adapter = a;
            bt = new float[a.b.length][];
            this.a = new ByteBuffer[a.a.length];
            int off = 0;
            for (int i = 0; i < this.a.length; i++) {
                if (a.a[i] != null) {
                    int len = 4 * a.a[i].length;
                    this.a[i] = slotA.slice(off, len).order(ByteOrder.LITTLE_ENDIAN);
                    this.a[i].asFloatBuffer().put(a.a[i]);
                    off += len;
                }
            }
            for (int i = 0; i < bt.length; i++) {
                bt[i] = a.bt(i / LoraModule.COUNT, LoraModule.values()[i % LoraModule.COUNT]);
            }
        }

        ByteBuffer a(int layer, LoraModule m) {
            return a[layer * LoraModule.COUNT + m.ordinal()];
        }

        float[] bt(int layer, LoraModule m) {
            return bt[layer * LoraModule.COUNT + m.ordinal()];
        }
    }

    @Override
    public void clearSlot(int slot) {
        slots[slot] = null;
    }

    /** Rows of the batch grouped by adapter slot, in first-appearance order. */
    private record LoraGroup(CpuSlot slot, int[] rows) {
        LoraAdapter adapter() {
            return slot.adapter;
        }

    }

    private List<LoraGroup> groups(ForwardBatch b) {
        Map<Integer, List<Integer>> bySlot = new LinkedHashMap<>();
        for (int r = 0; r < b.rows(); r++) {
            int s = b.rowSlot()[r];
            if (s >= 0) {
                if (slots[s] == null) {
                    throw new IllegalStateException("row " + r + " uses empty adapter slot " + s);
                }
                bySlot.computeIfAbsent(s, k -> new ArrayList<>()).add(r);
            }
        }
        List<LoraGroup> out = new ArrayList<>();
        bySlot.forEach((s, rows) -> out.add(new LoraGroup(slots[s], rows.stream().mapToInt(Integer::intValue).toArray())));
        return out;
    }

    @Override
    public void forward(ForwardBatch b, float[] logits) {
        final int T = b.rows();
        final int h = c.hiddenSize();
        final int qDim = c.qDim();
        final int kvDim = c.kvDim();
        final int inter = c.intermediateSize();
        final List<LoraGroup> groups = groups(b);

        Activations a = activations(T);
        float[] x = a.x;
        for (int t = 0; t < T; t++) {
            int tok = b.tokens()[t];
            if (tok < 0 || tok >= c.vocabSize()) {
                throw new IllegalArgumentException("token id " + tok + " outside the vocabulary of " + c.vocabSize());
            }
            weights.embedding.row(tok, x, t * h);
        }
        float[] cos = a.cos;
        float[] sin = a.sin;
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < invFreq.length; i++) {
                float angle = (float) b.positions()[t] * invFreq[i];
                cos[t * invFreq.length + i] = (float) Math.cos(angle);
                sin[t * invFreq.length + i] = (float) Math.sin(angle);
            }
        }
        int[] slotOfRow = cacheSlots(b);

        float[] xb = a.xb;
        float[] q = a.q;
        float[] k = a.k;
        float[] v = a.v;
        float[] att = a.att;
        float[] gate = a.gate;
        float[] up = a.up;

        for (int l = 0; l < c.numLayers(); l++) {
            final int layer = l;
            ModelWeights.Layer lw = weights.layers[l];
            rmsNorm(x, lw.attnNorm(), xb, T);
            CpuMatrix mq = proj[l][LoraModule.Q.ordinal()];
            CpuMatrix mk = proj[l][LoraModule.K.ordinal()];
            CpuMatrix mv = proj[l][LoraModule.V.ordinal()];
            // NOTE: each adapter's LoRA is shrunk (A·x) before the projection's dispatch and expanded by the thread
            // that computed the base rows, in the order base, bias, LoRA, as separate passes would: one dispatch per
            // projection instead of two (at batch 1 the extra hand-offs cost a rank-16 adapter a quarter of the step).
            LoraShrunk lq = shrink(groups, l, LoraModule.Q, xb);
            LoraShrunk lk = shrink(groups, l, LoraModule.K, xb);
            LoraShrunk lv = shrink(groups, l, LoraModule.V, xb);
            float[] qBias = c.qkvBias() ? lw.qBias() : null;
            float[] kBias = c.qkvBias() ? lw.kBias() : null;
            float[] vBias = c.qkvBias() ? lw.vBias() : null;
            // one dispatch over the concatenated q|k|v output rows
            final float[] xbF = xb;
            parallel.forRange(qDim + 2 * kvDim, rowGrain, (s, e, wk) -> {
                projectSplit(mq, 0, xbF, T, q, qBias, lq, layer, LoraModule.Q, s, e, wk);
                projectSplit(mk, qDim, xbF, T, k, kBias, lk, layer, LoraModule.K, s, e, wk);
                projectSplit(mv, qDim + kvDim, xbF, T, v, vBias, lv, layer, LoraModule.V, s, e, wk);
            });
            rope(q, c.numHeads(), cos, sin, T);
            rope(k, c.numKvHeads(), cos, sin, T);
            for (int t = 0; t < T; t++) {
                System.arraycopy(k, t * kvDim, kCache[l], slotOfRow[t] * kvDim, kvDim);
                System.arraycopy(v, t * kvDim, vCache[l], slotOfRow[t] * kvDim, kvDim);
            }
            attention(b, l, q, att);
            CpuMatrix mo = proj[l][LoraModule.O.ordinal()];
            final float[] attF = att;
            final float[] xF = x;
            LoraShrunk lo = shrink(groups, l, LoraModule.O, att);
            parallel.forRange(h, rowGrain, (s, e, wk) -> {
                mo.mul(attF, T, xF, h, 0, s, e, true, scratch[wk]);
                expand(lo, layer, LoraModule.O, xF, h, s, e, wk);
            });

            rmsNorm(x, lw.mlpNorm(), xb, T);
            CpuMatrix mg = proj[l][LoraModule.GATE.ordinal()];
            CpuMatrix mu = proj[l][LoraModule.UP.ordinal()];
            LoraShrunk lg = shrink(groups, l, LoraModule.GATE, xb);
            LoraShrunk lu = shrink(groups, l, LoraModule.UP, xb);
            // one dispatch for gate, up (LoRA deltas included) and SiLU: each thread owns the same feature range of
            // gate and up, so it can apply SiLU to its range as soon as both are done (the arithmetic is unchanged)
            parallel.forRange(inter, rowGrain, (s, e, wk) -> {
                mg.mul(xbF, T, gate, inter, 0, s, e, false, scratch[wk]);
                expand(lg, layer, LoraModule.GATE, gate, inter, s, e, wk);
                mu.mul(xbF, T, up, inter, 0, s, e, false, scratch[wk]);
                expand(lu, layer, LoraModule.UP, up, inter, s, e, wk);
                for (int t = 0; t < T; t++) {
                    VectorKernels.siluMul(gate, up, t * inter + s, t * inter + e);
                }
            });
            CpuMatrix md = proj[l][LoraModule.DOWN.ordinal()];
            LoraShrunk ld = shrink(groups, l, LoraModule.DOWN, gate);
            parallel.forRange(h, rowGrain, (s, e, wk) -> {
                md.mul(gate, T, xF, h, 0, s, e, true, scratch[wk]);
                expand(ld, layer, LoraModule.DOWN, xF, h, s, e, wk);
            });
        }

        int[] rows = b.logitRows();
        int n = rows.length;
        float[] last = new float[n * h];
        for (int i = 0; i < n; i++) {
            System.arraycopy(x, rows[i] * h, last, i * h, h);
        }
        float[] normed = new float[n * h];
        rmsNorm(last, weights.finalNorm, normed, n);
        int vocab = c.vocabSize();
        parallel.forRange(vocab, 64, (s, e, wk) -> lmHead.mul(normed, n, logits, vocab, 0, s, e, false, scratch[wk]));
    }

    /**
     * Activation buffers reused from step to step (forward runs on the engine thread only), grown to the
     * largest batch seen; sized [rows, dim]. Kernels only read the first rows × dim elements.
     */
    private static final class Activations {
        final int rows;
        final float[] x, xb, q, k, v, att, gate, up, cos, sin;

        Activations(int rows, ModelConfig c) {
            this.rows = rows;
            x = new float[rows * c.hiddenSize()];
            xb = new float[rows * c.hiddenSize()];
            q = new float[rows * c.qDim()];
            k = new float[rows * c.kvDim()];
            v = new float[rows * c.kvDim()];
            att = new float[rows * c.qDim()];
            gate = new float[rows * c.intermediateSize()];
            up = new float[rows * c.intermediateSize()];
            cos = new float[rows * c.headDim() / 2];
            sin = new float[rows * c.headDim() / 2];
        }
    }

    private Activations activations;

    private Activations activations(int rows) {
        if (activations == null || activations.rows < rows) {
            activations = new Activations(Math.max(rows, activations == null ? 0 : activations.rows * 2), c);
        }
        return activations;
    }

    /**
     * Rows [s, e) of a dispatch over concatenated projections, for the one of them whose rows start at {@code base}:
     * y = W·x, plus the bias and the LoRA deltas (in that order) for the rows of that range that are W's.
     */
    private void projectSplit(CpuMatrix m, int base, float[] x, int T, float[] y, float[] bias, LoraShrunk lora,
                              int layer, LoraModule module, int s, int e, int wk) {
        int r0 = Math.max(s, base) - base;
        int r1 = Math.min(e, base + m.rows()) - base;
        if (r0 >= r1) {
            return;
        }
        int n = m.rows();
        m.mul(x, T, y, n, 0, r0, r1, false, scratch[wk]);
        if (bias != null) {
            for (int t = 0; t < T; t++) {
                for (int i = r0; i < r1; i++) {
                    y[t * n + i] += bias[i];
                }
            }
        }
        expand(lora, layer, module, y, n, r0, r1, wk);
    }

    private int[] cacheSlots(ForwardBatch b) {
        int bs = settings.blockSize();
        int[] out = new int[b.rows()];
        for (int t = 0; t < b.rows(); t++) {
            int[] table = b.blockTables()[b.rowSeq()[t]];
            int p = b.positions()[t];
            if (p / bs >= table.length) {
                throw new IllegalStateException("position " + p + " has no KV block (table of " + table.length + ")");
            }
            out[t] = table[p / bs] * bs + p % bs;
        }
        return out;
    }

    private void rmsNorm(float[] in, float[] w, float[] out, int rows) {
        int h = c.hiddenSize();
        float eps = c.rmsNormEps();
        for (int t = 0; t < rows; t++) {
            int o = t * h;
            float ss = 0f;
            for (int i = 0; i < h; i++) {
                ss += in[o + i] * in[o + i];
            }
            float inv = (float) (1.0 / Math.sqrt(ss / h + eps));
            for (int i = 0; i < h; i++) {
                out[o + i] = w[i] * (in[o + i] * inv);
            }
        }
    }

    /** Rotary embedding in the HF rotate-half layout, in place, for [T, heads, headDim]. */
    private void rope(float[] v, int heads, float[] cos, float[] sin, int T) {
        int hd = c.headDim();
        int half = hd / 2;
        for (int t = 0; t < T; t++) {
            for (int hh = 0; hh < heads; hh++) {
                int o = (t * heads + hh) * hd;
                for (int i = 0; i < half; i++) {
                    float co = cos[t * half + i];
                    float si = sin[t * half + i];
                    float x1 = v[o + i];
                    float x2 = v[o + i + half];
                    v[o + i] = x1 * co - x2 * si;
                    v[o + i + half] = x2 * co + x1 * si;
                }
            }
        }
    }

    /** Causal attention of each row over positions [0, its position] of its own sequence, from the cache. */
    private void attention(ForwardBatch b, int layer, float[] q, float[] out) {
        int heads = c.numHeads();
        int hd = c.headDim();
        int group = heads / c.numKvHeads();
        int kvDim = c.kvDim();
        int qDim = c.qDim();
        int bs = settings.blockSize();
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] kc = kCache[layer];
        float[] vc = vCache[layer];
        parallel.forRange(b.rows() * heads, 1, (s, e, wk) -> {
            CpuMatrix.Scratch sc = scratch[wk];
            for (int item = s; item < e; item++) {
                int t = item / heads;
                int hh = item % heads;
                int kvh = hh / group;
                int[] table = b.blockTables()[b.rowSeq()[t]];
                int len = b.positions()[t] + 1;
                float[] scores = sc.scores(len);
                int[] at = sc.cacheOffsets(len); // position j's K and V at the same offset in kc and vc
                for (int j = 0; j < len; j++) {
                    at[j] = ((table[j / bs] * bs) + j % bs) * kvDim + kvh * hd;
                }
                int qo = t * qDim + hh * hd;
                int j = 0;
                for (; j + 4 <= len; j += 4) {
                    VectorKernels.dot4(q, qo, kc, at[j], at[j + 1], at[j + 2], at[j + 3], hd, sc.lanes, scores, j);
                }
                for (; j < len; j++) {
                    scores[j] = VectorKernels.dot(q, qo, kc, at[j], hd, sc.lanes);
                }
                float max = Float.NEGATIVE_INFINITY;
                for (j = 0; j < len; j++) {
                    float d = scores[j] * scale;
                    scores[j] = d;
                    max = Math.max(max, d);
                }
                float sum = 0f;
                for (j = 0; j < len; j++) {
                    float p = (float) Math.exp(scores[j] - max);
                    scores[j] = p;
                    sum += p;
                }
                float inv = 1f / sum;
                for (j = 0; j < len; j++) {
                    scores[j] *= inv;
                }
                VectorKernels.weightedSum(scores, len, vc, at, out, t * qDim + hh * hd, hd);
            }
        });
    }

    /** One module's LoRA in a step: the groups that adapt it, and each group's rows shrunk through A ([rows, rank]). */
    private record LoraShrunk(List<LoraGroup> groups, float[][] shrunk) {
    }

    /**
     * A·x[row] for each group's rows that adapts module m of this layer (SGMV-style shrink, groups in parallel);
     * null when no group adapts it. x is [T, in].
     */
    private LoraShrunk shrink(List<LoraGroup> groups, int layer, LoraModule m, float[] x) {
        if (groups.isEmpty()) {
            return null;
        }
        List<LoraGroup> active = new ArrayList<>(groups.size());
        for (LoraGroup g : groups) {
            if (g.adapter().a(layer, m) != null) {
                active.add(g);
            }
        }
        if (active.isEmpty()) {
            return null;
        }
        int in = m.in(c);
        int ng = active.size();
        float[][] shrunk = new float[ng][];
        parallel.forRange(ng, 1, (s, e, wk) -> {
            for (int gi = s; gi < e; gi++) {
                LoraGroup g = active.get(gi);
                int n = g.rows().length;
                int r = g.adapter().rank;
                float[] xg = new float[n * in];
                for (int i = 0; i < n; i++) {
                    System.arraycopy(x, g.rows()[i] * in, xg, i * in, in);
                }
                float[] tg = new float[n * r];
                VectorKernels.mulF32(g.slot().a(layer, m), in, xg, n, tg, r, 0, 0, r, false, scratch[wk].lanes);
                shrunk[gi] = tg;
            }
        });
        return new LoraShrunk(active, shrunk);
    }

    /**
     * y[row, o] += scale · (B·shrunk[row])[o] for the output features o in [s, e) of each group's rows (the expand,
     * through Bᵀ as an axpy); nothing when lora is null. y is [T, out].
     */
    private void expand(LoraShrunk lora, int layer, LoraModule m, float[] y, int out, int s, int e, int wk) {
        if (lora == null) {
            return;
        }
        float[] tmp = scratch[wk].floats(out);
        for (int gi = 0; gi < lora.groups().size(); gi++) {
            LoraGroup g = lora.groups().get(gi);
            int n = g.rows().length;
            int r = g.adapter().rank;
            float[] bt = g.slot().bt(layer, m);
            float sc = g.adapter().scale;
            for (int i = 0; i < n; i++) {
                VectorKernels.expand(bt, r, out, lora.shrunk()[gi], i * r, tmp, 0, s, e);
                int yo = g.rows()[i] * out;
                for (int o = s; o < e; o++) {
                    y[yo + o] += sc * tmp[o];
                }
            }
        }
    }

    @Override
    public void close() {
        parallel.close();
    }
}
