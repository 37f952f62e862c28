package dev.quiver.gpu.backend.cuda;

import static dev.quiver.gpu.backend.cuda.ParityChecks.BASE;
import static dev.quiver.gpu.backend.cuda.ParityChecks.MIXED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.backend.cuda.ParityChecks.Pair;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.gpu.testing.TinyModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The CUDA backend's host logic and kernel indexing, without a GPU: {@link TwinBackend} runs the launch plans
 * {@link CudaBackend} would run, with every kernel replaced by its Java twin, and must agree with the CPU
 * reference backend on base and heterogeneous-adapter batches, chunked prefill and KV-cache decode, on both
 * projection paths (tensor-core tiles from 1 row, and the decode matvec below 9 rows).
 */
class TwinBackendParityTest {
    static final double TOL = 1e-4;

    static Pair load(Path dir, int tensorCoreMinRows) {
        return ParityChecks.load(dir, TwinBackend::new, tensorCoreMinRows);
    }

    @ParameterizedTest(name = "tensor cores from {0} rows")
    @ValueSource(ints = {1, 9})
    void a_heterogeneous_prefill_batch_matches_the_cpu_backend_on_both_projection_paths(int tensorCoreMinRows) {
        try (Pair p = load(TinyModels.model(DType.BF16), tensorCoreMinRows)) {
            ParityChecks.prefillMatches(p, MIXED, TOL);
        }
    }

    @ParameterizedTest(name = "tensor cores from {0} rows")
    @ValueSource(ints = {1, 9})
    void chunked_prefill_then_greedy_decode_through_the_paged_cache_matches_the_cpu_backend(int tensorCoreMinRows) {
        try (Pair p = load(TinyModels.model(DType.BF16), tensorCoreMinRows)) {
            ParityChecks.chunkedPrefillThenDecodeMatches(p, MIXED, 6, TOL);
        }
    }

    @Test
    void the_base_model_alone_matches_the_cpu_backend() {
        try (Pair p = load(TinyModels.model(DType.BF16), 9)) {
            ParityChecks.chunkedPrefillThenDecodeMatches(p, BASE, 4, TOL);
        }
    }

    @ParameterizedTest(name = "qkv bias, tied head = {0}")
    @ValueSource(booleans = {false, true})
    void qwen2_bias_and_a_tied_head_match_the_cpu_backend(boolean tied) {
        Path dir = TinyModels.model(DType.BF16, ModelMaker.Shape.tiny(96).withQkvBias(true).withTied(tied),
                ModelMaker.demoAdapters(4));
        try (Pair p = load(dir, 1)) {
            ParityChecks.prefillMatches(p, MIXED, TOL);
        }
    }

    @Test
    void f16_weights_run_the_f16_kernels_and_match_the_cpu_backend() {
        try (Pair p = load(TinyModels.model(DType.F16), 1)) {
            ParityChecks.prefillMatches(p, MIXED, TOL);
        }
    }

    @Test
    void f32_weights_are_rounded_to_bf16_on_the_device_and_stay_within_bf16_tolerance() {
        try (Pair p = load(TinyModels.model(DType.F32), 9)) {
            ParityChecks.assertClose(ParityChecks.forward(p.cpu(), MIXED.rows(0, 64)),
                    ParityChecks.forward(p.device(), MIXED.rows(0, 64)), 3e-2, "f32 model on bf16 device weights");
        }
    }

    @Test
    void results_follow_the_adapter_not_the_slot_and_a_cleared_slot_is_refused() {
        try (Pair p = load(TinyModels.model(DType.BF16), 9)) {
            ParityChecks.resultsFollowTheAdapterNotTheSlot(p, TOL);
        }
    }

    @Test
    void the_launch_by_launch_comparison_used_on_the_gpu_runs_here_on_two_twins() {
        ParityChecks.launchesAgree(TinyModels.model(DType.BF16), TwinBackend::new, TwinBackend::new, 1, 0);
    }

    @Test
    void the_allocations_are_exactly_the_device_budget() {
        try (Pair p = load(TinyModels.model(DType.BF16), 9)) {
            TwinBackend twin = (TwinBackend) p.device();
            assertEquals(twin.budget().total(), twin.allocatedBytes());
        }
    }

    @Test
    void the_backend_refuses_calls_from_a_thread_other_than_its_own() throws Exception {
        try (Pair p = load(TinyModels.model(DType.BF16), 9)) {
            Throwable[] seen = new Throwable[1];
            Thread t = new Thread(() -> {
                try {
                    p.device().clearSlot(0);
                } catch (Throwable e) {
                    seen[0] = e;
                }
            }, "not-the-engine");
            t.start();
            t.join();
            assertTrue(seen[0] instanceof IllegalStateException, String.valueOf(seen[0]));
            assertTrue(seen[0].getMessage().contains("called from 'not-the-engine'"), seen[0].getMessage());
        }
    }
}
