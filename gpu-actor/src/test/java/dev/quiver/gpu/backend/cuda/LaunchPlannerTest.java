package dev.quiver.gpu.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.backend.cuda.DeviceArg.F32;
import dev.quiver.gpu.backend.cuda.DeviceArg.I32;
import dev.quiver.gpu.backend.cuda.DeviceArg.Ptr;
import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.ModelConfig;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Launch plans checked against hand-computed grids, blocks and argument lists for the tiny test shape (hidden
 * 64, intermediate 176, 2 layers, 4 heads of 16, 2 KV heads, vocab 96: the shape the CPU backend tests use).
 */
class LaunchPlannerTest {
    static final ModelConfig TINY = new ModelConfig("llama", 96, 64, 176, 2, 4, 2, 16, 1e-5f, 10000.0, null, 512,
            false, false, List.of(1), List.of(2));
    static final int BLOCKS = 10;
    static final int BS = 4;
    static final int SLOTS = 4;
    static final LaunchPlanner PLANNER = LaunchPlanner.of(TINY, WeightType.BF16, BLOCKS, BS, SLOTS);

    /** One sequence of n rows at positions 0..n-1 in blocks 0.., all with adapter slot `slot`. */
    static ForwardBatch rows(int n, int slot) {
        int[] tok = new int[n];
        int[] pos = new int[n];
        int[] sl = new int[n];
        int[] seq = new int[n];
        for (int i = 0; i < n; i++) {
            tok[i] = 1 + i;
            pos[i] = i;
            sl[i] = slot;
        }
        int[] table = new int[(n + BS - 1) / BS];
        for (int i = 0; i < table.length; i++) {
            table[i] = i;
        }
        return new ForwardBatch(tok, pos, sl, seq, new int[][] {table}, new int[] {n - 1});
    }

    static List<Kernel> kernels(List<Launch> plan) {
        return plan.stream().map(Launch::kernel).toList();
    }

    @Test
    void a_base_step_is_the_embedding_then_twelve_launches_per_layer_then_the_final_norm_and_head() {
        List<Launch> plan = PLANNER.forward(StepLayout.of(rows(3, -1), BS), 0);
        List<Kernel> want = new ArrayList<>();
        want.add(Kernel.EMBEDDING_GATHER);
        for (int l = 0; l < 2; l++) {
            want.addAll(List.of(Kernel.RMSNORM, Kernel.MATVEC_BF16, Kernel.MATVEC_BF16, Kernel.MATVEC_BF16,
                    Kernel.ROPE_KV_WRITE, Kernel.PAGED_ATTENTION, Kernel.MATVEC_BF16, Kernel.RMSNORM,
                    Kernel.MATVEC_BF16, Kernel.MATVEC_BF16, Kernel.SILU_MUL, Kernel.MATVEC_BF16));
        }
        want.add(Kernel.RMSNORM);
        want.add(Kernel.MATVEC_BF16);
        assertEquals(want, kernels(plan));
    }

    @Test
    void decode_projections_take_one_warp_per_output_feature() {
        List<Launch> plan = PLANNER.forward(StepLayout.of(rows(3, -1), BS), 0);
        Launch q = plan.get(2);
        // 8 warps of 256 threads: q has 64 outputs -> 8 blocks
        assertEquals(List.of(8, 1, 256), List.of(q.gridX(), q.gridY(), q.blockX()));
        assertEquals(List.of(Ptr.of("L0.q_proj"), Ptr.of("xb"), Ptr.NULL, Ptr.of("q"), new I32(3), new I32(64),
                new I32(64), new I32(0)), q.args());
        Launch k = plan.get(3);
        assertEquals(4, k.gridX(), "k has 32 outputs");
        assertEquals(List.of(new I32(3), new I32(32), new I32(64)), k.args().subList(4, 7));
        Launch o = plan.get(7);
        assertEquals(List.of(Ptr.of("L0.o_proj"), Ptr.of("att"), Ptr.NULL, Ptr.of("x"), new I32(3), new I32(64),
                new I32(64), new I32(1)), o.args(), "o accumulates into the residual");
        Launch down = plan.get(12);
        assertEquals(List.of(Ptr.of("L0.down_proj"), Ptr.of("gate"), Ptr.NULL, Ptr.of("x"), new I32(3), new I32(64),
                new I32(176), new I32(1)), down.args(), "down reads silu(gate)·up from gate, accumulates into x");
        Launch head = plan.get(plan.size() - 1);
        assertEquals(12, head.gridX(), "96 logits / 8 warps");
        assertEquals(List.of(Ptr.of("lm_head"), Ptr.of("normed"), Ptr.NULL, Ptr.of("logits"), new I32(1), new I32(96),
                new I32(64), new I32(0)), head.args());
    }

    @Test
    void prefill_projections_take_32_by_32_tensor_core_tiles() {
        List<Launch> plan = PLANNER.forward(StepLayout.of(rows(40, -1), BS), 0);
        Launch q = plan.get(2);
        assertEquals(Kernel.MATMUL_MMA_BF16, q.kernel());
        assertEquals(List.of(2, 2, 128), List.of(q.gridX(), q.gridY(), q.blockX()), "64/32 × ceil(40/32)");
        Launch gate = plan.get(9);
        assertEquals(List.of(6, 2), List.of(gate.gridX(), gate.gridY()), "ceil(176/32) × ceil(40/32)");
        Launch silu = plan.get(11);
        assertEquals(Kernel.SILU_MUL, silu.kernel());
        assertEquals(28, silu.gridX(), "ceil(40·176 / 256)");
        assertEquals(new I32(40 * 176), silu.args().get(2));
    }

    @Test
    void the_tensor_core_path_starts_at_the_configured_row_count() {
        assertEquals(Kernel.MATVEC_BF16, PLANNER.forward(StepLayout.of(rows(8, -1), BS), 0).get(2).kernel());
        assertEquals(Kernel.MATMUL_MMA_BF16, PLANNER.forward(StepLayout.of(rows(9, -1), BS), 0).get(2).kernel());
        LaunchPlanner always = new LaunchPlanner(TINY, WeightType.F16, BLOCKS, BS, SLOTS, 1);
        assertEquals(Kernel.MATMUL_MMA_F16, always.forward(StepLayout.of(rows(1, -1), BS), 0).get(2).kernel());
        assertThrows(IllegalArgumentException.class, () -> new LaunchPlanner(TINY, WeightType.BF16, BLOCKS, BS, SLOTS, 10));
    }

    @Test
    void rope_and_attention_address_each_layers_cache_and_the_steps_packed_inputs() {
        StepLayout s = StepLayout.of(rows(5, -1), BS);
        List<Launch> plan = PLANNER.forward(s, 0);
        long layerBytes = (long) BLOCKS * BS * 32 * 4; // blocks × blockSize × kvDim floats
        assertEquals(5120, layerBytes);
        Launch rope1 = plan.get(1 + 12 + 4);
        assertEquals(Kernel.ROPE_KV_WRITE, rope1.kernel());
        assertEquals(List.of(5, 1, 128), List.of(rope1.gridX(), rope1.gridY(), rope1.blockX()));
        assertEquals(List.of(Ptr.of("q"), Ptr.of("k"), Ptr.of("v"), new Ptr("step", 4L * 5), Ptr.of("inv_freq"),
                new Ptr("step", 4L * 10), new Ptr("k_cache", layerBytes), new Ptr("v_cache", layerBytes), new I32(5),
                new I32(4), new I32(2), new I32(16)), rope1.args());
        Launch att1 = plan.get(1 + 12 + 5);
        assertEquals(List.of(5, 4, 128), List.of(att1.gridX(), att1.gridY(), att1.blockX()), "rows × heads");
        // step ints: tokens[5] positions[5] slotMapping[5] rowSeq[5] tableStart[1] blockTables[2] logitRows[1] ...
        assertEquals(List.of(Ptr.of("q"), new Ptr("k_cache", layerBytes), new Ptr("v_cache", layerBytes),
                new Ptr("step", 4L * 21), new Ptr("step", 4L * 20), new Ptr("step", 4L * 15), new Ptr("step", 4L * 5),
                Ptr.of("att"), new I32(5), new I32(4), new I32(2), new I32(16), new I32(BS), new F32(0.25f)),
                att1.args());
        Launch finalNorm = plan.get(plan.size() - 2);
        assertEquals(List.of(Ptr.of("x"), new Ptr("step", 4L * 23), Ptr.of("final_norm"), Ptr.of("normed"),
                new I32(1), new I32(64), new F32(1e-5f)), finalNorm.args(), "gathers the logit rows");
    }

    @Test
    void adapter_rows_add_a_shrink_and_expand_per_module_in_the_cpu_backends_order() {
        // rows use slots 0, base, 2, 0: two segments
        ForwardBatch b = new ForwardBatch(new int[] {1, 2, 3, 4}, new int[] {0, 0, 0, 1}, new int[] {0, -1, 2, 0},
                new int[] {0, 1, 2, 0}, new int[][] {{0}, {1}, {2}}, new int[] {1, 2, 3});
        List<Launch> plan = PLANNER.forward(StepLayout.of(b, BS), 16);
        List<Kernel> layer = kernels(plan).subList(1, 1 + 12 + 14);
        List<Kernel> want = List.of(Kernel.RMSNORM, Kernel.MATVEC_BF16, Kernel.MATVEC_BF16, Kernel.MATVEC_BF16,
                Kernel.LORA_SHRINK, Kernel.LORA_EXPAND, Kernel.LORA_SHRINK, Kernel.LORA_EXPAND, Kernel.LORA_SHRINK,
                Kernel.LORA_EXPAND, Kernel.ROPE_KV_WRITE, Kernel.PAGED_ATTENTION, Kernel.MATVEC_BF16,
                Kernel.LORA_SHRINK, Kernel.LORA_EXPAND, Kernel.RMSNORM, Kernel.MATVEC_BF16, Kernel.MATVEC_BF16,
                Kernel.LORA_SHRINK, Kernel.LORA_EXPAND, Kernel.LORA_SHRINK, Kernel.LORA_EXPAND, Kernel.SILU_MUL,
                Kernel.MATVEC_BF16, Kernel.LORA_SHRINK, Kernel.LORA_EXPAND);
        assertEquals(want, layer);
        assertEquals(1 + 2 * (12 + 14) + 2, plan.size());

        // layer 1, v_proj: table row (1·7 + 2) of [layers·7, 4 slots] int64
        Launch shrinkV = plan.get(1 + 26 + 8);
        Launch expandV = plan.get(1 + 26 + 9);
        assertEquals(Kernel.LORA_SHRINK, shrinkV.kernel());
        assertEquals(List.of(2, 2, 256), List.of(shrinkV.gridX(), shrinkV.gridY(), shrinkV.blockX()),
                "2 segments × ceil(rank 16 / 8 warps)");
        // step ints: tokens[4] positions[4] slotMapping[4] rowSeq[4] tableStart[3] tables[3] logitRows[3]
        //            sortedRows[3] segStart[3] segSlot[2]
        assertEquals(List.of(Ptr.of("xb"), Ptr.of("slots"), new Ptr("lora_a_offset", 9 * 4 * 8), Ptr.of("lora_rank"),
                new Ptr("step", 4L * 28), new Ptr("step", 4L * 31), new Ptr("step", 4L * 25), Ptr.of("lora_tmp"),
                new I32(2), new I32(64), new I32(16)), shrinkV.args());
        assertEquals(List.of(2, 1, 256), List.of(expandV.gridX(), expandV.gridY(), expandV.blockX()));
        assertEquals(List.of(Ptr.of("lora_tmp"), Ptr.of("slots"), new Ptr("lora_b_offset", 9 * 4 * 8),
                Ptr.of("lora_rank"), Ptr.of("lora_scale"), new Ptr("step", 4L * 28), new Ptr("step", 4L * 31),
                new Ptr("step", 4L * 25), Ptr.of("v"), new I32(2), new I32(32), new I32(16)), expandV.args());
        Launch expandGate = plan.get(1 + 19);
        assertEquals(Kernel.LORA_EXPAND, expandGate.kernel());
        assertEquals(2, expandGate.gridX(), "two segments");
        assertEquals(1, expandGate.gridY(), "ceil(176 / 256)");
        assertEquals(new I32(176), expandGate.args().get(10));
    }

    @Test
    void every_launch_carries_the_argument_types_its_kernel_declares() {
        Launch ok = new Launch(Kernel.SILU_MUL, 1, 1, 256, List.of(Ptr.of("gate"), Ptr.of("up"), new I32(5)));
        assertEquals(3, ok.args().size());
        IllegalArgumentException wrongType = assertThrows(IllegalArgumentException.class,
                () -> new Launch(Kernel.SILU_MUL, 1, 1, 256, List.of(Ptr.of("gate"), new I32(0), new I32(5))));
        assertTrue(wrongType.getMessage().contains("argument 1 is PTR"), wrongType.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new Launch(Kernel.SILU_MUL, 1, 1, 256, List.of(Ptr.of("gate"), Ptr.of("up"))));
        assertThrows(IllegalArgumentException.class,
                () -> new Launch(Kernel.SILU_MUL, 1, 1, 100, List.of(Ptr.of("gate"), Ptr.of("up"), new I32(5))),
                "a block that is not whole warps");
    }

    @Test
    void a_kernel_whose_shared_memory_assumes_a_block_size_is_refused_any_other_naming_both() {
        List<DeviceArg> argmaxArgs = List.of(Ptr.of("logits"), Ptr.of("ids"), new I32(1), new I32(512));
        assertEquals(256, new Launch(Kernel.ARGMAX_ROWS, 1, 1, 256, argmaxArgs).blockX());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Launch(Kernel.ARGMAX_ROWS, 1, 1, 512, argmaxArgs));
        assertEquals("ARGMAX_ROWS (argmax_rows) must be launched with blocks of 256 threads, its shared-memory "
                + "layout assumes it; got 512", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Launch(Kernel.ARGMAX_ROWS, 1, 1, 128, argmaxArgs),
                "a smaller block would leave bestV[128..255] unset");
        // a kernel without such a layout takes any whole-warp block
        List<DeviceArg> siluArgs = List.of(Ptr.of("gate"), Ptr.of("up"), new I32(5));
        assertEquals(64, new Launch(Kernel.SILU_MUL, 1, 1, 64, siluArgs).blockX());
        assertEquals(1024, new Launch(Kernel.SILU_MUL, 1, 1, 1024, siluArgs).blockX());
    }

    @Test
    void every_planned_launch_uses_its_kernels_required_block_on_both_projection_paths() {
        for (int tensorCoreMinRows : new int[] {1, 9}) {
            LaunchPlanner p = new LaunchPlanner(TINY, WeightType.F16, BLOCKS, BS, SLOTS, tensorCoreMinRows);
            StepLayout s = StepLayout.of(rows(4, 1), BS);
            List<Launch> plan = new ArrayList<>(p.forward(s, 8));
            plan.add(p.argmax(1));
            Set<Kernel> fixed = EnumSet.noneOf(Kernel.class);
            for (Launch l : plan) {
                if (l.kernel().requiredBlock != Kernel.ANY_BLOCK) {
                    assertEquals(l.kernel().requiredBlock, l.blockX(), l.kernel().entry);
                    fixed.add(l.kernel());
                }
            }
            assertTrue(fixed.containsAll(EnumSet.of(Kernel.PAGED_ATTENTION, Kernel.LORA_SHRINK,
                    Kernel.ARGMAX_ROWS)), "plan covers the fixed-block kernels: " + fixed);
            assertEquals(tensorCoreMinRows == 1, fixed.contains(Kernel.MATMUL_MMA_F16), "tensor-core kernel used");
        }
    }

    @Test
    void a_head_dim_over_what_the_attention_kernel_holds_is_refused_by_name() {
        ModelConfig wide = new ModelConfig("llama", 96, 1024, 176, 2, 2, 2, 512, 1e-5f, 10000.0, null, 512, false, false,
                List.of(1), List.of(2));
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> LaunchPlanner.of(wide, WeightType.BF16, BLOCKS, BS, SLOTS));
        assertTrue(e.getMessage().contains("head_dim 512"), e.getMessage());
    }

    @Test
    void the_lora_offset_tables_have_one_row_of_slots_per_layer_and_module() {
        assertEquals(0, PLANNER.loraTableOffset(0, LoraModule.Q));
        assertEquals(6 * 4 * 8, PLANNER.loraTableOffset(0, LoraModule.DOWN));
        assertEquals(7 * 4 * 8, PLANNER.loraTableOffset(1, LoraModule.Q));
        assertEquals(0.25f, LaunchPlanner.attentionScale(16));
    }
}
