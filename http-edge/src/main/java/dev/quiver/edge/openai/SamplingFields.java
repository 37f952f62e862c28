package dev.quiver.edge.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quiver.gpu.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The request fields that shape the logits beyond temperature and top-k/top-p, as OpenAI and vLLM name them:
 * {@code presence_penalty}, {@code frequency_penalty}, {@code logit_bias} (OpenAI), {@code repetition_penalty},
 * {@code min_tokens}, {@code stop_token_ids}, {@code skip_special_tokens} (vLLM extensions). Parsed apart from
 * {@link OpenAiRequest} so that it stays readable; every problem names its field. The engine applies them (see
 * {@code dev.quiver.gpu.sampling.LogitProcessor}); {@code logit_bias} ids are checked against the model's
 * vocabulary there.
 */
public record SamplingFields(float presencePenalty, float frequencyPenalty, float repetitionPenalty,
                             Map<Integer, Float> logitBias, Integer minTokens, List<Integer> stopTokenIds,
                             boolean skipSpecialTokens) {

    /** None of the fields: the defaults of a request that sends none. */
    public static final SamplingFields NONE = new SamplingFields(0f, 0f, 1f, Map.of(), null, List.of(), true);

    public SamplingFields {
        logitBias = Map.copyOf(logitBias);
        stopTokenIds = List.copyOf(stopTokenIds);
    }

    public static SamplingFields parse(JsonNode body) {
        float presence = penalty(body, "presence_penalty");
        float frequency = penalty(body, "frequency_penalty");
        Double rep = Fields.optNumber(body, "repetition_penalty");
        if (rep != null && !(rep > 0 && rep <= 2)) {
            throw Fields.bad("repetition_penalty", "repetition_penalty must be in (0, 2] (1 = off), got " + rep);
        }
        Integer minTokens = Fields.optInt(body, "min_tokens");
        if (minTokens != null && minTokens < 0) {
            throw Fields.bad("min_tokens", "min_tokens must be >= 0, got " + minTokens);
        }
        return new SamplingFields(presence, frequency, rep == null ? 1f : rep.floatValue(),
                logitBias(Fields.get(body, "logit_bias")), minTokens, stopTokenIds(Fields.get(body, "stop_token_ids")),
                Fields.optBool(body, "skip_special_tokens", true));
    }

    /** The engine's parameters: these fields on top of the request's others. */
    SamplingParams apply(int maxTokens, float temperature, float topP, int topK, long seed, List<String> stop,
                         int logprobs, boolean ignoreEos, int promptLogprobs) {
        return new SamplingParams(maxTokens, temperature, topP, topK, seed, stop, logprobs, ignoreEos,
                presencePenalty, frequencyPenalty, repetitionPenalty, logitBias, minTokens == null ? 0 : minTokens,
                stopTokenIds, skipSpecialTokens, promptLogprobs, null);
    }

    private static float penalty(JsonNode body, String f) {
        Double v = Fields.optNumber(body, f);
        if (v != null && !(v >= -SamplingParams.MAX_PENALTY && v <= SamplingParams.MAX_PENALTY)) {
            throw Fields.bad(f, f + " must be in [-2, 2], got " + v);
        }
        return v == null ? 0f : v.floatValue();
    }

    private static Map<Integer, Float> logitBias(JsonNode bias) {
        if (bias == null) {
            return Map.of();
        }
        if (!bias.isObject()) {
            throw Fields.bad("logit_bias", "'logit_bias' must be an object of token ids to numbers, got "
                    + Fields.type(bias));
        }
        if (bias.size() > SamplingParams.MAX_LOGIT_BIAS_ENTRIES) {
            throw Fields.bad("logit_bias", "logit_bias holds at most " + SamplingParams.MAX_LOGIT_BIAS_ENTRIES
                    + " entries, got " + bias.size());
        }
        Map<Integer, Float> out = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = bias.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            int id;
            try {
                id = Integer.parseInt(e.getKey());
            } catch (NumberFormatException ex) {
                throw Fields.bad("logit_bias", "logit_bias keys must be token ids (integers as strings), got '"
                        + e.getKey() + "'");
            }
            if (id < 0) {
                throw Fields.bad("logit_bias", "logit_bias token ids must be >= 0, got " + id);
            }
            JsonNode v = e.getValue();
            if (!v.isNumber() || !(v.asDouble() >= -SamplingParams.MAX_LOGIT_BIAS
                    && v.asDouble() <= SamplingParams.MAX_LOGIT_BIAS)) {
                throw Fields.bad("logit_bias", "logit_bias values must be numbers in [-100, 100], got " + v
                        + " for token " + id);
            }
            out.put(id, v.floatValue());
        }
        return out;
    }

    private static List<Integer> stopTokenIds(JsonNode ids) {
        if (ids == null) {
            return List.of();
        }
        if (!ids.isArray()) {
            throw Fields.bad("stop_token_ids", "'stop_token_ids' must be an array of token ids, got "
                    + Fields.type(ids));
        }
        if (ids.size() > SamplingParams.MAX_STOP_TOKEN_IDS) {
            throw Fields.bad("stop_token_ids", "stop_token_ids holds at most " + SamplingParams.MAX_STOP_TOKEN_IDS
                    + " ids, got " + ids.size());
        }
        List<Integer> out = new ArrayList<>();
        for (JsonNode x : ids) {
            if (!x.isIntegralNumber() || !x.canConvertToInt() || x.intValue() < 0) {
                throw Fields.bad("stop_token_ids", "stop_token_ids must hold token ids >= 0, got " + x);
            }
            out.add(x.intValue());
        }
        return out;
    }
}
