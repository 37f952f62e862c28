package dev.quiver.edge.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.edge.tools.ToolRequest;
import dev.quiver.gpu.constraint.ConstraintSpec;
import dev.quiver.gpu.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A validated {@code /v1/completions} or {@code /v1/chat/completions} request, before tokenization: the fields
 * both share, plus the prompt(s) or messages. Parsing checks types and ranges and names the field of every
 * problem; {@code ignore_eos} is vLLM's extension (keep generating past EOS up to max_tokens); {@link #params} builds the engine's {@link SamplingParams} (which checks its own ranges too).
 * Penalties, {@code logit_bias} and vLLM's sampling extensions are parsed by {@link SamplingFields}; a chat
 * request's {@code tools}, {@code tool_choice} and {@code parallel_tool_calls} by {@link ToolRequest}
 * ({@link ToolRequest#NONE} otherwise); {@code response_format} and vLLM's {@code guided_*} by {@link ResponseFormats}.
 *
 * @param promptLogprobs completions' {@code echo} with {@code logprobs: n}: the prompt's logprobs with the top n
 *                       alternatives are returned before the generated ones; -1 when not asked for
 * @param bestOf         completions' {@code best_of}: candidates generated per prompt, of which the {@code n} with
 *                       the highest cumulative logprob are returned; equals {@code n} when not set
 * @param constraint     the structured output asked for, null for none (a forced tool call brings its own, see
 *                       {@code ToolSampling})
 */
public record OpenAiRequest(boolean chat, String model, List<Prompt> prompts, List<Map<String, Object>> messages,
                            Integer maxTokens, float temperature, float topP, int topK, long seed,
                            List<String> stop, int logprobs, int n, boolean echo, boolean stream,
                            boolean includeUsage, String user, boolean ignoreEos, SamplingFields sampling,
                            int promptLogprobs, int bestOf, ToolRequest tools, ConstraintSpec constraint,
                            Map<String, Object> chatTemplateKwargs) {

    public OpenAiRequest {
        tools = tools == null ? ToolRequest.NONE : tools;
        chatTemplateKwargs = chatTemplateKwargs == null ? Map.of() : chatTemplateKwargs;
    }

    /** A request without penalties, bias, sampling extensions, prompt logprobs, best_of, tools or constraint. */
    public OpenAiRequest(boolean chat, String model, List<Prompt> prompts, List<Map<String, Object>> messages,
                         Integer maxTokens, float temperature, float topP, int topK, long seed, List<String> stop,
                         int logprobs, int n, boolean echo, boolean stream, boolean includeUsage, String user,
                         boolean ignoreEos) {
        this(chat, model, prompts, messages, maxTokens, temperature, topP, topK, seed, stop, logprobs, n, echo, stream,
                includeUsage, user, ignoreEos, SamplingFields.NONE, -1, n, ToolRequest.NONE, null, Map.of());
    }

    /** A copy with these tool fields. */
    public OpenAiRequest withTools(ToolRequest t) {
        return new OpenAiRequest(chat, model, prompts, messages, maxTokens, temperature, topP, topK, seed, stop,
                logprobs, n, echo, stream, includeUsage, user, ignoreEos, sampling, promptLogprobs, bestOf, t,
                constraint, chatTemplateKwargs);
    }

    /** A copy with these extra chat template variables (vLLM's {@code chat_template_kwargs}). */
    public OpenAiRequest withChatTemplateKwargs(Map<String, Object> kwargs) {
        return new OpenAiRequest(chat, model, prompts, messages, maxTokens, temperature, topP, topK, seed, stop,
                logprobs, n, echo, stream, includeUsage, user, ignoreEos, sampling, promptLogprobs, bestOf, tools,
                constraint, kwargs);
    }

    /** A completion prompt: text (tokenized later) or token ids. */
    public record Prompt(String text, int[] ids) {
    }

    /** Limits the parser enforces beyond the engine's own ranges. */
    public record Limits(int maxN, int maxPrompts, int maxChoices) {
    }

    /**
     * Sampling parameters for candidate {@code choice} of this request: seed + choice, so the choices differ. With
     * {@code best_of > n} every candidate computes its logprobs, which rank it.
     */
    public SamplingParams params(int maxTokensResolved, int choice) {
        int lp = bestOf > n ? Math.max(logprobs, 0) : logprobs;
        return sampling.apply(maxTokensResolved, temperature, topP, topK, seed + choice, stop, lp, ignoreEos,
                promptLogprobs).withConstraint(constraint);
    }

    /** Generations per prompt: {@code best_of} (which is {@code n} unless set higher). */
    public int candidates() {
        return bestOf;
    }

    public static OpenAiRequest parseCompletion(JsonNode body, Limits limits) {
        List<Prompt> prompts = prompts(body.get("prompt"));
        if (prompts.size() > limits.maxPrompts()) {
            throw Fields.bad("prompt", "at most " + limits.maxPrompts() + " prompts per request, got " + prompts.size());
        }
        Integer logprobs = Fields.optInt(body, "logprobs");
        if (logprobs != null && (logprobs < 0 || logprobs > SamplingParams.MAX_LOGPROBS)) {
            throw Fields.bad("logprobs", "logprobs must be in [0, " + SamplingParams.MAX_LOGPROBS + "], got " + logprobs);
        }
        boolean echo = Fields.optBool(body, "echo", false);
        if (Fields.get(body, "suffix") != null) {
            throw Fields.bad("suffix", "suffix is not supported");
        }
        return common(body, false, prompts, null, logprobs == null ? -1 : logprobs, echo, limits);
    }

    public static OpenAiRequest parseChat(JsonNode body, Limits limits) {
        List<Map<String, Object>> messages = messages(body.get("messages"));
        boolean lp = Fields.optBool(body, "logprobs", false);
        Integer top = Fields.optInt(body, "top_logprobs");
        if (top != null) {
            if (top < 0 || top > SamplingParams.MAX_LOGPROBS) {
                throw Fields.bad("top_logprobs", "top_logprobs must be in [0, " + SamplingParams.MAX_LOGPROBS
                        + "], got " + top);
            }
            if (!lp) {
                throw Fields.bad("top_logprobs", "top_logprobs needs logprobs: true");
            }
        }
        ToolRequest tools = ToolRequest.parse(body);
        OpenAiRequest r = common(body, true, null, messages, lp ? (top == null ? 0 : top) : -1, false, limits);
        if (r.constraint() != null && !tools.forced().isEmpty()) {
            // NOTE: a forced call is itself a constraint on the output; two cannot both hold.
            throw Fields.bad("tool_choice", "tool_choice 'required' or a named function cannot be combined with "
                    + "response_format or guided_* (the forced call already constrains the output)");
        }
        return r.withTools(tools).withChatTemplateKwargs(chatTemplateKwargs(Fields.get(body, "chat_template_kwargs")));
    }

    private static OpenAiRequest common(JsonNode body, boolean chat, List<Prompt> prompts,
                                        List<Map<String, Object>> messages, int logprobs, boolean echo,
                                        Limits limits) {
        String model = Fields.requiredString(body, "model");
        Integer maxTokens = Fields.optInt(body, chat && Fields.get(body, "max_completion_tokens") != null
                ? "max_completion_tokens" : "max_tokens");
        if (maxTokens != null && maxTokens < 1) {
            throw Fields.bad(chat && Fields.get(body, "max_completion_tokens") != null ? "max_completion_tokens"
                    : "max_tokens", "max_tokens must be >= 1, got " + maxTokens);
        }
        Double temperature = Fields.optNumber(body, "temperature");
        if (temperature != null && !(temperature >= 0 && temperature <= SamplingParams.MAX_TEMPERATURE)) {
            throw Fields.bad("temperature", "temperature must be in [0, 2], got " + temperature);
        }
        Double topP = Fields.optNumber(body, "top_p");
        if (topP != null && !(topP > 0 && topP <= 1)) {
            throw Fields.bad("top_p", "top_p must be in (0, 1], got " + topP);
        }
        Integer topK = Fields.optInt(body, "top_k");
        if (topK != null && topK == 0) {
            topK = -1; // NOTE: vLLM reads top_k 0 as "off", as does -1.
        }
        if (topK != null && topK < -1) {
            throw Fields.bad("top_k", "top_k must be -1 or 0 (off) or >= 1, got " + topK);
        }
        Long seed = Fields.optLong(body, "seed");
        List<String> stop = stop(Fields.get(body, "stop"));
        Integer n = Fields.optInt(body, "n");
        if (n != null && (n < 1 || n > limits.maxN())) {
            throw Fields.bad("n", "n must be in [1, " + limits.maxN() + "], got " + n);
        }
        int nn = n == null ? 1 : n;
        boolean stream = Fields.optBool(body, "stream", false);
        Integer bestOf = Fields.optInt(body, "best_of");
        if (bestOf != null && bestOf != nn) {
            if (chat) {
                throw Fields.bad("best_of", "best_of is a completions field; chat completions take only n");
            }
            if (bestOf < nn || bestOf > limits.maxN()) {
                throw Fields.bad("best_of", "best_of must be in [n = " + nn + ", " + limits.maxN() + "], got "
                        + bestOf);
            }
            if (stream) {
                throw Fields.bad("best_of", "best_of greater than n cannot be streamed: the best candidates are "
                        + "known only at the end");
            }
        }
        int candidates = bestOf == null ? nn : bestOf;
        int promptCount = prompts == null ? 1 : prompts.size();
        if ((long) promptCount * candidates > limits.maxChoices()) {
            throw Fields.bad(candidates > nn ? "best_of" : "n", "prompts x " + (candidates > nn ? "best_of" : "n")
                    + " = " + promptCount * candidates + " is over the limit of " + limits.maxChoices()
                    + " choices per request");
        }
        SamplingFields sampling = SamplingFields.parse(body);
        JsonNode so = Fields.get(body, "stream_options");
        boolean includeUsage = false;
        if (so != null) {
            if (!stream) {
                throw Fields.bad("stream_options", "stream_options is only allowed when stream is true");
            }
            if (!so.isObject()) {
                throw Fields.bad("stream_options", "'stream_options' must be an object, got " + Fields.type(so));
            }
            includeUsage = Fields.optBool(so, "include_usage", false);
        }
        String user = Fields.optString(body, "user");
        return new OpenAiRequest(chat, model, prompts, messages, maxTokens,
                temperature == null ? 1.0f : temperature.floatValue(), topP == null ? 1.0f : topP.floatValue(),
                topK == null ? -1 : topK, seed != null ? seed : ThreadLocalRandom.current().nextLong(), stop,
                logprobs, nn, echo, stream, includeUsage, user, Fields.optBool(body, "ignore_eos", false), sampling,
                echo && logprobs >= 0 ? logprobs : -1, candidates, ToolRequest.NONE, ResponseFormats.parse(body),
                Map.of());
    }

    private static List<Prompt> prompts(JsonNode p) {
        if (p == null || p.isNull()) {
            throw Fields.bad("prompt", "'prompt' is required");
        }
        if (p.isTextual()) {
            return List.of(new Prompt(p.asText(), null));
        }
        if (!p.isArray()) {
            throw Fields.bad("prompt", "'prompt' must be a string, an array of strings, an array of token ids or an "
                    + "array of arrays of token ids; got " + Fields.type(p));
        }
        if (p.isEmpty()) {
            throw Fields.bad("prompt", "'prompt' must not be an empty array");
        }
        JsonNode first = p.get(0);
        List<Prompt> out = new ArrayList<>();
        if (first.isTextual()) {
            for (JsonNode x : p) {
                if (!x.isTextual()) {
                    throw Fields.bad("prompt", "'prompt' mixes strings with " + Fields.type(x));
                }
                out.add(new Prompt(x.asText(), null));
            }
        } else if (first.isNumber()) {
            out.add(new Prompt(null, ids(p)));
        } else if (first.isArray()) {
            for (JsonNode x : p) {
                if (!x.isArray()) {
                    throw Fields.bad("prompt", "'prompt' mixes arrays of token ids with " + Fields.type(x));
                }
                if (x.isEmpty()) {
                    throw Fields.bad("prompt", "a token-id prompt must not be empty");
                }
                out.add(new Prompt(null, ids(x)));
            }
        } else {
            throw Fields.bad("prompt", "'prompt' array elements must be strings, token ids or arrays of token ids; "
                    + "got " + Fields.type(first));
        }
        return out;
    }

    private static int[] ids(JsonNode arr) {
        int[] ids = new int[arr.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode x = arr.get(i);
            if (!x.isIntegralNumber() || !x.canConvertToInt()) {
                throw Fields.bad("prompt", "token ids must be integers, got " + x);
            }
            ids[i] = x.intValue();
            if (ids[i] < 0) {
                throw Fields.bad("prompt", "token id " + ids[i] + " is negative");
            }
        }
        return ids;
    }

    private static List<String> stop(JsonNode s) {
        if (s == null) {
            return List.of();
        }
        if (s.isTextual()) {
            if (s.asText().isEmpty()) {
                throw Fields.bad("stop", "stop strings must not be empty");
            }
            return List.of(s.asText());
        }
        if (!s.isArray()) {
            throw Fields.bad("stop", "'stop' must be a string or an array of strings, got " + Fields.type(s));
        }
        if (s.size() > SamplingParams.MAX_STOP_STRINGS) {
            throw Fields.bad("stop", "at most " + SamplingParams.MAX_STOP_STRINGS + " stop strings, got " + s.size());
        }
        List<String> out = new ArrayList<>();
        for (JsonNode x : s) {
            if (!x.isTextual() || x.asText().isEmpty()) {
                throw Fields.bad("stop", "stop must hold only non-empty strings, got " + x);
            }
            out.add(x.asText());
        }
        return out;
    }

    private static List<Map<String, Object>> messages(JsonNode m) {
        if (m == null || m.isNull()) {
            throw Fields.bad("messages", "'messages' is required");
        }
        if (!m.isArray()) {
            throw Fields.bad("messages", "'messages' must be an array, got " + Fields.type(m));
        }
        if (m.isEmpty()) {
            throw Fields.bad("messages", "'messages' must not be empty");
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < m.size(); i++) {
            JsonNode msg = m.get(i);
            String where = "messages[" + i + "]";
            if (!msg.isObject()) {
                throw Fields.bad(where, where + " must be an object, got " + Fields.type(msg));
            }
            JsonNode role = msg.get("role");
            if (role == null || !role.isTextual()) {
                throw Fields.bad(where + ".role", where + ".role must be a string");
            }
            String r = role.asText();
            if (!List.of("system", "user", "assistant", "developer", "tool").contains(r)) {
                throw Fields.bad(where + ".role", where + ".role must be system, developer, user, assistant or "
                        + "tool, got '" + r + "'");
            }
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("role", r.equals("developer") ? "system" : r);
            boolean calls = ToolRequest.messageParts(msg, r, where, entry);
            JsonNode c = msg.get("content");
            String content;
            if (c == null || c.isNull()) {
                if (!r.equals("assistant")) {
                    throw Fields.bad(where + ".content", where + ".content is required");
                }
                content = calls ? null : ""; // NOTE: null beside tool_calls, as transformers passes it
            } else if (c.isTextual()) {
                content = c.asText();
            } else if (c.isArray()) {
                StringBuilder sb = new StringBuilder();
                for (JsonNode part : c) {
                    if (!part.isObject() || !"text".equals(part.path("type").asText())
                            || !part.path("text").isTextual()) {
                        throw Fields.bad(where + ".content", where + ".content parts must be {\"type\": \"text\", "
                                + "\"text\": ...}; other part types are not supported");
                    }
                    sb.append(part.get("text").asText());
                }
                content = sb.toString();
            } else {
                throw Fields.bad(where + ".content", where + ".content must be a string or an array of text parts, "
                        + "got " + Fields.type(c));
            }
            entry.put("content", content);
            out.add(entry);
        }
        return out;
    }

    /** Variables the chat template renders with besides messages and tools; those it already has are refused. */
    private static Map<String, Object> chatTemplateKwargs(JsonNode k) {
        if (k == null) {
            return Map.of();
        }
        if (!k.isObject()) {
            throw Fields.bad("chat_template_kwargs", "'chat_template_kwargs' must be an object, got " + Fields.type(k));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        for (var it = k.fields(); it.hasNext(); ) {
            var e = it.next();
            if (List.of("messages", "tools", "add_generation_prompt", "documents").contains(e.getKey())) {
                throw Fields.bad("chat_template_kwargs", "chat_template_kwargs may not set '" + e.getKey()
                        + "': it comes from the request itself");
            }
            out.put(e.getKey(), KWARGS.convertValue(e.getValue(), Object.class));
        }
        return out;
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper KWARGS =
            new com.fasterxml.jackson.databind.ObjectMapper();

    /** An unknown-model error that does not reveal whether the name exists for someone else. */
    public static ServiceError unknownModel(String model) {
        return ServiceError.notFound("model", "The model '" + model + "' does not exist or you do not have access "
                + "to it.");
    }
}
