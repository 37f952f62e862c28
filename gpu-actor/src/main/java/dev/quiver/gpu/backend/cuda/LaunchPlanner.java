package dev.quiver.gpu.backend.cuda;

import dev.quiver.gpu.backend.cuda.DeviceArg.F32;
import dev.quiver.gpu.backend.cuda.DeviceArg.I32;
import dev.quiver.gpu.backend.cuda.DeviceArg.Ptr;
import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns one step ({@link StepLayout}) into the list of kernel launches of the Llama forward pass, in order, with
 * grid and block sizes and arguments; pure, so plans are checked without a GPU. Per layer, as the CPU backend:
 * <pre>
 *   rmsnorm → q/k/v projections (+bias) → LoRA q/k/v → rope_kv_write → paged_attention
 *   → o projection accumulated into x (residual) → LoRA o → rmsnorm → gate/up → LoRA gate/up → silu_mul
 *   → down projection accumulated into x (residual) → LoRA down
 * </pre>
 * then the final norm gathering the logit rows, and the head. A projection over fewer than
 * {@code tensorCoreMinRows} rows takes the bandwidth-oriented matvec kernel (decode), otherwise the tensor-core
 * kernel (prefill).
 *
 * @param tensorCoreMinRows rows from which projections use tensor cores: 1..{@value #MATVEC_MAX_ROWS}+1
 */
public record LaunchPlanner(ModelConfig c, WeightType weightType, int numKvBlocks, int blockSize, int numSlots,
                            int tensorCoreMinRows) {
    /** Most rows the matvec kernel takes (QV_MATVEC_MAX_ROWS in matmul.cu). */
    public static final int MATVEC_MAX_ROWS = 8;
    /** Largest head dimension paged_attention supports (QV_ATT_MAX_HEAD_DIM in attention.cu). */
    public static final int MAX_HEAD_DIM = 256;
    static final int ROW_BLOCK = 256;
    static final int ROPE_BLOCK = 128;
    static final int ATT_BLOCK = Kernel.PAGED_ATTENTION.requiredBlock;
    static final int MMA_TILE = 32;
    static final int MMA_BLOCK = Kernel.MATMUL_MMA_BF16.requiredBlock;
    static final int MATVEC_BLOCK = 256;
    static final int LORA_SHRINK_WARPS = Kernel.LORA_SHRINK.requiredBlock / 32;

    public LaunchPlanner {
        if (tensorCoreMinRows < 1 || tensorCoreMinRows > MATVEC_MAX_ROWS + 1) {
            throw new IllegalArgumentException("tensorCoreMinRows " + tensorCoreMinRows + " outside 1.."
                    + (MATVEC_MAX_ROWS + 1));
        }
        if (c.headDim() > MAX_HEAD_DIM) {
            throw new UnsupportedOperationException("head_dim " + c.headDim() + " is over the " + MAX_HEAD_DIM
                    + " the CUDA attention kernel supports");
        }
    }

    public static LaunchPlanner of(ModelConfig c, WeightType w, int numKvBlocks, int blockSize, int numSlots) {
        return new LaunchPlanner(c, w, numKvBlocks, blockSize, numSlots, MATVEC_MAX_ROWS + 1);
    }

    /** Bytes of one layer's K (or V) cache. */
    public long kvLayerBytes() {
        return (long) numKvBlocks * blockSize * c.kvDim() * 4;
    }

    /** Byte offset of layer l, module m's entries in the LoRA offset tables ([layers * 7, numSlots] int64). */
    public long loraTableOffset(int layer, LoraModule m) {
        return ((long) layer * LoraModule.COUNT + m.ordinal()) * numSlots * 8;
    }

    /**
     * The launches of one forward step.
     *
     * @param maxRank the largest rank among the slots the step's segments use (the stride of {@link
     *                Buffers#LORA_TMP}); 0 when no row uses an adapter
     */
    public List<Launch> forward(StepLayout s, int maxRank) {
        List<Launch> out = new ArrayList<>();
        int T = s.rows();
        int h = c.hiddenSize();
        int qDim = c.qDim();
        int kvDim = c.kvDim();
        int inter = c.intermediateSize();
        out.add(new Launch(Kernel.EMBEDDING_GATHER, T, 1, ROW_BLOCK, List.of(StepLayout.at(s.tokens()),
                Ptr.of(Buffers.EMBED), new I32(weightType.code), Ptr.of(Buffers.X), new I32(T), new I32(h))));
        for (int l = 0; l < c.numLayers(); l++) {
            out.add(rmsnorm(Ptr.of(Buffers.X), Ptr.NULL, Buffers.attnNorm(l), Buffers.XB, T));
            for (LoraModule m : List.of(LoraModule.Q, LoraModule.K, LoraModule.V)) {
                Ptr bias = c.qkvBias() ? Ptr.of(Buffers.bias(l, m)) : Ptr.NULL;
                out.add(matmul(Buffers.weight(l, m), Buffers.XB, bias, output(m), T, m.out(c), m.in(c), false));
            }
            for (LoraModule m : List.of(LoraModule.Q, LoraModule.K, LoraModule.V)) {
                lora(out, s, maxRank, l, m, Buffers.XB, output(m));
            }
            Ptr kc = new Ptr(Buffers.K_CACHE, l * kvLayerBytes());
            Ptr vc = new Ptr(Buffers.V_CACHE, l * kvLayerBytes());
            out.add(new Launch(Kernel.ROPE_KV_WRITE, T, 1, ROPE_BLOCK, List.of(Ptr.of(Buffers.Q), Ptr.of(Buffers.K),
                    Ptr.of(Buffers.V), StepLayout.at(s.positions()), Ptr.of(Buffers.INV_FREQ),
                    StepLayout.at(s.slotMapping()), kc, vc, new I32(T), new I32(c.numHeads()),
                    new I32(c.numKvHeads()), new I32(c.headDim()))));
            out.add(new Launch(Kernel.PAGED_ATTENTION, T, c.numHeads(), ATT_BLOCK, List.of(Ptr.of(Buffers.Q), kc, vc,
                    StepLayout.at(s.blockTables()), StepLayout.at(s.tableStart()), StepLayout.at(s.rowSeq()),
                    StepLayout.at(s.positions()), Ptr.of(Buffers.ATT), new I32(T), new I32(c.numHeads()),
                    new I32(c.numKvHeads()), new I32(c.headDim()), new I32(blockSize),
                    new F32(attentionScale(c.headDim())))));
            out.add(matmul(Buffers.weight(l, LoraModule.O), Buffers.ATT, Ptr.NULL, Buffers.X, T, h, qDim, true));
            lora(out, s, maxRank, l, LoraModule.O, Buffers.ATT, Buffers.X);
            out.add(rmsnorm(Ptr.of(Buffers.X), Ptr.NULL, Buffers.mlpNorm(l), Buffers.XB, T));
            out.add(matmul(Buffers.weight(l, LoraModule.GATE), Buffers.XB, Ptr.NULL, Buffers.GATE, T, inter, h, false));
            out.add(matmul(Buffers.weight(l, LoraModule.UP), Buffers.XB, Ptr.NULL, Buffers.UP, T, inter, h, false));
            lora(out, s, maxRank, l, LoraModule.GATE, Buffers.XB, Buffers.GATE);
            lora(out, s, maxRank, l, LoraModule.UP, Buffers.XB, Buffers.UP);
            int n = T * inter;
            out.add(new Launch(Kernel.SILU_MUL, ceil(n, ROW_BLOCK), 1, ROW_BLOCK, List.of(Ptr.of(Buffers.GATE),
                    Ptr.of(Buffers.UP), new I32(n))));
            out.add(matmul(Buffers.weight(l, LoraModule.DOWN), Buffers.GATE, Ptr.NULL, Buffers.X, T, h, inter, true));
            lora(out, s, maxRank, l, LoraModule.DOWN, Buffers.GATE, Buffers.X);
        }
        int n = s.logitRows();
        if (n > 0) {
            out.add(rmsnorm(Ptr.of(Buffers.X), StepLayout.at(s.logitRowsAt()), Buffers.FINAL_NORM, Buffers.NORMED, n));
            out.add(matmul(Buffers.LM_HEAD, Buffers.NORMED, Ptr.NULL, Buffers.LOGITS, n, c.vocabSize(), h, false));
        }
        return out;
    }

    /** Greedy ids of the last step's logit rows into {@link Buffers#IDS}. */
    public Launch argmax(int logitRows) {
        return new Launch(Kernel.ARGMAX_ROWS, logitRows, 1, ROW_BLOCK, List.of(Ptr.of(Buffers.LOGITS),
                Ptr.of(Buffers.IDS), new I32(logitRows), new I32(c.vocabSize())));
    }

    /** 1/sqrt(headDim) rounded to float, as the CPU backend computes it. */
    public static float attentionScale(int headDim) {
        return (float) (1.0 / Math.sqrt(headDim));
    }

    private static String output(LoraModule m) {
        return switch (m) {
            case Q -> Buffers.Q;
            case K -> Buffers.K;
            case V -> Buffers.V;
            default -> throw new IllegalArgumentException(m.name());
        };
    }

    private Launch rmsnorm(Ptr in, Ptr rowMap, String weight, String outBuf, int rows) {
        return new Launch(Kernel.RMSNORM, rows, 1, ROW_BLOCK, List.of(in, rowMap, Ptr.of(weight), Ptr.of(outBuf),
                new I32(rows), new I32(c.hiddenSize()), new F32(c.rmsNormEps())));
    }

    /** y[rows, N] (+)= x[rows, K] · Wᵀ (+ bias). */
    Launch matmul(String w, String x, Ptr bias, String y, int rows, int N, int K, boolean accumulate) {
        boolean tensorCores = rows >= tensorCoreMinRows;
        List<DeviceArg> args = List.of(Ptr.of(w), Ptr.of(x), bias, Ptr.of(y), new I32(rows), new I32(N), new I32(K),
                new I32(accumulate ? 1 : 0));
        if (tensorCores) {
            return new Launch(weightType.matmul(true), ceil(N, MMA_TILE), ceil(rows, MMA_TILE), MMA_BLOCK, args);
        }
        int warps = MATVEC_BLOCK / 32;
        return new Launch(weightType.matmul(false), ceil(N, warps), 1, MATVEC_BLOCK, args);
    }

    /** Shrink then expand for every segment (y += scale · B·A·x); nothing when no row uses an adapter. */
    private void lora(List<Launch> out, StepLayout s, int maxRank, int layer, LoraModule m, String x, String y) {
        LoraSegments g = s.segments();
        if (g.isEmpty() || maxRank == 0) {
            return;
        }
        int G = g.count();
        long table = loraTableOffset(layer, m);
        out.add(new Launch(Kernel.LORA_SHRINK, G, ceil(maxRank, LORA_SHRINK_WARPS), LORA_SHRINK_WARPS * 32, List.of(
                Ptr.of(x), Ptr.of(Buffers.SLOTS), new Ptr(Buffers.LORA_A, table), Ptr.of(Buffers.LORA_RANK),
                StepLayout.at(s.segStart()),
                StepLayout.at(s.segSlot()), StepLayout.at(s.sortedRows()), Ptr.of(Buffers.LORA_TMP), new I32(G),
                new I32(m.in(c)), new I32(maxRank))));
        out.add(new Launch(Kernel.LORA_EXPAND, G, ceil(m.out(c), ROW_BLOCK), ROW_BLOCK, List.of(
                Ptr.of(Buffers.LORA_TMP), Ptr.of(Buffers.SLOTS), new Ptr(Buffers.LORA_B, table),
                Ptr.of(Buffers.LORA_RANK),
                Ptr.of(Buffers.LORA_SCALE), StepLayout.at(s.segStart()), StepLayout.at(s.segSlot()),
                StepLayout.at(s.sortedRows()), Ptr.of(y), new I32(G), new I32(m.out(c)), new I32(maxRank))));
    }

    static int ceil(int a, int b) {
        return (a + b - 1) / b;
    }
}
