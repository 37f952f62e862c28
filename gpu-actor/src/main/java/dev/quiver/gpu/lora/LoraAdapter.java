package dev.quiver.gpu.lora;

/**
 * A validated PEFT LoRA adapter in host memory, as float32, ready to be copied into a backend slot. For each
 * layer and targeted module it holds A ([rank, in]) and B ([out, rank]); the update to a projection's output
 * is {@code scale · B · (A · x)}. Untargeted modules (and layers a partial adapter skips) are null.
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

    public LoraAdapter(String id, int rank, float scale, int numLayers, float[][] a, float[][] b) {
        this.id = id;
        this.rank = rank;
        this.scale = scale;
        this.numLayers = numLayers;
        this.a = a;
        this.b = b;
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

    public boolean targets(LoraModule m) {
        for (int l = 0; l < numLayers; l++) {
            if (a(l, m) != null) {
                return true;
            }
        }
        return false;
    }

    /** Bytes held on the host. */
    public long bytes() {
        long n = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] != null) {
                n += 4L * (a[i].length + b[i].length);
            }
        }
        return n;
    }
}
