package dev.quiver.gpu.bench;

import dev.quiver.gpu.constraint.ConstraintSpec;
import dev.quiver.gpu.constraint.Constraints;
import dev.quiver.gpu.constraint.Dfa;
import dev.quiver.gpu.constraint.TokenConstraint;
import dev.quiver.gpu.constraint.TokenIndex;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.worker.Engine;
import dev.quiver.gpu.worker.EngineError;
import dev.quiver.gpu.worker.EngineListener;
import dev.quiver.gpu.worker.EngineSettings;
import dev.quiver.gpu.worker.GenerateRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code quiver bench constraints --model DIR}: the cost of structured outputs.
 * <ol>
 *   <li>{@link TokenIndex} build time for a 128k-token vocabulary, and the first (uncached) and cached mask of
 *       a state inside a JSON string, where nearly every token is allowed (the trie walk's worst case);</li>
 *   <li>decode tokens/s through the whole engine (scheduler, sampling, masking) at batch 1 and 32, with a
 *       {@code json_schema} constraint and without, alternating so that load on the machine hits both alike.</li>
 * </ol>
 * The schema (an object holding at least 64 strings) keeps a random-weight model generating until
 * {@code max_tokens} (up to about 128), so both sides decode the same number of tokens.
 */
public final class ConstraintBench {
    static final String SCHEMA = "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"
            + "\"notes\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":64}},"
            + "\"required\":[\"id\",\"notes\"]}";

    private ConstraintBench() {
    }

    public static void main(String[] args) throws Exception {
        Path model = null;
        int threads = Runtime.getRuntime().availableProcessors();
        int tokens = 64;
        int rounds = 2;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> model = Path.of(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--tokens" -> tokens = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        indexBench();
        if (model == null) {
            System.out.println("(no --model: engine decode comparison skipped)");
            return;
        }
        try (Engine engine = Engine.start(model, EngineSettings.defaults().withThreads(threads)
                .withKvCacheBytes(1L << 30).withBatch(32, 2048), "bench-constraints")) {
            int[] prompt = engine.tokenizer().encode("Write the record as JSON:", true);
            matcherCost(engine, 4000);
            ConstraintSpec spec = new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, SCHEMA);
            System.out.printf("%n[2] engine decode, %d tokens per request, %d threads, schema %s%n", tokens, threads,
                    SCHEMA);
            decode(engine, prompt, 2, 16, null); // warm-up, both paths
            decode(engine, prompt, 2, 16, spec);
            for (int batch : new int[] {1, 32}) {
                List<Double> plain = new ArrayList<>();
                List<Double> constrained = new ArrayList<>();
                for (int r = 0; r < rounds; r++) {
                    plain.add(decode(engine, prompt, batch, tokens, null));
                    constrained.add(decode(engine, prompt, batch, tokens, spec));
                }
                double p = median(plain);
                double c = median(constrained);
                System.out.printf("batch %2d: unconstrained %7.1f tok/s (median of %s), json_schema %7.1f tok/s "
                        + "(median of %s): %.0f %%%n", batch, p, rounded(plain), c, rounded(constrained), 100 * c / p);
            }
        }
    }

    /**
     * The constraint's own work per decoded token on the engine's vocabulary, without the model: a random walk
     * of {@code tokens} tokens through the schema, each step masking a logits row and advancing the matcher.
     * Counted twice: from a cold cache (every new automaton state costs a trie walk) and warm.
     */
    static void matcherCost(Engine engine, int tokens) {
        int vocab = engine.config().vocabSize();
        long t0 = System.nanoTime();
        TokenIndex index = TokenIndex.of(engine.tokenizer(), vocab);
        double indexMs = (System.nanoTime() - t0) / 1e6;
        ConstraintSpec spec = new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, SCHEMA);
        TokenConstraint c = new TokenConstraint(Constraints.compile(spec), index, engine.tokenizer().eosIds());
        float[] logits = new float[vocab];
        for (String pass : new String[] {"cold", "warm"}) {
            SplittableRandom rnd = new SplittableRandom(11);
            var m = c.newMatcher();
            int[] allowed = new int[vocab];
            long t = System.nanoTime();
            int n = 0;
            for (; n < tokens; n++) {
                java.util.Arrays.fill(logits, 0f);
                m.maskLogits(logits, 0, vocab);
                int k = 0;
                for (int id = 0; id < vocab; id++) {
                    if (logits[id] == 0f) {
                        allowed[k++] = id;
                    }
                }
                if (k == 0 || !m.advance(allowed[rnd.nextInt(k)])) {
                    break;
                }
            }
            double us = (System.nanoTime() - t) / 1e3 / n;
            System.out.printf("    constraint work per token, %s, vocab %,d (index built in %.1f ms): %.1f us over %d "
                    + "tokens (incl. clearing the row and listing allowed ids for the random pick)%n", pass, vocab,
                    indexMs, us, n);
        }
    }

    static double median(List<Double> xs) {
        double[] v = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    static List<String> rounded(List<Double> xs) {
        return xs.stream().map(x -> String.format("%.1f", x)).toList();
    }

    /** Index build over a synthetic 128k vocabulary and the cost of one mask. */
    static void indexBench() {
        byte[][] vocab = syntheticVocabulary(128_000, 7);
        for (int i = 0; i < 3; i++) { // warm-up
            TokenIndex.of(vocab);
        }
        List<Double> builds = new ArrayList<>();
        TokenIndex index = null;
        for (int i = 0; i < 5; i++) {
            long t0 = System.nanoTime();
            index = TokenIndex.of(vocab);
            builds.add((System.nanoTime() - t0) / 1e6);
        }
        System.out.printf("[1] TokenIndex over %,d tokens: %,d trie nodes, built in %.1f ms (median of %s)%n",
                vocab.length, index.nodeCount(), median(builds), rounded(builds));
        Dfa dfa = Constraints.compile(new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, SCHEMA));
        int inString = dfa.walk(0, "{\"id\":7,\"notes\":[\"ab".getBytes(StandardCharsets.UTF_8));
        TokenConstraint warm = new TokenConstraint(dfa, index, Set.of());
        float[] logits = new float[vocab.length];
        warm.newMatcher().maskLogits(logits, 0, vocab.length); // explores the DFA states the walk needs
        TokenConstraint c = new TokenConstraint(dfa, index, Set.of());
        var m = c.newMatcher();
        for (byte b : "{\"id\":7,\"notes\":[\"ab".getBytes(StandardCharsets.UTF_8)) {
            // NOTE: advance by single bytes: every byte is a token of the synthetic vocabulary (ids 0..255)
            m.advance(b & 0xFF);
        }
        // the trie walk alone, as on a state's first visit (its DFA transitions are explored by now)
        int walks = 20;
        long t1 = System.nanoTime();
        for (int i = 0; i < walks; i++) {
            index.allowed(dfa, inString, new long[(vocab.length + 63) / 64]);
        }
        double firstMs = (System.nanoTime() - t1) / 1e6 / walks;
        java.util.Arrays.fill(logits, 0f);
        m.maskLogits(logits, 0, vocab.length);
        float[] scratch = new float[vocab.length];
        long t2 = System.nanoTime();
        int reps = 200;
        for (int i = 0; i < reps; i++) {
            m.maskLogits(scratch, 0, vocab.length);
        }
        double cachedUs = (System.nanoTime() - t2) / 1e3 / reps;
        int allowed = 0;
        for (float l : logits) {
            allowed += l == Float.NEGATIVE_INFINITY ? 0 : 1;
        }
        System.out.printf("    mask inside a JSON string (state %d, %,d of %,d tokens allowed): first visit %.1f ms "
                + "(trie walk), cached %.0f us (applying the bitmask to the logits)%n", inString, allowed,
                vocab.length, firstMs, cachedUs);
    }

    /**
     * The 256 single bytes, then words in the style of a byte-level BPE vocabulary: ASCII letters with and without
     * a leading space, digits, punctuation runs and some multi-byte UTF-8 words; all distinct.
     */
    static byte[][] syntheticVocabulary(int size, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        java.util.Set<String> seen = new java.util.HashSet<>();
        byte[][] out = new byte[size][];
        for (int i = 0; i < 256; i++) {
            out[i] = new byte[] {(byte) i};
        }
        String letters = "etaoinshrdlcumwfgypbvkjxqz";
        String punct = "{}[]\",:.;!?()-_'";
        int n = 256;
        while (n < size) {
            int kind = rnd.nextInt(10);
            int len = 2 + rnd.nextInt(rnd.nextInt(4) == 0 ? 14 : 7);
            StringBuilder sb = new StringBuilder();
            if (kind < 6 && rnd.nextBoolean()) {
                sb.append(' ');
            }
            for (int k = 0; k < len; k++) {
                if (kind < 7) {
                    char ch = letters.charAt((int) Math.min(letters.length() - 1, Math.abs(rnd.nextGaussian()) * 8));
                    sb.append(k == 0 && rnd.nextInt(5) == 0 ? Character.toUpperCase(ch) : ch);
                } else if (kind == 7) {
                    sb.append((char) ('0' + rnd.nextInt(10)));
                } else if (kind == 8) {
                    sb.append(punct.charAt(rnd.nextInt(punct.length())));
                } else {
                    sb.appendCodePoint(0xC0 + rnd.nextInt(0x250));
                }
            }
            if (seen.add(sb.toString())) {
                out[n++] = sb.toString().getBytes(StandardCharsets.UTF_8);
            }
        }
        return out;
    }

    /** Decode tokens/s of {@code batch} concurrent requests, counted after every request has its first token. */
    static double decode(Engine engine, int[] prompt, int batch, int tokens, ConstraintSpec spec)
            throws InterruptedException {
        CountDownLatch first = new CountDownLatch(batch);
        CountDownLatch done = new CountDownLatch(batch);
        AtomicLong counted = new AtomicLong();
        AtomicLong total = new AtomicLong();
        long[] firstAt = new long[1];
        for (int i = 0; i < batch; i++) {
            SamplingParams p = new SamplingParams(tokens, 1f, 1f, -1, 1000 + i, List.of(), -1, true)
                    .withConstraint(spec);
            engine.submit(new GenerateRequest("b" + System.nanoTime() + "-" + i, null, null, prompt, p),
                    new EngineListener() {
                        boolean seenFirst;

                        @Override
                        public void onAccepted(String id, int promptTokens) {
                        }

                        @Override
                        public void onTokens(String id, int[] ids, String text, List<TokenLogprob> lp) {
                            total.addAndGet(ids.length);
                            if (!seenFirst && ids.length > 0) {
                                seenFirst = true;
                                first.countDown();
                                if (first.getCount() == 0) {
                                    firstAt[0] = System.nanoTime();
                                }
                            } else if (first.getCount() == 0) {
                                counted.addAndGet(ids.length);
                            }
                        }

                        @Override
                        public void onFinished(String id, FinishReason reason, Usage usage) {
                            if (!seenFirst) {
                                first.countDown();
                            }
                            done.countDown();
                        }

                        @Override
                        public void onFailed(String id, EngineError error) {
                            System.err.println("request failed: " + error);
                            first.countDown();
                            done.countDown();
                        }
                    });
        }
        done.await(30, TimeUnit.MINUTES);
        long end = System.nanoTime();
        if (total.get() < (long) batch * tokens * 9 / 10) {
            System.out.printf("    (note: %d of %d tokens generated; some requests ended early)%n", total.get(),
                    (long) batch * tokens);
        }
        return counted.get() / ((end - firstAt[0]) / 1e9);
    }
}
