package dev.quiver.gpu.backend.cuda;

import static dev.quiver.gpu.backend.cuda.ParityChecks.BASE;
import static dev.quiver.gpu.backend.cuda.ParityChecks.MIXED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.quiver.gpu.backend.cuda.ParityChecks.Pair;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.testing.Collector;
import dev.quiver.gpu.worker.Engine;
import dev.quiver.gpu.worker.EngineSettings;
import dev.quiver.gpu.worker.GenerateRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * CPU vs CUDA parity on a real GPU: the demo model of {@code bin/quiver model make} ({@link ModelMaker#writeDemo},
 * tiny shape, byte-level tokenizer, four adapters of ranks 8, 16, 4 and 32 on different module subsets), base
 * and heterogeneous adapter batches, chunked prefill and decode, both projection paths; greedy tokens must be
 * identical and logits within bf16 tolerance. Tagged "gpu": only {@code mvn -Pgpu verify} runs it, and without a
 * usable GPU every test is skipped with the reason (docs/CUDA.md).
 */
@Tag("gpu")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudaBackendGpuTest {
    /** Relative to the logit scale: bf16 rounding is 2^-8; the backends differ by far less when correct. */
    static final double TOL = 4e-3;
    Path bf16;
    Path f16;

    String why;

    @BeforeAll
    void makeModels() throws IOException {
        why = CudaAvailability.unavailableReason();
        if (why != null) {
            return;
        }
        bf16 = Files.createTempDirectory("quiver-gpu-bf16-");
        ModelMaker.writeDemo(bf16, 512, ModelMaker.Shape::tiny, DType.BF16, 7, 4);
        f16 = Files.createTempDirectory("quiver-gpu-f16-");
        ModelMaker.writeDemo(f16, 512, ModelMaker.Shape::tiny, DType.F16, 7, 4);
    }

    @BeforeEach
    void requireGpu() {
        assumeTrue(why == null, "no usable GPU, CUDA parity test skipped: " + why);
    }

    static Pair load(Path dir, int tensorCoreMinRows) {
        return ParityChecks.load(dir, CudaBackend::new, tensorCoreMinRows);
    }

    @ParameterizedTest(name = "tensor cores from {0} rows")
    @ValueSource(ints = {1, 9})
    void the_base_model_gives_the_cpu_backends_greedy_tokens(int tensorCoreMinRows) {
        try (Pair p = load(bf16, tensorCoreMinRows)) {
            ParityChecks.prefillMatches(p, BASE, TOL);
            ParityChecks.chunkedPrefillThenDecodeMatches(p, BASE, 16, TOL);
        }
    }

    @ParameterizedTest(name = "tensor cores from {0} rows")
    @ValueSource(ints = {1, 9})
    void a_heterogeneous_adapter_batch_gives_each_sequence_the_cpu_backends_tokens(int tensorCoreMinRows) {
        try (Pair p = load(bf16, tensorCoreMinRows)) {
            ParityChecks.prefillMatches(p, MIXED, TOL);
            ParityChecks.chunkedPrefillThenDecodeMatches(p, MIXED, 16, TOL);
        }
    }

    @ParameterizedTest(name = "tensor cores from {0} rows")
    @ValueSource(ints = {1, 9})
    void every_kernel_writes_what_its_java_twin_writes_launch_by_launch(int tensorCoreMinRows) {
        ParityChecks.launchesAgree(bf16, TwinBackend::new, CudaBackend::new, tensorCoreMinRows, 1e-3);
    }

    @Test
    void f16_weights_run_the_f16_kernels_with_the_same_results() {
        try (Pair p = load(f16, 1)) {
            ParityChecks.prefillMatches(p, MIXED, TOL);
            ParityChecks.chunkedPrefillThenDecodeMatches(p, MIXED, 8, TOL);
        }
    }

    @Test
    void adapters_reloaded_into_other_slots_give_the_same_results() {
        try (Pair p = load(bf16, 9)) {
            ParityChecks.resultsFollowTheAdapterNotTheSlot(p, TOL);
        }
    }

    @Test
    void the_engine_on_cuda_streams_the_tokens_the_cpu_engine_streams() {
        EngineSettings cpu = EngineSettings.defaults().withThreads(2).withKvCacheBytes(8L << 20).withBatch(16, 64)
                .withLoras(4, 8);
        EngineSettings cuda = new EngineSettings("cuda", cpu.threads(), cpu.kvCacheBytes(), cpu.blockSize(),
                cpu.maxNumSeqs(), cpu.maxBatchedTokens(), cpu.maxModelLen(), cpu.maxLoras(), cpu.maxCpuLoras(),
                cpu.maxLoraRank(), cpu.maxWaiting());
        List<List<Integer>> want = generate(cpu);
        List<List<Integer>> got = generate(cuda);
        assertEquals(want, got);
    }

    /** Five greedy requests at once (base and four adapters), 24 tokens each, through a whole engine. */
    List<List<Integer>> generate(EngineSettings s) {
        List<List<Integer>> out = new ArrayList<>();
        try (Engine e = Engine.start(bf16, s, "gpu-test-" + s.backend())) {
            List<String> adapters = new ArrayList<>();
            adapters.add(null);
            for (ModelMaker.AdapterSpec a : ModelMaker.demoAdapters(4)) {
                e.registerAdapter(a.name(), bf16.resolve("adapters").resolve(a.name()));
                adapters.add(a.name());
            }
            List<Collector> runs = new ArrayList<>();
            for (int i = 0; i < adapters.size(); i++) {
                Collector c = new Collector();
                int[] prompt = {1, 40 + i, 77, 3 + 2 * i, 90, 12};
                e.submit(new GenerateRequest("r" + i, adapters.get(i), null, prompt,
                        new SamplingParams(24, 0f, 1f, -1, 0L, List.of(), -1, true)), c);
                runs.add(c);
            }
            for (Collector c : runs) {
                c.await();
                assertNull(c.error, String.valueOf(c.error));
                out.add(List.copyOf(c.tokens));
            }
            assertEquals(s.backend(), e.status().join().backend());
        }
        return out;
    }
}
