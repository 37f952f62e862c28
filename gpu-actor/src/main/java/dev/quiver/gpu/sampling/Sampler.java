package dev.quiver.gpu.sampling;

import java.util.Arrays;
import java.util.Objects;

/**
 * Picks the next token from one row of logits.
 *
 * <p>The engine loop hands it the logits row of each sequence after a forward pass, together with
 * the sequence's {@link SamplingParams} and the absolute position of the token being produced; the
 * chosen id goes back into the sequence and, with its log-probabilities, out to the client.
 *
 * <p>Greedy ({@code temperature == 0}): the argmax, ties broken by the lowest id. Otherwise the
 * logits are scaled by {@code 1 / temperature}, cut to the top-k when set, then to the smallest
 * prefix of the remaining tokens whose probability mass reaches {@code topP}; the kept mass is
 * renormalised and the CDF inverted with {@code u = CounterRng.uniform(seed, position)}. Tokens are
 * walked in a fixed order, logit descending then id ascending, which is probability descending with
 * ties by id, so a draw is a pure function of (logits, params, position).
 *
 * <p>Log-probabilities are those of the model's raw distribution: log-softmax of the logits before
 * temperature, top-k and top-p, as vLLM and OpenAI report them.
 *
 * <p>Logits must not be NaN and at least one must be finite; {@code -Infinity} masks a token. The
 * sampler keeps no state between calls: scratch arrays are per thread and reused, so a call
 * allocates only the returned {@link Sample} and its top-n arrays. Without top-k it ranks only as
 * much of the vocabulary as the draw reaches (see {@code drawFromVocabulary}).
 */
public final class Sampler {

    private static final int[] NO_IDS = new int[0];
    private static final float[] NO_LOGPROBS = new float[0];

    /** First window, in units of temperature: tokens down to e^-4 of the best one's weight. */
    private static final double INITIAL_WINDOW = 4.0;

    private final int vocabSize;
    private final ThreadLocal<Scratch> scratch;

    public Sampler(int vocabSize) {
        if (vocabSize < 1) {
            throw new IllegalArgumentException("vocabSize must be >= 1, got " + vocabSize);
        }
        this.vocabSize = vocabSize;
        this.scratch = ThreadLocal.withInitial(() -> new Scratch(vocabSize));
    }

    public int vocabSize() {
        return vocabSize;
    }

    /**
     * Chooses the token at {@code position} from {@code logits[offset, offset + vocabSize)}.
     *
     * @return the chosen id; when {@code params.logprobs() >= 0} also its log-probability and the top
     *     {@code params.logprobs()} alternatives (best first, ties by id), otherwise a NaN logprob and
     *     empty arrays
     */
    public Sample sample(float[] logits, int offset, SamplingParams params, long position) {
        Objects.requireNonNull(logits, "logits");
        Objects.requireNonNull(params, "params");
        Objects.checkFromIndexSize(offset, vocabSize, logits.length);
        float max = checkedMax(logits, offset);
        Scratch s = scratch.get();

        int tokenId;
        s.ranked = 0;
        if (params.isGreedy()) {
            tokenId = argmax(logits, offset);
        } else if (params.topK() == -1 || params.topK() >= vocabSize) {
            tokenId = drawFromVocabulary(logits, offset, max, params, position, s);
        } else {
            tokenId = drawFromTopK(logits, offset, params, position, s);
        }

        if (params.logprobs() < 0) {
            return new Sample(tokenId, Float.NaN, NO_IDS, NO_LOGPROBS);
        }
        double logZ = logSumExp(logits, offset, max);
        float chosen = (float) (logits[offset + tokenId] - logZ);
        int n = Math.min(params.logprobs(), vocabSize);
        if (n == 0) {
            return new Sample(tokenId, chosen, NO_IDS, NO_LOGPROBS);
        }
        // A draw ranks a prefix of the global order; when it holds n tokens they are the top n.
        if (s.ranked < n) {
            rankTop(logits, offset, n, s.keys);
        }
        int[] topIds = new int[n];
        float[] topLogprobs = new float[n];
        for (int i = 0; i < n; i++) {
            int id = idOf(s.keys[i]);
            topIds[i] = id;
            topLogprobs[i] = (float) (logits[offset + id] - logZ);
        }
        return new Sample(tokenId, chosen, topIds, topLogprobs);
    }

    /**
     * The log-probability of {@code tokenId} under the distribution of {@code logits[offset, offset + vocabSize)}
     * (log-softmax, no temperature) and the top {@code topN} alternatives, best first with ties by id. The engine
     * uses it for a token it did not draw from these logits: the raw logits of a row whose draw saw penalised
     * ones, and the teacher-forced prompt tokens of {@code echo}.
     *
     * @param topN how many alternatives, {@code >= 0}
     */
    public Sample score(float[] logits, int offset, int tokenId, int topN) {
        Objects.requireNonNull(logits, "logits");
        Objects.checkFromIndexSize(offset, vocabSize, logits.length);
        Objects.checkIndex(tokenId, vocabSize);
        if (topN < 0) {
            throw new IllegalArgumentException("topN must be >= 0, got " + topN);
        }
        float max = checkedMax(logits, offset);
        double logZ = logSumExp(logits, offset, max);
        float chosen = (float) (logits[offset + tokenId] - logZ);
        int n = Math.min(topN, vocabSize);
        if (n == 0) {
            return new Sample(tokenId, chosen, NO_IDS, NO_LOGPROBS);
        }
        long[] keys = scratch.get().keys;
        rankTop(logits, offset, n, keys);
        int[] topIds = new int[n];
        float[] topLogprobs = new float[n];
        for (int i = 0; i < n; i++) {
            int id = idOf(keys[i]);
            topIds[i] = id;
            topLogprobs[i] = (float) (logits[offset + id] - logZ);
        }
        return new Sample(tokenId, chosen, topIds, topLogprobs);
    }

    /**
     * One sampled token. Arrays are owned by the caller and not copied.
     *
     * @param tokenId     the chosen token
     * @param logprob     its log-probability under the raw distribution, NaN when not requested
     * @param topIds      the top-n token ids, most probable first, ties by id; empty when not requested
     * @param topLogprobs their log-probabilities, aligned with {@code topIds}
     */
    public record Sample(int tokenId, float logprob, int[] topIds, float[] topLogprobs) {}

    /**
     * Draws among the {@code topK} best tokens: a bounded heap ranks them, then {@link #walk} runs over
     * all of them.
     */
    private int drawFromTopK(
            float[] logits, int offset, SamplingParams params, long position, Scratch s) {
        int k = rankTop(logits, offset, params.topK(), s.keys);
        s.ranked = k;
        double invTemperature = 1.0 / params.temperature();
        double best = logits[offset + idOf(s.keys[0])];
        double total = 0.0;
        for (int i = 0; i < k; i++) {
            int id = idOf(s.keys[i]);
            double w = Math.exp((logits[offset + id] - best) * invTemperature);
            s.weights[id] = w;
            total += w;
        }
        double u = CounterRng.uniform(params.seed(), position);
        return walk(s.keys, k, true, s.weights, params.topP(), total, u);
    }

    /**
     * Draws from the whole vocabulary without sorting all of it. Only the highest-ranked tokens up to
     * the mass the draw needs (the top-p threshold, or {@code u * total} without top-p) are ever
     * visited by {@link #walk}, so it is enough to rank the tokens inside a window of logits below the
     * maximum, widened until the window carries that mass. Every token outside the window ranks below
     * every token inside, so the sorted window is a prefix of the full order and the result is the
     * same as with a full sort.
     */
    private int drawFromVocabulary(
            float[] logits, int offset, float max, SamplingParams params, long position, Scratch s) {
        double invTemperature = 1.0 / params.temperature();
        double[] weight = s.weights;
        double total = 0.0;
        float minFinite = max;
        for (int i = 0; i < vocabSize; i++) {
            float l = logits[offset + i];
            double w = Math.exp((l - (double) max) * invTemperature);
            weight[i] = w;
            total += w;
            if (l < minFinite && l != Float.NEGATIVE_INFINITY) {
                minFinite = l;
            }
        }
        double u = CounterRng.uniform(params.seed(), position);
        double needed = params.topP() < 1.0f ? params.topP() * total : u * total;

        long[] keys = s.keys;
        int count = 0;
        double windowMass = 0.0;
        double upper = Double.POSITIVE_INFINITY; // the window so far is [lower, +inf)
        double width = INITIAL_WINDOW * params.temperature();
        while (true) {
            double lower = max - width;
            boolean complete = lower <= minFinite;
            if (complete) {
                lower = Double.NEGATIVE_INFINITY;
            }
            for (int i = 0; i < vocabSize; i++) {
                float l = logits[offset + i];
                if (l >= lower && l < upper) {
                    keys[count++] = key(l, i);
                    windowMass += weight[i];
                }
            }
            upper = lower;
            width *= 2;
            if (complete || windowMass > needed) {
                Arrays.sort(keys, 0, count);
                s.ranked = count;
                int token = walk(keys, count, complete, weight, params.topP(), total, u);
                if (token >= 0) {
                    return token;
                }
                // Rounding left the needed mass just past the window: widen and retry.
            }
        }
    }

    /**
     * The top-p cut and the CDF inversion over {@code keys[0, count)}, a sorted prefix of the
     * candidates whose weights (indexed by token id) sum to {@code total}: keeps the smallest prefix
     * whose mass reaches {@code topP * total}, then returns the first kept token whose cumulative
     * weight exceeds {@code u} times the kept mass. Returns -1 when the prefix is not
     * {@code complete} and the answer lies beyond it.
     */
    static int walk(
            long[] keys, int count, boolean complete, double[] weight, float topP, double total, double u) {
        int kept = count;
        double keptMass = total;
        if (topP < 1.0f) {
            double threshold = topP * total;
            double cumulative = 0.0;
            int i = 0;
            while (i < count && cumulative < threshold) {
                cumulative += weight[idOf(keys[i++])];
            }
            if (cumulative < threshold && !complete) {
                return -1;
            }
            kept = i;
            keptMass = cumulative;
        }
        double target = u * keptMass;
        double cumulative = 0.0;
        int lastPositive = -1;
        for (int i = 0; i < kept; i++) {
            double w = weight[idOf(keys[i])];
            if (w > 0.0) {
                lastPositive = i;
                cumulative += w;
                if (target < cumulative) {
                    return idOf(keys[i]);
                }
            }
        }
        if (!complete) {
            return -1;
        }
        // Reached only if rounding left target at the very top of the mass.
        return idOf(keys[Math.max(lastPositive, 0)]);
    }

    private float checkedMax(float[] logits, int offset) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocabSize; i++) {
            float v = logits[offset + i];
            if (Float.isNaN(v)) {
                throw new IllegalArgumentException("logit of token " + i + " is NaN");
            }
            if (v > max) {
                max = v;
            }
        }
        if (!Float.isFinite(max)) {
            throw new IllegalArgumentException("logits must have a finite maximum, got " + max);
        }
        return max;
    }

    private int argmax(float[] logits, int offset) {
        int best = 0;
        float bestValue = logits[offset];
        for (int i = 1; i < vocabSize; i++) {
            if (logits[offset + i] > bestValue) {
                bestValue = logits[offset + i];
                best = i;
            }
        }
        return best;
    }

    private double logSumExp(float[] logits, int offset, float max) {
        double sum = 0.0;
        for (int i = 0; i < vocabSize; i++) {
            sum += Math.exp((double) logits[offset + i] - max);
        }
        return max + Math.log(sum);
    }

    /**
     * Writes the keys of the {@code k} best tokens into {@code keys[0, k)}, best first, and returns k.
     * The whole vocabulary is sorted when k covers it; otherwise a bounded max-heap keeps the k best
     * seen so far (O(V log k)) and only those are sorted.
     */
    private int rankTop(float[] logits, int offset, int k, long[] keys) {
        if (k >= vocabSize) {
            for (int i = 0; i < vocabSize; i++) {
                keys[i] = key(logits[offset + i], i);
            }
            Arrays.sort(keys, 0, vocabSize);
            return vocabSize;
        }
        for (int i = 0; i < k; i++) {
            keys[i] = key(logits[offset + i], i);
            siftUp(keys, i);
        }
        for (int i = k; i < vocabSize; i++) {
            long candidate = key(logits[offset + i], i);
            if (candidate < keys[0]) {
                keys[0] = candidate;
                siftDown(keys, k);
            }
        }
        Arrays.sort(keys, 0, k);
        return k;
    }

    /**
     * Packs a token into a long whose natural order is logit descending, then id ascending: the high
     * half is the logit's bits made order-preserving as a signed int and inverted, the low half the id.
     */
    static long key(float logit, int id) {
        int bits = Float.floatToIntBits(logit + 0.0f); // + 0.0f folds -0.0 into 0.0
        int ascending = bits ^ ((bits >> 31) & 0x7fffffff);
        return ((long) ~ascending << 32) | (id & 0xffffffffL);
    }

    static int idOf(long key) {
        return (int) key;
    }

    /** Max-heap on keys: the root is the worst of the tokens kept. */
    private static void siftUp(long[] heap, int i) {
        long item = heap[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] >= item) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = item;
    }

    private static void siftDown(long[] heap, int size) {
        long item = heap[0];
        int i = 0;
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            if (child + 1 < size && heap[child + 1] > heap[child]) {
                child++;
            }
            if (item >= heap[child]) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = item;
    }

    /** Per-thread working memory sized to the vocabulary. */
    private static final class Scratch {
        final long[] keys; // [vocab] packed (logit, id), see key()
        final double[] weights; // [vocab] unnormalised probabilities, indexed by token id
        int ranked; // keys[0, ranked) hold a sorted prefix of the global order after a draw

        Scratch(int vocabSize) {
            this.keys = new long[vocabSize];
            this.weights = new double[vocabSize];
        }
    }
}
