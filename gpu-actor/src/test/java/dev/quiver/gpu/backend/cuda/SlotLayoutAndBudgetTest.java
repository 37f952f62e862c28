package dev.quiver.gpu.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.lora.LoraModule;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** Adapter slot layout and the device-memory budget, against hand-computed sizes for the tiny shape. */
class SlotLayoutAndBudgetTest {
    static final int L = 2;

    /** A rank-8 adapter on q and v of both layers, A and B filled with their (layer, module) index + 1. */
    static LoraAdapter qv() {
        float[][] a = new float[L * LoraModule.COUNT][];
        float[][] b = new float[L * LoraModule.COUNT][];
        for (int l = 0; l < L; l++) {
            for (LoraModule m : new LoraModule[] {LoraModule.Q, LoraModule.V}) {
                int i = l * LoraModule.COUNT + m.ordinal();
                a[i] = new float[8 * m.in(LaunchPlannerTest.TINY)];
                b[i] = new float[m.out(LaunchPlannerTest.TINY) * 8];
                java.util.Arrays.fill(a[i], i + 1);
                java.util.Arrays.fill(b[i], -(i + 1));
            }
        }
        return new LoraAdapter("qv@1", 8, 2f, L, a, b);
    }

    @Test
    void a_slot_holds_every_module_of_every_layer_at_the_largest_rank() {
        // per layer and rank: q 64+64, k 64+32, v 64+32, o 64+64, gate 64+176, up 64+176, down 176+64 = 1168
        assertEquals(1168L * 8 * 2, SlotLayout.capacityFloats(LaunchPlannerTest.TINY, 8));
    }

    @Test
    void an_adapters_matrices_are_packed_back_to_back_in_layer_then_module_order() {
        SlotLayout s = SlotLayout.of(qv(), LaunchPlannerTest.TINY);
        // L0 q: A 8×64 at 0, B 64×8 at 512; L0 v: A 8×64 at 1024, B 32×8 at 1536; L1 q at 1792 / 2304; L1 v at 2816 / 3328
        assertEquals(3584, s.floats());
        assertEquals(0, s.aOffset()[0]);
        assertEquals(512, s.bOffset()[0]);
        assertEquals(1024, s.aOffset()[2]);
        assertEquals(1536, s.bOffset()[2]);
        assertEquals(1792, s.aOffset()[7]);
        assertEquals(3328, s.bOffset()[9]);
        assertEquals(-1, s.aOffset()[1], "k is not targeted");
        ByteBuffer buf = ByteBuffer.allocate((int) s.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        s.pack(qv(), buf);
        assertEquals(1f, buf.getFloat(0));
        assertEquals(-1f, buf.getFloat(4 * 512));
        assertEquals(3f, buf.getFloat(4 * 1024));
        assertEquals(-10f, buf.getFloat(4 * 3583));
    }

    @Test
    void the_offset_table_entries_are_slot_base_plus_offset_or_minus_one() {
        SlotLayout s = SlotLayout.of(qv(), LaunchPlannerTest.TINY);
        long[] a = s.aEntries(1000);
        long[] b = s.bEntries(1000);
        assertEquals(14, a.length);
        assertEquals(1000, a[0]);
        assertEquals(1512, b[0]);
        assertEquals(-1, a[1]);
        assertEquals(-1, b[6]);
        assertEquals(4328, b[9]);
    }

    @Test
    void an_adapter_whose_matrices_do_not_match_its_rank_is_refused() {
        LoraAdapter ok = qv();
        float[][] a = ok.a.clone();
        a[0] = new float[7];
        LoraAdapter bad = new LoraAdapter("bad@1", 8, 1f, L, a, ok.b);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SlotLayout.of(bad, LaunchPlannerTest.TINY));
        assertTrue(e.getMessage().contains("layer 0 q_proj"), e.getMessage());
    }

    @Test
    void the_budget_adds_up_weights_cache_slots_and_activations() {
        DeviceBudget b = DeviceBudget.of(LaunchPlannerTest.TINY, WeightType.BF16, 10, 4, 2, 8, 16);
        // matrices: embedding and head 2·96·64, layers 2·(4096 + 2048 + 2048 + 4096 + 3·11264), 2 bytes each;
        // vectors: 5 norms of 64 + 8 rotary frequencies, 4 bytes each
        assertEquals((2L * 96 * 64 + 2L * 46080) * 2 + (5L * 64 + 8) * 4, b.weights());
        assertEquals(2L * 2 * 10 * 4 * 32 * 4, b.kvCache());
        assertEquals(2L * 18688 * 4 + 2L * 2 * 7 * 2 * 8 + 2 * 8, b.slots());
        // per row: x, xb 64 each, q, att 64, k, v 32, gate, up 176, LoRA scratch 8, normed 64, logits 96, id 1
        assertEquals(841L * 16 * 4, b.activations());
        assertEquals(b.weights() + b.kvCache() + b.slots() + b.activations(), b.total());
    }

    @Test
    void a_budget_over_the_free_device_memory_is_refused_with_its_breakdown() {
        DeviceBudget b = DeviceBudget.of(LaunchPlannerTest.TINY, WeightType.BF16, 10, 4, 2, 8, 16);
        b.check(b.total() + 100, 100);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.check(b.total() + 99, 100));
        assertTrue(e.getMessage().startsWith("the CUDA backend needs 0.4 MiB of device memory (weights 0.2 MiB, KV "
                + "cache 0.0 MiB, adapter slots 0.1 MiB, activations 0.1 MiB)"), e.getMessage());
        assertTrue(e.getMessage().contains("kv-cache-memory"), e.getMessage());
    }

    @Test
    void a_tied_head_and_f16_weights_are_counted_once_at_two_bytes() {
        dev.quiver.gpu.model.ModelConfig tied = new dev.quiver.gpu.model.ModelConfig("llama", 96, 64, 176, 2, 4, 2, 16,
                1e-5f, 10000.0, null, 512, true, false, java.util.List.of(1), java.util.List.of(2));
        DeviceBudget untied = DeviceBudget.of(LaunchPlannerTest.TINY, WeightType.F16, 10, 4, 2, 8, 16);
        DeviceBudget t = DeviceBudget.of(tied, WeightType.F16, 10, 4, 2, 8, 16);
        assertEquals(96L * 64 * 2, untied.weights() - t.weights());
        assertArrayEquals(new long[] {untied.kvCache(), untied.slots()}, new long[] {t.kvCache(), t.slots()});
    }
}
