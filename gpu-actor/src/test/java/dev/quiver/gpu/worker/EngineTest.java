package dev.quiver.gpu.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.backend.cpu.CpuBackend;
import dev.quiver.gpu.backend.cuda.CudaAvailability;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.testing.Collector;
import dev.quiver.gpu.testing.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The engine end to end on a tiny model: batch invariance, KV-cache decode vs recompute, preemption,
 * replay from any point, and requests that fail alone.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EngineTest {
    static final List<String> ADAPTERS = List.of("adapter-01", "adapter-02", "adapter-03", "adapter-04");
    Path model;
    Engine engine;

    static EngineSettings settings() {
        return EngineSettings.defaults().withThreads(2).withKvCacheBytes(8L << 20).withBatch(64, 64).withLoras(4, 8);
    }

    @BeforeAll
    void start() {
        model = TinyModels.model(DType.F32);
        engine = Engine.start(model, settings(), "engine-test");
        for (String a : ADAPTERS) {
            engine.registerAdapter(a, model.resolve("adapters").resolve(a));
        }
    }

    @AfterAll
    void stop() {
        engine.close();
    }

    static int[] prompt(int seed, int len) {
        int[] p = new int[len];
        p[0] = 1;
        for (int i = 1; i < len; i++) {
            p[i] = 3 + (seed * 31 + i * 17) % 90;
        }
        return p;
    }

    static SamplingParams sampled(int maxTokens, long seed) {
        return new SamplingParams(maxTokens, 0.9f, 0.95f, 40, seed, List.of(), 0, true);
    }

    Collector run(Engine e, String id, String adapter, int[] prompt, SamplingParams p) {
        Collector c = new Collector();
        e.submit(new GenerateRequest(id, adapter, null, prompt, p), c);
        return c;
    }

    @Test
    void a_request_gives_the_same_tokens_and_logprobs_alone_and_batched_with_other_adapters() {
        int[] p = prompt(1, 23);
        Collector alone = run(engine, "alone", "adapter-02", p, sampled(12, 7)).await();
        assertNull(alone.error);
        List<Collector> others = new ArrayList<>();
        Collector batched = null;
        for (int i = 0; i < 16; i++) {
            String adapter = i % 5 == 4 ? null : ADAPTERS.get(i % 4);
            others.add(run(engine, "other-" + i, adapter, prompt(i + 2, 5 + i * 3), sampled(10, i)));
            if (i == 7) {
                batched = run(engine, "batched", "adapter-02", p, sampled(12, 7));
            }
        }
        batched.await();
        others.forEach(Collector::await);
        assertEquals(12, alone.tokens.size());
        assertEquals(alone.tokens, batched.tokens);
        assertEquals(alone.logprobs, batched.logprobs, "logprobs are bit-identical: no batch-dependent arithmetic");
        others.forEach(o -> assertNull(o.error));
    }

    @Test
    void kv_cache_decode_equals_a_full_recompute_of_the_sequence() {
        int[] p = prompt(3, 9);
        Collector c = run(engine, "kv", "adapter-01", p, new SamplingParams(10, 0f, 1f, -1, 0, List.of(), 0, true))
                .await();
        int[] all = new int[p.length + c.tokens.size()];
        System.arraycopy(p, 0, all, 0, p.length);
        for (int i = 0; i < c.tokens.size(); i++) {
            all[p.length + i] = c.tokens.get(i);
        }
        // recompute every position in one pass on a separate backend, no cache reuse
        ModelWeights w = ModelWeights.load(model);
        try (CpuBackend b = new CpuBackend(w, new CpuBackend.Settings(1, 16, 16, 1))) {
            b.loadSlot(0, AdapterLoader.load(model.resolve("adapters/adapter-01"), "adapter-01", w.config, 64));
            int n = all.length - 1;
            int[] pos = new int[n], slot = new int[n], seq = new int[n], rows = new int[n];
            for (int i = 0; i < n; i++) {
                pos[i] = i;
                rows[i] = i;
            }
            float[] logits = new float[n * w.config.vocabSize()];
            b.forward(new ForwardBatch(Arrays.copyOf(all, n), pos, slot, seq, new int[][] {{0, 1, 2, 3}}, rows), logits);
            int vocab = w.config.vocabSize();
            for (int i = 0; i < c.tokens.size(); i++) {
                int row = p.length - 1 + i;
                double max = Double.NEGATIVE_INFINITY;
                int arg = 0;
                for (int v = 0; v < vocab; v++) {
                    if (logits[row * vocab + v] > max) {
                        max = logits[row * vocab + v];
                        arg = v;
                    }
                }
                assertEquals(arg, c.tokens.get(i), "greedy token " + i + " from recompute");
            }
        }
    }

    @Test
    void a_request_replayed_from_any_point_continues_identically() {
        int[] p = prompt(5, 11);
        Collector full = run(engine, "full", "adapter-03", p, sampled(14, 1234)).await();
        for (int k : new int[] {1, 6, 13}) {
            int[] resumed = Arrays.copyOf(p, p.length + k);
            for (int i = 0; i < k; i++) {
                resumed[p.length + i] = full.tokens.get(i);
            }
            Collector rest = run(engine, "resume-" + k, "adapter-03", resumed, sampled(14 - k, 1234)).await();
            assertEquals(full.tokens.subList(k, 14), rest.tokens, "continuation after " + k + " tokens");
        }
    }

    @Test
    void preemption_by_recompute_under_a_tiny_kv_cache_changes_no_output() {
        // 6 blocks of 16 tokens: 6 requests of ~40 tokens each cannot all fit, so some are preempted
        EngineSettings tight = settings().withKvCacheBytes(6L * 2 * 2 * 16 * 32 * 4);
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            prompts.add(prompt(10 + i, 20));
        }
        List<List<Integer>> reference = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            reference.add(run(engine, "ref-" + i, ADAPTERS.get(i % 4), prompts.get(i), sampled(20, i)).await().tokens);
        }
        try (Engine small = Engine.start(model, tight, "tight")) {
            ADAPTERS.forEach(a -> small.registerAdapter(a, model.resolve("adapters").resolve(a)));
            List<Collector> cs = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                cs.add(run(small, "t-" + i, ADAPTERS.get(i % 4), prompts.get(i), sampled(20, i)));
            }
            for (int i = 0; i < 6; i++) {
                assertEquals(reference.get(i), cs.get(i).await().tokens, "request " + i);
            }
            EngineStatus st = small.status().join();
            assertTrue(st.preemptions() > 0, "the cache was small enough to force preemption");
            assertEquals(st.totalKvBlocks(), st.freeKvBlocks(), "every block is free again");
        }
    }

    @Test
    void different_seeds_give_different_samples_and_the_same_seed_the_same() {
        int[] p = prompt(8, 6);
        Collector a = run(engine, "s1", null, p, sampled(16, 1)).await();
        Collector b = run(engine, "s2", null, p, sampled(16, 1)).await();
        Collector c = run(engine, "s3", null, p, sampled(16, 2)).await();
        assertEquals(a.tokens, b.tokens);
        assertNotEquals(a.tokens, c.tokens);
    }

    @Test
    void adapters_change_the_output_of_the_same_prompt() {
        int[] p = prompt(9, 8);
        SamplingParams greedy = new SamplingParams(8, 0f, 1f, -1, 0, List.of(), -1, true);
        List<Integer> base = run(engine, "g-base", null, p, greedy).await().tokens;
        List<Integer> a1 = run(engine, "g-a1", "adapter-02", p, greedy).await().tokens;
        assertNotEquals(base, a1);
    }

    @Test
    void stops_at_max_tokens_with_finish_reason_length_and_usage() {
        Collector c = run(engine, "len", null, prompt(4, 7), sampled(5, 3)).await();
        assertEquals(EngineListener.FinishReason.LENGTH, c.finish);
        assertEquals(new EngineListener.Usage(7, 5), c.usage);
    }

    @Test
    void an_over_long_request_is_refused_naming_the_context_length() {
        Collector c = run(engine, "long", null, prompt(1, 400), SamplingParams.greedy(200)).await();
        assertEquals(EngineError.Kind.CONTEXT_LENGTH_EXCEEDED, c.error.kind());
        assertTrue(c.error.message().contains("maximum context length is 512"), c.error.message());
    }

    @Test
    void token_ids_outside_the_vocabulary_are_refused() {
        Collector c = run(engine, "vocab", null, new int[] {1, 5, 100000}, SamplingParams.greedy(2)).await();
        assertEquals(EngineError.Kind.INVALID_REQUEST, c.error.kind());
        assertTrue(c.error.message().contains("100000"), c.error.message());
    }

    @Test
    void an_unknown_adapter_fails_only_its_own_request() {
        Collector bad = run(engine, "unknown", "nope", prompt(1, 5), SamplingParams.greedy(3));
        Collector good = run(engine, "good", "adapter-01", prompt(1, 5), SamplingParams.greedy(3));
        assertEquals(EngineError.Kind.UNKNOWN_ADAPTER, bad.await().error.kind());
        assertNull(good.await().error);
        assertEquals(3, good.tokens.size());
    }

    @Test
    void a_corrupt_adapter_fails_only_its_requests_while_the_batch_goes_on() throws IOException {
        Path broken = Files.createTempDirectory("broken-adapter");
        Files.copy(model.resolve("adapters/adapter-01/adapter_config.json"), broken.resolve("adapter_config.json"));
        byte[] weights = Files.readAllBytes(model.resolve("adapters/adapter-01/adapter_model.safetensors"));
        Files.write(broken.resolve("adapter_model.safetensors"), Arrays.copyOf(weights, weights.length / 2));
        List<Collector> good = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            good.add(run(engine, "ok-" + i, ADAPTERS.get(i), prompt(i, 9), sampled(8, i)));
        }
        Collector bad = new Collector();
        engine.submit(new GenerateRequest("bad", "broken", broken.toString(), prompt(1, 9), sampled(8, 1)), bad);
        bad.await();
        assertEquals(EngineError.Kind.ADAPTER_REFUSED, bad.error.kind());
        assertTrue(bad.error.message().contains("adapter 'broken'"), bad.error.message());
        for (Collector g : good) {
            assertNull(g.await().error);
            assertEquals(8, g.tokens.size());
        }
        assertTrue(engine.isHealthy());
    }

    @Test
    void cancelling_a_request_frees_its_kv_blocks() throws Exception {
        Collector c = run(engine, "cancel-me", null, prompt(2, 30), sampled(400, 1));
        while (c.tokens.isEmpty()) {
            Thread.sleep(2);
        }
        engine.cancel("cancel-me");
        c.await();
        assertEquals(EngineListener.FinishReason.CANCELLED, c.finish);
        EngineStatus st = engine.status().join();
        assertEquals(st.totalKvBlocks(), st.freeKvBlocks());
    }

    @Test
    void a_full_queue_refuses_new_requests_as_overloaded_and_retriable() {
        try (Engine e = Engine.start(model, settings().withBatch(1, 16).withMaxWaiting(2), "busy")) {
            List<Collector> cs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                cs.add(run(e, "q" + i, null, prompt(i, 5), sampled(30, i)));
            }
            cs.forEach(Collector::await);
            long overloaded = cs.stream().filter(c -> c.error != null).peek(c -> {
                assertEquals(EngineError.Kind.OVERLOADED, c.error.kind());
                assertTrue(c.error.retriable());
                assertTrue(c.error.retryAfterSeconds() > 0);
            }).count();
            assertTrue(overloaded > 0, "some requests were refused");
            assertTrue(cs.stream().anyMatch(c -> c.error == null), "the queued ones were served");
        }
    }

    @Test
    void evicts_least_recently_used_adapter_when_slots_are_full() {
        try (Engine e = Engine.start(model, settings().withLoras(2, 8), "slots")) {
            ADAPTERS.forEach(a -> e.registerAdapter(a, model.resolve("adapters").resolve(a)));
            for (String a : ADAPTERS) {
                assertNull(run(e, "lru-" + a, a, prompt(1, 4), SamplingParams.greedy(2)).await().error);
            }
            EngineStatus st = e.status().join();
            assertEquals(List.of("adapter-03", "adapter-04"), st.adapters().resident().stream().sorted().toList());
            assertEquals(2, st.adapters().slotEvictions());
            assertEquals(4, st.adapters().diskMisses());
            assertNotNull(st.adapters().diskToHost());
            assertEquals(4, st.adapters().diskToHost().count());
        }
    }

    @Test
    void the_host_tier_keeps_to_its_byte_budget_before_its_count_and_still_serves_every_adapter() {
        Map<String, Long> bytes = new java.util.HashMap<>();
        for (String a : ADAPTERS) {
            bytes.put(a, AdapterLoader.load(model.resolve("adapters").resolve(a), a,
                    dev.quiver.gpu.model.ModelConfig.load(model), 64).hostBytes());
            assertTrue(bytes.get(a) > 0, a);
        }
        // room for the last two copies by bytes, for eight by count: the byte budget is the one that binds
        long budget = bytes.get("adapter-03") + bytes.get("adapter-04");
        try (Engine e = Engine.start(model, settings().withLoras(1, 8).withCpuLoraMemory(budget), "host-bytes")) {
            List<String> left = java.util.Collections.synchronizedList(new ArrayList<>());
            e.onEviction(left::add);
            ADAPTERS.forEach(a -> e.registerAdapter(a, model.resolve("adapters").resolve(a)));
            for (String a : ADAPTERS) {
                assertNull(run(e, "bytes-" + a, a, prompt(1, 4), SamplingParams.greedy(2)).await().error);
            }
            EngineStatus st = e.status().join();
            assertEquals(List.of("adapter-03", "adapter-04"), st.adapters().host().stream().sorted().toList());
            assertEquals(2, st.adapters().hostEvictions());
            assertEquals(List.of("adapter-01 lru", "adapter-02 lru"), left.stream().sorted().toList());
            // the first adapter again: read from disk, not found on the host
            assertNull(run(e, "bytes-again", "adapter-01", prompt(1, 4), SamplingParams.greedy(2)).await().error);
            assertEquals(5, e.status().join().adapters().diskMisses());
        }
        // a budget smaller than one adapter: the copy just loaded stays, and runs
        long smallest = bytes.values().stream().mapToLong(Long::longValue).min().orElseThrow();
        try (Engine e = Engine.start(model, settings().withLoras(1, 8).withCpuLoraMemory(smallest / 2), "host-tiny")) {
            ADAPTERS.forEach(a -> e.registerAdapter(a, model.resolve("adapters").resolve(a)));
            for (String a : ADAPTERS) {
                assertNull(run(e, "tiny-" + a, a, prompt(1, 4), SamplingParams.greedy(2)).await().error);
            }
            assertEquals(List.of("adapter-04"), e.status().join().adapters().host());
        }
    }

    @Test
    void a_pin_that_finds_no_free_slot_fails_and_leaves_no_pin_behind() {
        try (Engine e = Engine.start(model, settings().withLoras(1, 8), "pins")) {
            Path dir = model.resolve("adapters");
            assertEquals(0, e.loadAdapter("adapter-01", dir.resolve("adapter-01"), true).join());
            CompletionException refused = assertThrows(CompletionException.class,
                    () -> e.loadAdapter("adapter-02", dir.resolve("adapter-02"), true).join());
            assertTrue(refused.getCause().getMessage().contains("no free adapter slot"), refused.getMessage());
            EngineStatus st = e.status().join();
            assertEquals(List.of("adapter-01"), st.adapters().pinned(), "only the adapter that got its slot");
            assertEquals(List.of("adapter-01"), st.adapters().resident());
        }
    }

    @Test
    void status_counts_each_adapters_waiting_and_running_sequences_while_requests_run() {
        try (Engine e = Engine.start(model, settings().withBatch(2, 64), "load")) {
            ADAPTERS.forEach(a -> e.registerAdapter(a, model.resolve("adapters").resolve(a)));
            SamplingParams longRun = new SamplingParams(400, 0f, 1f, -1, 0, List.of(), -1, true);
            String[] adapters = {"adapter-01", "adapter-02", null, "adapter-01", "adapter-03", "adapter-01"};
            List<Collector> cs = new ArrayList<>();
            for (int i = 0; i < adapters.length; i++) {
                cs.add(run(e, "load-" + i, adapters[i], prompt(i, 5), longRun));
            }
            EngineStatus st = e.status().join();
            assertEquals(6, st.running() + st.waiting());
            assertTrue(st.waiting() > 0, "two run at a time, the others wait");
            assertEquals(Map.of("adapter-01", 3, "adapter-02", 1, "adapter-03", 1), st.adapterLoad(),
                    "waiting and running alike; the base-model request is not counted");
            assertEquals(settings().maxWaiting(), st.maxWaiting());
            assertEquals(4, st.maxLoras());
            for (int i = 0; i < adapters.length; i++) {
                e.cancel("load-" + i);
            }
            cs.forEach(Collector::await);
            assertEquals(Map.of(), e.status().join().adapterLoad());
        }
    }

    @Test
    void the_cuda_backend_is_refused_on_a_machine_without_a_gpu_with_a_message_naming_why() {
        String why = CudaAvailability.unavailableReason();
        org.junit.jupiter.api.Assumptions.assumeTrue(why != null, "this machine can run CUDA; the GPU tests cover it");
        EngineSettings s = settings();
        EngineSettings cuda = new EngineSettings("cuda", s.threads(), s.kvCacheBytes(), s.blockSize(), s.maxNumSeqs(),
                s.maxBatchedTokens(), s.maxModelLen(), s.maxLoras(), s.maxCpuLoras(), s.maxLoraRank(), s.maxWaiting());
        UnsupportedOperationException e = org.junit.jupiter.api.Assertions.assertThrows(
                UnsupportedOperationException.class, () -> Engine.start(model, cuda, "cuda"));
        assertEquals("backend 'cuda' is not available: " + why, e.getMessage());
        // built without nvcc the jar has no PTX; built with it, this machine has no driver (libcuda.so.1)
        assertTrue(e.getMessage().contains("the jar has no PTX (built without nvcc")
                || e.getMessage().contains("CUDA driver libcuda.so.1 not found: no GPU on this machine"), e.getMessage());
    }

    @Test
    void an_unknown_backend_is_refused_with_the_list_of_backends() {
        EngineSettings s = settings();
        EngineSettings tpu = new EngineSettings("tpu", s.threads(), s.kvCacheBytes(), s.blockSize(), s.maxNumSeqs(),
                s.maxBatchedTokens(), s.maxModelLen(), s.maxLoras(), s.maxCpuLoras(), s.maxLoraRank(), s.maxWaiting());
        UnsupportedOperationException e = org.junit.jupiter.api.Assertions.assertThrows(
                UnsupportedOperationException.class, () -> Engine.start(model, tpu, "tpu"));
        assertEquals("backend 'tpu' is not available: the backends are cpu, cuda and noop", e.getMessage());
    }

    @Test
    void the_noop_backend_runs_requests_through_the_engine_without_computing() {
        EngineSettings s = settings();
        EngineSettings noop = new EngineSettings("noop", s.threads(), s.kvCacheBytes(), s.blockSize(), s.maxNumSeqs(),
                s.maxBatchedTokens(), s.maxModelLen(), s.maxLoras(), s.maxCpuLoras(), s.maxLoraRank(), s.maxWaiting());
        try (Engine e = Engine.start(model, noop, "noop")) {
            e.registerAdapter("adapter-01", model.resolve("adapters").resolve("adapter-01"));
            Collector c = run(e, "n", "adapter-01", prompt(2, 9),
                    new SamplingParams(5, 0f, 1f, -1, 0L, List.of(), -1, true)).await();
            assertNull(c.error);
            assertEquals(List.of(0, 0, 0, 0, 0), c.tokens, "all logits are 0: greedy picks token 0");
            assertEquals("noop", e.status().join().backend());
        }
    }
}
