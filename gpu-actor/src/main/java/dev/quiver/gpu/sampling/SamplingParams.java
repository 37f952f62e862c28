package dev.quiver.gpu.sampling;

import dev.quiver.gpu.constraint.ConstraintSpec;
import java.util.List;
import java.util.Map;

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
 * @param presencePenalty   OpenAI's: subtracted once from the logit of every token already in the output, in
 *                          [-2, 2]
 * @param frequencyPenalty  OpenAI's: subtracted from a token's logit once per time it occurs in the output, in
 *                          [-2, 2]
 * @param repetitionPenalty vLLM's (CTRL's): a logit of a token seen in the prompt or output is divided by it when
 *                          positive and multiplied by it when negative; in (0, 2], 1 is off
 * @param logitBias         OpenAI's: token id → bias in [-100, 100] added to that token's logit (ids are checked
 *                          against the vocabulary by the engine); {@code null} reads as none
 * @param minTokens         vLLM's: EOS and {@code stopTokenIds} are masked until this many tokens were produced;
 *                          in [0, maxTokens]
 * @param stopTokenIds      vLLM's: token ids that end the request like EOS (the id itself is not part of the
 *                          text); {@code null} reads as none
 * @param skipSpecialTokens vLLM's: special tokens are left out of the text (their ids still count); default true
 * @param promptLogprobs    {@code -1} none, {@code n >= 0}: the log-probability of every prompt token after the
 *                          first (teacher-forced) with the top {@code n} alternatives (completions' {@code echo})
 * @param constraint        what the output must match (structured outputs); {@code null} for none
 */
public record SamplingParams(
        int maxTokens,
        float temperature,
        float topP,
        int topK,
        long seed,
        List<String> stop,
        int logprobs,
        boolean ignoreEos,
        float presencePenalty,
        float frequencyPenalty,
        float repetitionPenalty,
        Map<Integer, Float> logitBias,
        int minTokens,
        List<Integer> stopTokenIds,
        boolean skipSpecialTokens,
        int promptLogprobs,
        ConstraintSpec constraint) {

    public static final float MAX_TEMPERATURE = 2.0f;
    public static final int MAX_STOP_STRINGS = 4;
    public static final int MAX_LOGPROBS = 20;
    public static final float MAX_PENALTY = 2.0f;
    public static final float MAX_LOGIT_BIAS = 100.0f;
    public static final int MAX_LOGIT_BIAS_ENTRIES = 1024;
    public static final int MAX_STOP_TOKEN_IDS = 64;

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
        if (!(presencePenalty >= -MAX_PENALTY && presencePenalty <= MAX_PENALTY)) {
            throw invalid("presence_penalty", "must be in [-2, 2]", presencePenalty);
        }
        if (!(frequencyPenalty >= -MAX_PENALTY && frequencyPenalty <= MAX_PENALTY)) {
            throw invalid("frequency_penalty", "must be in [-2, 2]", frequencyPenalty);
        }
        if (!(repetitionPenalty > 0.0f && repetitionPenalty <= 2.0f)) {
            throw invalid("repetition_penalty", "must be in (0, 2] (1 = off)", repetitionPenalty);
        }
        logitBias = logitBias == null ? Map.of() : Map.copyOf(logitBias);
        if (logitBias.size() > MAX_LOGIT_BIAS_ENTRIES) {
            throw invalid("logit_bias", "must hold at most " + MAX_LOGIT_BIAS_ENTRIES + " entries", logitBias.size());
        }
        for (Map.Entry<Integer, Float> e : logitBias.entrySet()) {
            if (e.getKey() < 0) {
                throw invalid("logit_bias", "token ids must be >= 0", e.getKey());
            }
            if (!(e.getValue() >= -MAX_LOGIT_BIAS && e.getValue() <= MAX_LOGIT_BIAS)) {
                throw invalid("logit_bias", "values must be in [-100, 100]", e.getKey() + ": " + e.getValue());
            }
        }
        if (minTokens < 0 || minTokens > maxTokens) {
            throw invalid("min_tokens", "must be in [0, max_tokens = " + maxTokens + "]", minTokens);
        }
        stopTokenIds = stopTokenIds == null ? List.of() : List.copyOf(stopTokenIds);
        if (stopTokenIds.size() > MAX_STOP_TOKEN_IDS) {
            throw invalid("stop_token_ids", "must hold at most " + MAX_STOP_TOKEN_IDS + " ids", stopTokenIds.size());
        }
        for (int id : stopTokenIds) {
            if (id < 0) {
                throw invalid("stop_token_ids", "ids must be >= 0", id);
            }
        }
        if (promptLogprobs < -1 || promptLogprobs > MAX_LOGPROBS) {
            throw invalid("logprobs", "prompt logprobs must be in [-1, " + MAX_LOGPROBS + "] (-1 = none)",
                    promptLogprobs);
        }
    }

    /** The parameters of the first release: no penalties, bias, minimum, stop ids, prompt logprobs or constraint. */
    public SamplingParams(int maxTokens, float temperature, float topP, int topK, long seed, List<String> stop,
                          int logprobs, boolean ignoreEos) {
        this(maxTokens, temperature, topP, topK, seed, stop, logprobs, ignoreEos, 0f, 0f, 1f, Map.of(), 0, List.of(),
                true, -1, null);
    }

    /** A copy with another constraint. */
    public SamplingParams withConstraint(ConstraintSpec c) {
        return new SamplingParams(maxTokens, temperature, topP, topK, seed, stop, logprobs, ignoreEos, presencePenalty,
                frequencyPenalty, repetitionPenalty, logitBias, minTokens, stopTokenIds, skipSpecialTokens,
                promptLogprobs, c);
    }

    /** Whether any penalty or bias changes the logits before the draw. */
    public boolean adjustsLogits() {
        return presencePenalty != 0f || frequencyPenalty != 0f || repetitionPenalty != 1f || !logitBias.isEmpty();
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
