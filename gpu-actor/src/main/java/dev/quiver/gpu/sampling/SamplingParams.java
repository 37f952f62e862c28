package dev.quiver.gpu.sampling;

import java.util.List;

/**
 * Validated, immutable per-request sampling parameters.
 *
 * <p>Built by the HTTP edge from an OpenAI completion request and carried with the request to the
 * engine, where {@link Sampler} and {@link StopMatcher} read it at every decode step. The compact
 * constructor rejects out-of-range values with an {@link InvalidSamplingParamsException} whose
 * {@code param()} is the OpenAI field name ({@code max_tokens}, {@code temperature}, {@code top_p},
 * {@code top_k}, {@code stop}, {@code logprobs}).
 *
 * @param maxTokens   tokens to generate at most, {@code >= 1}
 * @param temperature in [0, 2]; 0 means greedy (argmax)
 * @param topP        nucleus mass in (0, 1]; 1 keeps every token
 * @param topK        {@code -1} (off) or {@code >= 1}
 * @param seed        seed of the counter-based draw ({@link CounterRng})
 * @param stop        at most {@value #MAX_STOP_STRINGS} non-empty stop strings; {@code null} reads as none
 * @param logprobs    {@code -1} none, {@code 0} the chosen token's only, {@code n > 0} the chosen token's
 *                    and the top {@code n} alternatives ({@code n <= }{@value #MAX_LOGPROBS})
 * @param ignoreEos   keep generating past the end-of-sequence token until {@code maxTokens}
 */
public record SamplingParams(
        int maxTokens,
        float temperature,
        float topP,
        int topK,
        long seed,
        List<String> stop,
        int logprobs,
        boolean ignoreEos) {

    public static final float MAX_TEMPERATURE = 2.0f;
    public static final int MAX_STOP_STRINGS = 4;
    public static final int MAX_LOGPROBS = 20;

    public SamplingParams {
        if (maxTokens < 1) {
            throw invalid("max_tokens", "must be >= 1", maxTokens);
        }
        // NOTE: written as !(in range) so that NaN is rejected too.
        if (!(temperature >= 0.0f && temperature <= MAX_TEMPERATURE)) {
            throw invalid("temperature", "must be in [0, 2] (0 = greedy)", temperature);
        }
        if (!(topP > 0.0f && topP <= 1.0f)) {
            throw invalid("top_p", "must be in (0, 1]", topP);
        }
        if (topK != -1 && topK < 1) {
            throw invalid("top_k", "must be -1 (off) or >= 1", topK);
        }
        if (stop == null) {
            stop = List.of();
        }
        if (stop.size() > MAX_STOP_STRINGS) {
            throw invalid("stop", "must hold at most " + MAX_STOP_STRINGS + " strings", stop.size());
        }
        for (String s : stop) {
            if (s == null || s.isEmpty()) {
                throw invalid("stop", "must hold only non-empty strings", s == null ? "null" : "\"\"");
            }
        }
        stop = List.copyOf(stop);
        if (logprobs < -1 || logprobs > MAX_LOGPROBS) {
            throw invalid("logprobs", "must be in [-1, " + MAX_LOGPROBS + "] (-1 = none)", logprobs);
        }
    }

    /** Greedy decoding of at most {@code maxTokens} tokens: no stop strings, no logprobs, stops at EOS. */
    public static SamplingParams greedy(int maxTokens) {
        return new SamplingParams(maxTokens, 0.0f, 1.0f, -1, 0L, List.of(), -1, false);
    }

    /** Whether the next token is the argmax rather than a random draw. */
    public boolean isGreedy() {
        return temperature == 0.0f;
    }

    private static InvalidSamplingParamsException invalid(String param, String rule, Object value) {
        return new InvalidSamplingParamsException(param, param + " " + rule + ", got " + value);
    }
}
