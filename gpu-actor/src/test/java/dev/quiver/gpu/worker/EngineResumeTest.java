package dev.quiver.gpu.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.testing.TinyModels;
import dev.quiver.gpu.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Resuming a request from the output tokens its client already received (cluster failover): the resumed run
 * sends exactly what the uninterrupted run sent after those tokens — the same token ids, text, logprobs, finish
 * reason and usage — also when the resume point splits a UTF-8 character or a stop string.
 *
 * <p>The model has the demo byte-level tokenizer, so sampled text often spells a character over several tokens
 * and the decoder holds bytes back between them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EngineResumeTest {
    static final String ADAPTER = "adapter-01";
    Path model;
    Engine engine;
    Tokenizer tokenizer;
    int[] prompt;
    int requests;

    @BeforeAll
    void start() {
        model = TinyModels.textModel(2);
        engine = Engine.start(model, EngineSettings.defaults().withThreads(2).withKvCacheBytes(8L << 20)
                .withLoras(2, 4), "engine-resume-test");
        engine.registerAdapter(ADAPTER, model.resolve("adapters").resolve(ADAPTER));
        tokenizer = engine.tokenizer();
        prompt = tokenizer.encode("The quick brown fox jumps over", true);
    }

    @AfterAll
    void stop() {
        engine.close();
    }

    /** Temperature above zero, top_p below one, top-2 logprobs, stops at EOS. */
    static SamplingParams sampled(int maxTokens, long seed, List<String> stop) {
        return new SamplingParams(maxTokens, 1.0f, 0.9f, -1, seed, stop, 2, false);
    }

    static SamplingParams greedy() {
        return new SamplingParams(24, 0f, 1f, -1, 0, List.of(), 0, false);
    }

    /** One request's events as they came, each Tokens event kept apart. */
    static final class Run implements EngineListener {
        final List<int[]> ids = new ArrayList<>();
        final List<String> texts = new ArrayList<>();
        final List<String> logprobs = new ArrayList<>();
        final CompletableFuture<Void> done = new CompletableFuture<>();
        int promptTokens = -1;
        FinishReason finish;
        Usage usage;
        EngineError error;

        @Override
        public void onAccepted(String id, int promptTokens) {
            this.promptTokens = promptTokens;
        }

        @Override
        public void onTokens(String id, int[] tokenIds, String text, List<TokenLogprob> lps) {
            ids.add(tokenIds);
            texts.add(text);
            // every field, floats by their exact value: the record itself compares arrays by identity
            lps.forEach(l -> logprobs.add(l.tokenId() + " " + l.logprob() + " " + Arrays.toString(l.topIds()) + " "
                    + Arrays.toString(l.topLogprobs())));
        }

        @Override
        public void onFinished(String id, FinishReason reason, Usage usage) {
            this.finish = reason;
            this.usage = usage;
            done.complete(null);
        }

        @Override
        public void onFailed(String id, EngineError error) {
            this.error = error;
            done.complete(null);
        }

        Run await() {
            try {
                done.get(60, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError("request did not end within 60 s", e);
            }
            return this;
        }

        List<Integer> tokens() {
            List<Integer> out = new ArrayList<>();
            ids.forEach(a -> Arrays.stream(a).forEach(out::add));
            return out;
        }

        int[] firstTokens(int k) {
            return tokens().subList(0, k).stream().mapToInt(Integer::intValue).toArray();
        }

        String text() {
            return String.join("", texts);
        }

        /** The text a client had after the first k tokens (each Tokens event before the end carries one). */
        String textAfter(int k) {
            StringBuilder sb = new StringBuilder();
            int seen = 0;
            for (int i = 0; i < ids.size() && seen < k; i++) {
                sb.append(texts.get(i));
                seen += ids.get(i).length;
            }
            return sb.toString();
        }
    }

    Run generate(String adapter, SamplingParams params, int[] resume) {
        Run r = new Run();
        engine.submit(new GenerateRequest("r" + requests++, adapter, null, prompt, params, resume), r);
        return r.await();
    }

    /** 0, 1, the middle, n - 1 and n of n delivered tokens. */
    static int[] resumePoints(int n) {
        return new TreeSet<>(List.of(0, 1, n / 2, Math.max(n - 1, 0), n)).stream().mapToInt(Integer::intValue)
                .toArray();
    }

    /** Resumes {@code full}'s request after each of {@code ks} tokens and checks the continuation is its tail. */
    void assertResumesAsTheUninterruptedRun(Run full, String adapter, SamplingParams params, int... ks) {
        assertNull(full.error, () -> "uninterrupted run failed: " + full.error);
        List<Integer> all = full.tokens();
        int n = all.size();
        for (int k : ks) {
            String at = "resumed after " + k + " of " + n + " tokens";
            Run resumed = generate(adapter, params, full.firstTokens(k));
            assertNull(resumed.error, () -> at + ": " + resumed.error);
            assertEquals(prompt.length, resumed.promptTokens, at + ": Accepted counts the prompt only");
            assertEquals(all.subList(k, n), resumed.tokens(), at + ": token ids");
            String delivered = full.textAfter(k);
            assertTrue(full.text().startsWith(delivered));
            assertEquals(full.text().substring(delivered.length()), resumed.text(), at + ": text");
            int withLogprobs = params.logprobs() >= 0 ? k : 0;
            assertEquals(full.logprobs.subList(withLogprobs, full.logprobs.size()), resumed.logprobs,
                    at + ": logprobs, none re-sent for the resume tokens");
            assertEquals(full.finish, resumed.finish, at + ": finish reason");
            assertEquals(full.usage, resumed.usage, at + ": usage");
        }
    }

    /** A base-model sampled run and the seed that gave it. */
    record Seeded(long seed, Run run) {
    }

    /** The first seed in 0..199 whose uninterrupted base-model run (no stop strings) satisfies {@code wanted}. */
    Seeded firstSampledRunThat(Predicate<Run> wanted, String what) {
        for (long seed = 0; seed < 200; seed++) {
            Run r = generate(null, sampled(32, seed, List.of()), null);
            if (r.error == null && wanted.test(r)) {
                return new Seeded(seed, r);
            }
        }
        throw new AssertionError("no seed in 0..199 gives a run that " + what);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"base, sampled", "adapter-01, sampled", "base, greedy", "adapter-01, greedy"})
    void resuming_after_k_tokens_continues_with_the_same_tokens_text_and_logprobs(String model, String decoding) {
        String adapter = model.equals("base") ? null : model;
        SamplingParams params = decoding.equals("sampled") ? sampled(32, 20, List.of()) : greedy();
        Run full = generate(adapter, params, null);
        assertTrue(full.tokens().size() > 4, "a run long enough to resume in the middle");
        assertResumesAsTheUninterruptedRun(full, adapter, params, resumePoints(full.tokens().size()));
    }

    @Test
    void an_empty_resume_list_is_a_fresh_request() {
        Run fresh = generate(ADAPTER, sampled(32, 3, List.of()), null);
        Run empty = generate(ADAPTER, sampled(32, 3, List.of()), new int[0]);
        assertEquals(fresh.tokens(), empty.tokens());
        assertEquals(fresh.text(), empty.text());
        assertEquals(fresh.logprobs, empty.logprobs);
    }

    @Test
    void resuming_inside_a_multi_byte_character_carries_its_held_back_bytes_over() {
        Seeded s = firstSampledRunThat(r -> splitCharacterAt(r) > 0, "spells a character over a resume point");
        // after k tokens the client has none of the character's bytes; token k brings the whole character
        int k = splitCharacterAt(s.run());
        assertResumesAsTheUninterruptedRun(s.run(), null, sampled(32, s.seed(), List.of()), k - 1, k, k + 1);
    }

    /**
     * The first k such that after k tokens the decoder holds bytes back and token k completes them into a
     * character (not U+FFFD), or -1.
     */
    int splitCharacterAt(Run r) {
        for (int k = 1; k < r.ids.size(); k++) {
            boolean heldBack = !tokenizer.decode(r.firstTokens(k), true).equals(r.textAfter(k));
            String next = r.texts.get(k);
            if (heldBack && r.ids.get(k).length == 1 && !next.isEmpty() && next.codePointAt(0) > 0x7f
                    && next.codePointAt(0) != 0xFFFD) {
                return k;
            }
        }
        return -1;
    }

    @Test
    void a_request_resumed_before_its_end_of_sequence_token_stops_as_the_original_did() {
        Seeded s = firstSampledRunThat(r -> r.finish == EngineListener.FinishReason.STOP, "ends at EOS");
        int n = s.run().tokens().size();
        assertEquals(n + 1, s.run().usage.completionTokens(), "EOS counts in usage but is not sent");
        assertResumesAsTheUninterruptedRun(s.run(), null, sampled(32, s.seed(), List.of()), n - 1, n);
    }

    /**
     * A stop string made of the end of token j's text and the start of token j + 1's: after j + 1 tokens its
     * first half is held back from the client, so a resumed run must hold it too.
     */
    record Straddle(long seed, int j, String stop) {
    }

    Straddle straddlingStop() {
        Seeded s = firstSampledRunThat(r -> straddleAt(r) > 0, "has two plain-ASCII tokens to cut a stop from");
        int j = straddleAt(s.run());
        String a = s.run().texts.get(j);
        String b = s.run().texts.get(j + 1);
        return new Straddle(s.seed(), j, a.substring(a.length() - 2) + b.substring(0, 2));
    }

    /** The first j in the middle of the run whose stop string (see Straddle) first occurs across j and j + 1. */
    static int straddleAt(Run r) {
        for (int j = r.ids.size() / 2; j + 2 < r.ids.size(); j++) {
            String a = r.texts.get(j);
            String b = r.texts.get(j + 1);
            if (a.length() >= 2 && b.length() >= 2 && (a + b).chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
                String stop = a.substring(a.length() - 2) + b.substring(0, 2);
                if (r.text().indexOf(stop) == r.textAfter(j + 1).length() - 2) {
                    return j;
                }
            }
        }
        return -1;
    }

    @Test
    void a_stop_string_straddling_the_resume_point_stops_where_the_uninterrupted_run_stopped() {
        Straddle st = straddlingStop();
        SamplingParams params = sampled(32, st.seed(), List.of(st.stop()));
        Run full = generate(null, params, null);
        assertEquals(EngineListener.FinishReason.STOP, full.finish);
        assertEquals(st.j() + 2, full.tokens().size(), "stops at the token that completes the stop string");
        Run plain = generate(null, sampled(32, st.seed(), List.of()), null);
        assertTrue(full.textAfter(st.j() + 1).length() < plain.textAfter(st.j() + 1).length(),
                "the stop string's first half is held back at the resume point");
        assertResumesAsTheUninterruptedRun(full, null, params, st.j(), st.j() + 1, st.j() + 2);
    }

    @Test
    void a_partial_stop_match_held_at_the_resume_point_is_sent_once_it_cannot_match() {
        Straddle st = straddlingStop();
        // the first half of the stop string, then a private-use character the text never has
        String stop = st.stop().substring(0, 2) + "\uE000";
        SamplingParams params = sampled(32, st.seed(), List.of(stop));
        Run full = generate(null, params, null);
        Run plain = generate(null, sampled(32, st.seed(), List.of()), null);
        assertEquals(plain.text(), full.text(), "the stop string never matches");
        assertTrue(full.textAfter(st.j() + 1).length() < plain.textAfter(st.j() + 1).length(),
                "its first half is held back at the resume point");
        assertResumesAsTheUninterruptedRun(full, null, params, st.j() + 1);
    }

    @Test
    void a_request_resumed_after_its_last_token_sends_only_the_text_still_held_back() {
        Straddle st = straddlingStop();
        // max_tokens ends the run while the stop string's first half is held back: the end flushes it
        SamplingParams params = sampled(st.j() + 1, st.seed(), List.of(st.stop()));
        Run full = generate(null, params, null);
        assertEquals(EngineListener.FinishReason.LENGTH, full.finish);
        int[] last = full.ids.get(full.ids.size() - 1);
        assertEquals(0, last.length, "a last Tokens event with no ids carries the flushed text");
        assertEquals(st.stop().substring(0, 2), full.texts.get(full.texts.size() - 1));
        assertResumesAsTheUninterruptedRun(full, null, params, st.j() + 1);
    }

    @Test
    void resume_tokens_outside_the_vocabulary_are_refused() {
        Run r = generate(null, greedy(), new int[] {5, 512});
        assertEquals(EngineError.Kind.INVALID_REQUEST, r.error.kind());
        assertEquals("prompt", r.error.param());
        assertTrue(r.error.message().contains("512"), r.error.message());
    }

    @Test
    void more_resume_tokens_than_max_tokens_are_refused() {
        Run r = generate(null, sampled(3, 1, List.of()), new int[] {5, 6, 7, 8});
        assertEquals(EngineError.Kind.INVALID_REQUEST, r.error.kind());
        assertEquals("max_tokens", r.error.param());
    }

    @Test
    void resume_tokens_that_go_on_after_the_end_of_sequence_are_refused() {
        int eos = tokenizer.eosIds().iterator().next();
        Run r = generate(null, greedy(), new int[] {5, eos, 6});
        assertEquals(EngineError.Kind.INVALID_REQUEST, r.error.kind());
        assertTrue(r.error.message().contains("resume token 1"), r.error.message());
        EngineStatus st = engine.status().join();
        assertEquals(0, st.running() + st.waiting(), "nothing was scheduled");
    }
}
