package dev.quiver.gpu.lora;

/**
 * A validated PEFT LoRA adapter in host memory, as float32, ready to be copied into a backend slot. For each
 * layer and targeted module it holds A ([rank, in]) and B ([out, rank]); the update to a projection's output
 * is {@code scale · B · (A · x)}. Untargeted modules (and layers a partial adapter skips) are null.
 *
 * <p>The CPU backend expands through B transposed ({@link #bt}); that copy is made the first time a backend asks
 * for it and then kept with this host copy, so an adapter evicted from its slot and loaded again is not transposed
 * again.
 */
public final class LoraAdapter {
    /** Identity of this adapter version, e.g. {@code support-bot@3}. */
    public final String id;
    public final int rank;
    /** lora_alpha / r, or lora_alpha / sqrt(r) for rsLoRA. */
    public final float scale;
    public final float[][] a; // [layers * 7] -> [rank * in] or null
    public final float[][] b; // [layers * 7] -> [out * rank] or null
    private final int numLayers;
    private final float[][] bt; // [layers * 7] -> [rank * out], made on first use; guarded by this
    /** Bytes of every B (and so of every B transposed, once made). */
    private final long bBytes;

    public LoraAdapter(String id, int rank, float scale, int numLayers, float[][] a, float[][] b) {
        this.id = id;
        this.rank = rank;
        this.scale = scale;
        this.numLayers = numLayers;
        this.a = a;
        this.b = b;
        this.bt = new float[b.length][];
        long nb = 0;
        for (float[] x : b) {
            nb += x == null ? 0 : 4L * x.length;
        }
        this.bBytes = nb;
    }

    public int numLayers() {
        return numLayers;
    }

    public float[] a(int layer, LoraModule m) {
        return a[layer * LoraModule.COUNT + m.ordinal()];
    }

    public float[] b(int layer, LoraModule m) {
        return b[layer * LoraModule.COUNT + m.ordinal()];
    }

    /**
     * B of {@code layer}'s module {@code m} transposed to [rank, out], or null when the module is not targeted.
     * Made once per host copy, on the first call; callers must not write to it.
     */
    public float[] bt(int layer, LoraModule m) {
        int i = layer * LoraModule.COUNT + m.ordinal();
        float[] src = b[i];
        if (src == null) {
            return null;
        }
        synchronized (this) {
            if (bt[i] == null) {
                bt[i] = LoraTensors.transpose(src, src.length / rank, rank);
            }
            return bt[i];
        }
    }

    public boolean targets(LoraModule m) {
        for (int l = 0; l < numLayers; l++) {
            if (a(l, m) != null) {
                return true;
            }
        }
        return false;
    }

    /**
     * Bytes this host copy takes once a backend used it: A, B and B transposed (made on first use, counted here
     * from the start so that the host tier's budget does not grow under it). Array headers not counted.
     */
    public long hostBytes() {
        return aAndBBytes() + bBytes;
    }

    /** Bytes held on the host: A and B, and the transposed copies of B made so far. */
    public long bytes() {
        long n = aAndBBytes();
        synchronized (this) {
            for (float[] t : bt) {
                n += t == null ? 0 : 4L * t.length;
            }
        }
        return n;
    }

    private long aAndBBytes() {
        long n = bBytes;
        for (float[] x : a) {
            n += x == null ? 0 : 4L * x.length;
        }
        return n;
    }
}
