package dev.quiver.gpu.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.backend.cpu.CpuBackend;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.testing.Collector;
import dev.quiver.gpu.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The engine's per-request logit processing and prompt scoring on a tiny model: penalties and bias change the
 * output exactly as computed from a separate full forward pass, a request keeps its tokens whatever it is batched
 * with and when resumed, {@code min_tokens} holds EOS back, {@code stop_token_ids} end a request, and the prompt
 * logprobs of {@code echo} are the teacher-forced log-softmax of the prompt, also over chunked prefill.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EngineSamplingTest {
    static final List<String> ADAPTERS = List.of("adapter-01", "adapter-02", "adapter-03");
    Path model;
    Engine engine;
    /** Small token budget per step: prompts longer than 16 tokens are prefilled in chunks. */
    Engine chunked;
    int eos;

    @BeforeAll
    void start() {
        model = TinyModels.model(DType.F32);
        engine = Engine.start(model, EngineTest.settings(), "engine-sampling-test");
        chunked = Engine.start(model, EngineSettings.defaults().withThreads(2).withKvCacheBytes(8L << 20)
                .withBatch(8, 16).withLoras(2, 4), "engine-sampling-chunked");
        for (String a : ADAPTERS) {
            engine.registerAdapter(a, model.resolve("adapters").resolve(a));
            chunked.registerAdapter(a, model.resolve("adapters").resolve(a));
        }
        eos = engine.config().eosTokenIds().get(0);
    }

    @AfterAll
    void stop() {
        engine.close();
        chunked.close();
    }

    static SamplingParams params(int maxTokens, float temperature, long seed, int logprobs, boolean ignoreEos,
                                 float presence, float frequency, float repetition, Map<Integer, Float> bias,
                                 int minTokens, List<Integer> stopIds, int promptLogprobs) {
        return new SamplingParams(maxTokens, temperature, temperature == 0f ? 1f : 0.95f, -1, seed, List.of(),
                logprobs, ignoreEos, presence, frequency, repetition, bias, minTokens, stopIds, true, promptLogprobs,
                null);
    }

    static SamplingParams penalised(int maxTokens, float temperature, long seed) {
        return params(maxTokens, temperature, seed, 2, true, 0.8f, 0.6f, 1.4f, Map.of(10, 3f, 11, -4f), 0, List.of(),
                -1);
    }

    Collector run(Engine e, String id, String adapter, int[] prompt, SamplingParams p) {
        return run(e, new GenerateRequest(id, adapter, null, prompt, p));
    }

    Collector run(Engine e, GenerateRequest r) {
        Collector c = new Collector();
        e.submit(r, c);
        return c;
    }

    /** Logits of every position of {@code tokens} from one full forward pass on a separate backend. */
    float[] fullForward(int[] tokens, String adapter) {
        ModelWeights w = ModelWeights.load(model);
        try (CpuBackend b = new CpuBackend(w, new CpuBackend.Settings(1, 64, 16, 1))) {
            int[] slot = new int[tokens.length];
            if (adapter != null) {
                b.loadSlot(0, AdapterLoader.load(model.resolve("adapters").resolve(adapter), adapter, w.config, 64));
            } else {
                Arrays.fill(slot, -1);
            }
            int n = tokens.length;
            int[] pos = new int[n];
            int[] seq = new int[n];
            int[] rows = new int[n];
            for (int i = 0; i < n; i++) {
                pos[i] = i;
                rows[i] = i;
            }
            int[] table = new int[(n + 15) / 16];
            for (int i = 0; i < table.length; i++) {
                table[i] = i;
            }
            float[] logits = new float[n * w.config.vocabSize()];
            b.forward(new ForwardBatch(tokens, pos, slot, seq, new int[][] {table}, rows), logits);
            return logits;
        }
    }

    static int[] concat(int[] a, List<Integer> b) {
        int[] all = Arrays.copyOf(a, a.length + b.size());
        for (int i = 0; i < b.size(); i++) {
            all[a.length + i] = b.get(i);
        }
        return all;
    }

    @Test
    void penalties_and_bias_change_greedy_output_exactly_as_computed_on_the_raw_logits() {
        int[] p = EngineTest.prompt(4, 12);
        SamplingParams params = penalised(14, 0f, 0);
        Collector c = run(engine, "pen", "adapter-01", p, params).await();
        assertNull(c.error);
        assertEquals(14, c.tokens.size());
        Collector plain = run(engine, "pen-plain", "adapter-01", p, SamplingParams.greedy(14)).await();
        assertNotEquals(plain.tokens, c.tokens, "the penalties changed the greedy continuation");

        int vocab = engine.config().vocabSize();
        float[] logits = fullForward(concat(p, c.tokens), "adapter-01");
        for (int i = 0; i < c.tokens.size(); i++) {
            int row = p.length - 1 + i;
            Set<Integer> seen = new HashSet<>();
            for (int t : p) {
                seen.add(t);
            }
            Map<Integer, Integer> counts = new HashMap<>();
            for (int k = 0; k < i; k++) {
                seen.add(c.tokens.get(k));
                counts.merge(c.tokens.get(k), 1, Integer::sum);
            }
            double best = Double.NEGATIVE_INFINITY;
            int arg = -1;
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                double l = logits[row * vocab + v];
                max = Math.max(max, l);
                if (seen.contains(v)) {
                    l = l > 0 ? l / 1.4 : l * 1.4;
                }
                int n = counts.getOrDefault(v, 0);
                l -= 0.8 * (n > 0 ? 1 : 0) + 0.6 * n;
                l += v == 10 ? 3 : v == 11 ? -4 : 0;
                if (l > best) {
                    best = l;
                    arg = v;
                }
            }
            assertEquals(arg, c.tokens.get(i), "penalised greedy token " + i);
            double z = 0;
            for (int v = 0; v < vocab; v++) {
                z += Math.exp(logits[row * vocab + v] - max);
            }
            double raw = logits[row * vocab + arg] - max - Math.log(z);
            assertEquals(raw, c.logprobs.get(i), 1e-3, "logprob " + i + " is the raw distribution's");
        }
    }

    @Test
    void a_penalised_request_gets_the_same_tokens_alone_and_in_a_mixed_batch() {
        int[] p = EngineTest.prompt(6, 19);
        SamplingParams params = penalised(12, 0.9f, 41);
        Collector alone = run(engine, "mix-alone", "adapter-02", p, params).await();
        assertNull(alone.error);
        List<Collector> others = new ArrayList<>();
        Collector batched = null;
        for (int i = 0; i < 12; i++) {
            String adapter = i % 4 == 3 ? null : ADAPTERS.get(i % 3);
            SamplingParams other = i % 2 == 0 ? EngineTest.sampled(9, i)
                    : params(9, 0.8f, i, 0, true, 1.5f, 0f, 1f, Map.of(), 3, List.of(), -1);
            others.add(run(engine, "mix-other-" + i, adapter, EngineTest.prompt(i + 20, 4 + i * 2), other));
            if (i == 5) {
                batched = run(engine, "mix-batched", "adapter-02", p, params);
            }
        }
        batched.await();
        others.forEach(Collector::await);
        others.forEach(o -> assertNull(o.error));
        assertEquals(alone.tokens, batched.tokens);
        assertEquals(alone.logprobs, batched.logprobs);
    }

    @Test
    void a_resumed_penalised_request_continues_identically() {
        int[] p = EngineTest.prompt(8, 10);
        SamplingParams params = penalised(16, 1.0f, 5);
        Collector whole = run(engine, "res-whole", "adapter-03", p, params).await();
        assertEquals(16, whole.tokens.size());
        for (int k : new int[] {1, 7, 15}) {
            int[] resume = whole.tokenArray();
            Collector rest = run(engine, new GenerateRequest("res-" + k, "adapter-03", null, p, params,
                    Arrays.copyOf(resume, k))).await();
            assertNull(rest.error);
            assertEquals(whole.tokens.subList(k, 16), rest.tokens, "continuation after " + k + " resume tokens");
        }
    }

    @Test
    void min_tokens_holds_back_eos_until_reached() {
        int[] p = EngineTest.prompt(9, 8);
        Map<Integer, Float> pushEos = Map.of(eos, 100f);
        Collector eager = run(engine, "min-0", null, p, params(10, 0f, 0, -1, false, 0f, 0f, 1f, pushEos, 0,
                List.of(), -1)).await();
        assertEquals(EngineListener.FinishReason.STOP, eager.finish);
        assertEquals(0, eager.tokens.size(), "without min_tokens the pushed EOS comes first");
        Collector held = run(engine, "min-5", null, p, params(10, 0f, 0, -1, false, 0f, 0f, 1f, pushEos, 5,
                List.of(), -1)).await();
        assertEquals(EngineListener.FinishReason.STOP, held.finish);
        assertEquals(5, held.tokens.size());
        assertFalse(held.tokens.contains(eos));
        assertEquals(6, held.usage.completionTokens(), "the EOS that ended it counts as a completion token");
    }

    @Test
    void stop_token_ids_end_the_request_even_with_ignore_eos_and_stay_out_of_the_output() {
        int[] p = EngineTest.prompt(11, 9);
        Collector plain = run(engine, "stopid-plain", null, p, params(12, 0f, 0, -1, true, 0f, 0f, 1f, Map.of(), 0,
                List.of(), -1)).await();
        int at = 1;
        while (at < plain.tokens.size() && plain.tokens.subList(0, at).contains(plain.tokens.get(at))) {
            at++;
        }
        assertTrue(at < plain.tokens.size(), "a token that first appears after the start");
        int stopId = plain.tokens.get(at);
        Collector stopped = run(engine, "stopid", null, p, params(12, 0f, 0, -1, true, 0f, 0f, 1f, Map.of(), 0,
                List.of(stopId), -1)).await();
        assertEquals(EngineListener.FinishReason.STOP, stopped.finish);
        assertEquals(plain.tokens.subList(0, at), stopped.tokens);
        Collector held = run(engine, "stopid-min", null, p, params(12, 0f, 0, -1, true, 0f, 0f, 1f, Map.of(),
                at + 1, List.of(stopId), -1)).await();
        assertTrue(held.tokens.size() > at, "min_tokens masks stop_token_ids too");
        assertNotEquals(stopId, (int) held.tokens.get(at));
    }

    @Test
    void refuses_a_logit_bias_id_outside_the_vocabulary_naming_logit_bias() {
        int vocab = engine.config().vocabSize();
        Collector c = run(engine, "bias-oov", null, EngineTest.prompt(1, 4), params(4, 0f, 0, -1, false, 0f, 0f,
                1f, Map.of(vocab, 1f), 0, List.of(), -1)).await();
        assertNotNull(c.error);
        assertEquals(EngineError.Kind.INVALID_REQUEST, c.error.kind());
        assertEquals("logit_bias", c.error.param());
    }

    @Test
    void prompt_logprobs_are_the_teacher_forced_log_softmax_of_the_prompt_also_when_prefill_is_chunked() {
        int[] p = EngineTest.prompt(13, 37);
        float[] logits = fullForward(p, "adapter-01");
        int vocab = engine.config().vocabSize();
        for (Engine e : List.of(engine, chunked)) {
            Collector c = run(e, "plp-" + e.settings().maxBatchedTokens(), "adapter-01", p,
                    params(3, 0f, 0, 1, false, 0f, 0f, 1f, Map.of(), 0, List.of(), 3)).await();
            assertNull(c.error);
            assertEquals(1, c.promptEvents, "sent once");
            List<EngineListener.TokenLogprob> lps = c.promptLogprobs;
            assertEquals(p.length - 1, lps.size(), "positions 1..P-1");
            for (int i = 1; i < p.length; i++) {
                int row = i - 1;
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < vocab; v++) {
                    max = Math.max(max, logits[row * vocab + v]);
                }
                double z = 0;
                for (int v = 0; v < vocab; v++) {
                    z += Math.exp(logits[row * vocab + v] - max);
                }
                double logZ = max + Math.log(z);
                EngineListener.TokenLogprob lp = lps.get(i - 1);
                assertEquals(p[i], lp.tokenId());
                assertEquals(logits[row * vocab + p[i]] - logZ, lp.logprob(), 1e-3, "prompt position " + i);
                assertEquals(3, lp.topIds().length);
                Integer[] order = new Integer[vocab];
                for (int v = 0; v < vocab; v++) {
                    order[v] = v;
                }
                final int r = row;
                Arrays.sort(order, (x, y) -> Float.compare(logits[r * vocab + y], logits[r * vocab + x]));
                assertArrayEquals(new int[] {order[0], order[1], order[2]}, lp.topIds(), "top 3 at " + i);
                assertEquals(logits[row * vocab + order[0]] - logZ, lp.topLogprobs()[0], 1e-3);
            }
            assertEquals(3, c.tokens.size());
        }
    }

    @Test
    void a_request_without_prompt_logprobs_gets_none() {
        Collector c = run(engine, "plp-none", null, EngineTest.prompt(2, 6), SamplingParams.greedy(2)).await();
        assertNull(c.promptLogprobs);
        assertEquals(0, c.promptEvents);
    }

    @Test
    void skip_special_tokens_decides_whether_special_tokens_reach_the_text() {
        Path text = TinyModels.textModel(0);
        try (Engine e = Engine.start(text, EngineSettings.defaults().withThreads(1).withKvCacheBytes(2L << 20),
                "engine-sampling-special")) {
            int eosId = e.tokenizer().eosIds().iterator().next();
            int[] p = e.tokenizer().encode("Hello", true);
            String eosText = e.tokenizer().tokenString(eosId);
            List<String> texts = new ArrayList<>();
            for (boolean skip : new boolean[] {true, false}) {
                SamplingParams params = new SamplingParams(3, 0f, 1f, -1, 0L, List.of(), -1, true, 0f, 0f, 1f,
                        Map.of(eosId, 100f), 0, List.of(), skip, -1, null);
                Collector c = run(e, "special-" + skip, null, p, params).await();
                assertNull(c.error);
                assertEquals(List.of(eosId, eosId, eosId), c.tokens, "ignore_eos keeps the pushed EOS as output");
                texts.add(c.text.toString());
            }
            assertEquals("", texts.get(0));
            assertEquals(eosText.repeat(3), texts.get(1));
        }
    }
}
