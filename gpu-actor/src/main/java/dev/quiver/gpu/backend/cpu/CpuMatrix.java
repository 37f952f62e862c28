package dev.quiver.gpu.backend.cpu;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.WeightMatrix;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A base-model projection as the CPU backend multiplies it: F32 or BF16 weights copied once into a heap array
 * packed into panels (quiver.engine.weights-in-heap, {@link PanelKernels}), the matrix quantised to Q8_0 into panels,
 * or read in place from the mapped file (BF16 widened in registers inside the dot product for small batches, BF16 for
 * large batches and F16 widened a few rows at a time into per-thread scratch). The forms read in place give the F32
 * row kernel's bits on the same values; the panels sum in another fixed order, so they agree with those to rounding
 * only.
 */
final class CpuMatrix {
    /**
     * From this many tokens on, BF16 rows are widened a tile at a time into scratch and multiplied by the float32
     * kernel, which then reuses each widened row for every token; below it the in-register kernel (one widening
     * per 4 tokens) wins. F16 always takes the tile path: its in-register mapping (mask, scale, blend per vector)
     * measured 0.4-0.75x of vector-widened tiles at 1-4 tokens. Both paths give the same bits, so the switch
     * cannot break batch invariance.
     */
    static final int WIDEN_FROM_TOKENS = 16;
    /** Rows widened per tile. */
    static final int TILE = 8;

    final WeightMatrix w;
    /** The same matrix quantised to Q8_0 (quiver.engine.weight-format = q8_0) in panels, multiplied instead of w; or null. */
    final PanelKernels.Q8Panels q8;
    /** w's F32 weights copied into the heap, multiplied instead of w; or null. */
    final float[] heap; // packed by PanelKernels.pack
    /** w's BF16 weights copied into the heap, multiplied instead of w; or null. */
    final short[] heapBF16; // packed by PanelKernels.packBF16

    CpuMatrix(WeightMatrix w) {
        this(w, null, null, null);
    }

    /** w multiplied as its Q8_0 quantisation q8, packed into panels here. */
    CpuMatrix(WeightMatrix w, Q8Matrix q8) {
        this(w, PanelKernels.packQ8(q8), null, null);
    }

    private CpuMatrix(WeightMatrix w, PanelKernels.Q8Panels q8, float[] heap, short[] heapBF16) {
        this.w = w;
        this.q8 = q8;
        this.heap = heap;
        this.heapBF16 = heapBF16;
    }

    /** Most elements a Java array may hold (the JVM reserves a few header words below 2^31 - 1). */
    static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

    /** Whether {@link #inHeap} copies w: F32 or BF16, and at most {@link #MAX_ARRAY} weights once packed. */
    static boolean fitsHeapArray(WeightMatrix w) {
        return (w.dtype() == DType.F32 || w.dtype() == DType.BF16)
                && PanelKernels.packedSize(w.rows(), w.cols()) <= MAX_ARRAY;
    }

    /** Bytes {@link #inHeap} takes for w (its panels' padding included); 0 if it stays in place. */
    static long heapBytes(WeightMatrix w) {
        return fitsHeapArray(w) ? PanelKernels.packedSize(w.rows(), w.cols()) * w.dtype().size() : 0;
    }

    /**
     * w with its F32 or BF16 weights copied into one heap array packed into panels, which {@link PanelKernels}
     * multiplies; w itself, read in place, when it is F16 or holds more weights than an array can.
     * NOTE: a mapped F32 matrix is one buffer, so at most 2 GiB (536 M weights; larger ones are refused at load),
     * and always fits an array: the head of an 8B Llama, 128256 x 4096 = 525 M weights, is the largest in use.
     * The size check keeps a larger matrix, should the loader ever split one over buffers, mapped.
     */
    static CpuMatrix inHeap(WeightMatrix w) {
        if (!fitsHeapArray(w)) {
            return new CpuMatrix(w);
        }
        ByteBuffer data = w.data().duplicate().clear().order(ByteOrder.LITTLE_ENDIAN);
        if (w.dtype() == DType.BF16) {
            return new CpuMatrix(w, null, null, PanelKernels.packBF16(data.asShortBuffer(), w.rows(), w.cols()));
        }
        return new CpuMatrix(w, null, PanelKernels.pack(data.asFloatBuffer(), w.rows(), w.cols()), null);
    }

    int rows() {
        return w.rows();
    }

    int cols() {
        return w.cols();
    }

    /** y[t*yStride + yOff + r] (+)= W[r,:]·x[t,:] for r in [r0, r1); scratch is this thread's. */
    void mul(float[] x, int tokens, float[] y, int yStride, int yOff, int r0, int r1, boolean accumulate,
             Scratch s) {
        if (q8 != null) {
            PanelKernels.mulQ8(q8, x, tokens, y, yStride, yOff, r0, r1, accumulate,
                    s.panelTile(tokens * PanelKernels.PANEL),
                    tokens >= PanelKernels.TILE_FROM_TOKENS ? s.weightTile(PanelKernels.PANEL * w.cols()) : null);
            return;
        }
        int cols = w.cols();
        if (heap != null) {
            PanelKernels.mul(heap, w.rows(), cols, x, tokens, y, yStride, yOff, r0, r1, accumulate,
                    s.panelTile(tokens * PanelKernels.PANEL));
            return;
        }
        if (heapBF16 != null) {
            PanelKernels.mulBF16(heapBF16, w.rows(), cols, x, tokens, y, yStride, yOff, r0, r1, accumulate,
                    s.panelTile(tokens * PanelKernels.PANEL));
            return;
        }
        switch (w.dtype()) {
            case F32 -> VectorKernels.mulF32(w.data(), cols, x, tokens, y, yStride, yOff, r0, r1, accumulate, s.lanes);
            case BF16, F16 -> {
                boolean bf16 = w.dtype() == DType.BF16;
                if (bf16 && tokens < WIDEN_FROM_TOKENS) {
                    VectorKernels.mulBF16(w.data(), cols, x, tokens, y, yStride, yOff, r0, r1, accumulate, s.lanes);
                    return;
                }
                ByteBuffer tile = s.tile(TILE * cols);
                for (int r = r0; r < r1; r += TILE) {
                    int n = Math.min(TILE, r1 - r);
                    VectorKernels.halfToFloat(w.data(), bf16, r * cols, tile, n * cols);
                    VectorKernels.mulF32(tile, cols, x, tokens, y, yStride, yOff + r, 0, n, accumulate, s.lanes);
                }
            }
            default -> throw new IllegalStateException(w.name() + ": dtype " + w.dtype() + " cannot be multiplied");
        }
    }

    /** Per-thread buffers of the CPU backend. */
    static final class Scratch {
        final float[] lanes = new float[VectorKernels.scratchSize()];
        private ByteBuffer tile = ByteBuffer.allocateDirect(0);
        private float[] floats = new float[0];
        private float[] scores = new float[0];
        private float[] panelTile = new float[0];
        private float[] weightTile = new float[0];
        private int[] cacheOffsets = new int[0];

        /** A direct little-endian buffer of at least n floats (widened half-precision weights). */
        ByteBuffer tile(int n) {
            if (tile.capacity() < n * 4) {
                tile = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.LITTLE_ENDIAN);
            }
            return tile;
        }

        /** A float array of at least n elements. */
        float[] floats(int n) {
            if (floats.length < n) {
                floats = new float[n];
            }
            return floats;
        }

        /** A float array of at least n elements for a panel's outputs (a panel only partly in a thread's range). */
        float[] panelTile(int n) {
            if (panelTile.length < n) {
                panelTile = new float[n];
            }
            return panelTile;
        }

        /** A float array of at least n elements for a Q8_0 panel dequantised whole. */
        float[] weightTile(int n) {
            if (weightTile.length < n) {
                weightTile = new float[n];
            }
            return weightTile;
        }

        /** An int array of at least n elements: the cache offsets of a sequence's positions in attention. */
        int[] cacheOffsets(int n) {
            if (cacheOffsets.length < n) {
                cacheOffsets = new int[Math.max(n, 256)];
            }
            return cacheOffsets;
        }

        float[] scores(int n) {
            if (scores.length < n) {
                scores = new float[Math.max(n, 256)];
            }
            return scores;
        }
    }
}
