package dev.quiver.gpu.backend.cuda;

import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.ModelConfig;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Where an adapter's matrices lie inside its slot's device allocation: for each (layer, module) it targets, A
 * ([rank, in] f32, as PEFT stores it) then B ([out, rank] f32), packed back to back in layer then module
 * order; untargeted entries are −1 (and −1 in the LoRA offset tables, which the kernels skip). Offsets are in
 * floats.
 * Every slot is allocated for {@link #capacityFloats} of the largest rank, so any adapter fits any slot.
 */
public record SlotLayout(int rank, float scale, long[] aOffset, long[] bOffset, long floats) {

    /** Floats a slot needs to hold any adapter of rank at most maxRank targeting every module of every layer. */
    public static long capacityFloats(ModelConfig c, int maxRank) {
        long perLayer = 0;
        for (LoraModule m : LoraModule.values()) {
            perLayer += (long) maxRank * (m.in(c) + m.out(c));
        }
        return perLayer * c.numLayers();
    }

    public static SlotLayout of(LoraAdapter a, ModelConfig c) {
        if (a.numLayers() != c.numLayers()) {
            throw new IllegalArgumentException("adapter " + a.id + " has " + a.numLayers() + " layers, the model "
                    + c.numLayers());
        }
        int n = c.numLayers() * LoraModule.COUNT;
        long[] ao = new long[n];
        long[] bo = new long[n];
        Arrays.fill(ao, -1);
        Arrays.fill(bo, -1);
        long at = 0;
        for (int l = 0; l < c.numLayers(); l++) {
            for (LoraModule m : LoraModule.values()) {
                float[] am = a.a(l, m);
                float[] bm = a.b(l, m);
                if (am == null) {
                    continue;
                }
                if (am.length != a.rank * m.in(c) || bm == null || bm.length != m.out(c) * a.rank) {
                    throw new IllegalArgumentException("adapter " + a.id + " layer " + l + " " + m.peftName
                            + ": A/B shapes do not match rank " + a.rank);
                }
                int i = l * LoraModule.COUNT + m.ordinal();
                ao[i] = at;
                at += am.length;
                bo[i] = at;
                at += bm.length;
            }
        }
        return new SlotLayout(a.rank, a.scale, ao, bo, at);
    }

    public long bytes() {
        return floats * 4;
    }

    /** Writes the adapter's A and B at their offsets into dst (little-endian floats, from dst's position 0). */
    public void pack(LoraAdapter a, ByteBuffer dst) {
        if (dst.capacity() < bytes()) {
            throw new IllegalArgumentException("slot buffer of " + dst.capacity() + " bytes, adapter needs " + bytes());
        }
        ByteBuffer d = dst.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < aOffset.length; i++) {
            if (aOffset[i] < 0) {
                continue;
            }
            d.position((int) (aOffset[i] * 4));
            d.asFloatBuffer().put(a.a[i]);
            d.position((int) (bOffset[i] * 4));
            d.asFloatBuffer().put(a.b[i]);
        }
    }

    /**
     * This adapter's column of the LoRA offset tables when it sits in a slot beginning at float {@code base} of
     * {@link Buffers#SLOTS}: entry (layer, module) is {@code base + offset}, or −1 where untargeted. Written at
     * {@code [(layer * 7 + module) * numSlots + slot]} of each table.
     */
    public long[] aEntries(long base) {
        return entries(aOffset, base);
    }

    public long[] bEntries(long base) {
        return entries(bOffset, base);
    }

    private static long[] entries(long[] offsets, long base) {
        long[] p = new long[offsets.length];
        for (int i = 0; i < p.length; i++) {
            p[i] = offsets[i] < 0 ? -1 : base + offsets[i];
        }
        return p;
    }
}
