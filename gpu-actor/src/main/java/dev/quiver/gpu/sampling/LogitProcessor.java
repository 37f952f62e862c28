package dev.quiver.gpu.sampling;

import java.util.Arrays;
import java.util.Collection;
import java.util.Map;
import java.util.Objects;

/**
 * Adjusts one row of logits by a request's penalties, bias and masks before {@link Sampler} draws from it.
 *
 * <p>The engine calls it after a forward pass, for each row whose {@link SamplingParams} ask for any of these,
 * with the sequence's prompt and output tokens so far (resumed tokens count as output). In order:
 * <ol>
 *   <li>vLLM's (CTRL's) repetition penalty: for every distinct token of prompt or output, a positive logit is
 *       divided by {@code repetitionPenalty}, any other multiplied by it;</li>
 *   <li>OpenAI's presence and frequency penalties over the output:
 *       {@code logit[t] -= presence * (count[t] > 0) + frequency * count[t]};</li>
 *   <li>{@code logitBias[t]} added;</li>
 *   <li>while fewer than {@code minTokens} output tokens exist, the end-of-sequence ids (unless
 *       {@code ignoreEos}) and {@code stopTokenIds} are masked with {@code -Infinity}.</li>
 * </ol>
 * Temperature, top-k and top-p come after, in the sampler. The result is a pure function of (logits, params,
 * tokens), so a row's draw does not depend on the batch it ran in and a resumed request continues as the
 * original would have.
 *
 * <p>NOTE: reported log-probabilities are not taken from the adjusted row: the engine scores the chosen token
 * on the raw logits ({@link Sampler#score}), as vLLM and OpenAI report them.
 *
 * <p>Not thread-safe: the engine thread owns one instance (its count array is reused between rows).
 */
public final class LogitProcessor {
    private final int vocabSize;
    private final int[] counts; // [vocab] occurrences in the output of the row being processed; zero between calls

    public LogitProcessor(int vocabSize) {
        if (vocabSize < 1) {
            throw new IllegalArgumentException("vocabSize must be >= 1, got " + vocabSize);
        }
        this.vocabSize = vocabSize;
        this.counts = new int[vocabSize];
    }

    /** Whether {@code params} make {@link #apply} change anything once {@code outputLength} tokens exist. */
    public static boolean needed(SamplingParams params, int outputLength) {
        return params.adjustsLogits() || outputLength < params.minTokens();
    }

    /**
     * Adjusts {@code logits[offset, offset + vocabSize)} in place.
     *
     * @param prompt the prompt's token ids
     * @param output the output so far (resumed tokens included)
     * @param eosIds the model's end-of-sequence ids, masked by {@code minTokens} unless {@code ignoreEos}
     */
    public void apply(float[] logits, int offset, SamplingParams params, int[] prompt, int[] output,
                      Collection<Integer> eosIds) {
        Objects.checkFromIndexSize(offset, vocabSize, logits.length);
        float rep = params.repetitionPenalty();
        if (rep != 1f) {
            // NOTE: counts marks tokens already penalised, so a token seen many times is penalised once.
            for (int[] part : new int[][] {prompt, output}) {
                for (int t : part) {
                    if (t >= 0 && t < vocabSize && counts[t] == 0) {
                        counts[t] = 1;
                        int i = offset + t;
                        logits[i] = logits[i] > 0 ? logits[i] / rep : logits[i] * rep;
                    }
                }
            }
            clear(prompt, output);
        }
        float presence = params.presencePenalty();
        float frequency = params.frequencyPenalty();
        if (presence != 0f || frequency != 0f) {
            for (int t : output) {
                if (t >= 0 && t < vocabSize) {
                    counts[t]++;
                }
            }
            for (int t : output) {
                if (t >= 0 && t < vocabSize && counts[t] > 0) {
                    logits[offset + t] -= presence + frequency * counts[t];
                    counts[t] = 0; // each distinct token once
                }
            }
        }
        for (Map.Entry<Integer, Float> e : params.logitBias().entrySet()) {
            int t = e.getKey();
            if (t >= vocabSize) {
                throw new IllegalArgumentException("logit_bias token id " + t + " is outside the vocabulary [0, "
                        + vocabSize + ")");
            }
            logits[offset + t] += e.getValue();
        }
        if (output.length < params.minTokens()) {
            if (!params.ignoreEos()) {
                for (int t : eosIds) {
                    mask(logits, offset, t);
                }
            }
            for (int t : params.stopTokenIds()) {
                mask(logits, offset, t);
            }
        }
    }

    private void mask(float[] logits, int offset, int t) {
        if (t >= 0 && t < vocabSize) {
            logits[offset + t] = Float.NEGATIVE_INFINITY;
        }
    }

    private void clear(int[] prompt, int[] output) {
        for (int[] part : new int[][] {prompt, output}) {
            for (int t : part) {
                if (t >= 0 && t < vocabSize) {
                    counts[t] = 0;
                }
            }
        }
    }

    /** For tests: whether the scratch counts are back to zero after a call. */
    boolean clean() {
        return Arrays.stream(counts).allMatch(c -> c == 0);
    }
}
