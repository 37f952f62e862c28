package dev.quiver.edge.openai;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * What the edge does with every top-level field of a completions or chat completions body, so that none is
 * silently ignored (the table in docs/HTTP.md lists them):
 * <ul>
 *   <li>the fields it reads ({@link #COMMON}, {@link #COMPLETIONS}, {@link #CHAT}) are validated where they are
 *       parsed;</li>
 *   <li>fields that clients send routinely and that change nothing about the output ({@link #NO_EFFECT}:
 *       {@code store}, {@code metadata}, {@code service_tier}) are accepted as documented;</li>
 *   <li>fields of OpenAI's or vLLM's API that Quiver does not implement ({@code UNSUPPORTED}) are a 400 naming the
 *       field when they ask for something other than their default;</li>
 *   <li>anything else is not part of either API: it is ignored, and {@link #unknown} lists it so that the response
 *       can say so ({@code x-quiver-ignored-fields}).</li>
 * </ul>
 */
public final class RequestFields {
    private RequestFields() {
    }

    static final Set<String> COMMON = Set.of("model", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "n",
            "stream", "stream_options", "user", "ignore_eos", "presence_penalty", "frequency_penalty", "logit_bias",
            "repetition_penalty", "min_tokens", "stop_token_ids", "skip_special_tokens", "logprobs",
            "response_format", "guided_json", "guided_regex", "guided_choice", "fallback");
    static final Set<String> COMPLETIONS = Set.of("prompt", "echo", "best_of", "suffix");
    static final Set<String> CHAT = Set.of("messages", "max_completion_tokens", "top_logprobs", "tools", "tool_choice",
            "parallel_tool_calls", "chat_template_kwargs");
    static final Set<String> NO_EFFECT = Set.of("store", "metadata", "service_tier");

    /** A field of OpenAI's or vLLM's API that Quiver does not implement: the values that ask for nothing, and why. */
    private record Unsupported(Predicate<JsonNode> harmless, String why) {
    }

    private static final Predicate<JsonNode> OFF = RequestFields::isOff;
    private static final Map<String, Unsupported> UNSUPPORTED = Map.ofEntries(
            Map.entry("functions", new Unsupported(v -> v == null || v.isNull(),
                    "'functions' (the deprecated function-calling API) is not supported: use 'tools'")),
            Map.entry("function_call", new Unsupported(v -> v == null || v.isNull(),
                    "'function_call' (the deprecated function-calling API) is not supported: use 'tool_choice'")),
            Map.entry("modalities", new Unsupported(v -> OFF.test(v) || (v.isArray() && v.size() == 1
                    && "text".equals(v.get(0).asText())), "only the text modality is supported")),
            Map.entry("audio", new Unsupported(OFF, "'audio' output is not supported")),
            Map.entry("prediction", new Unsupported(OFF, "'prediction' (predicted outputs) is not supported")),
            Map.entry("web_search_options", new Unsupported(OFF, "'web_search_options' is not supported")),
            Map.entry("reasoning_effort", new Unsupported(OFF, "'reasoning_effort' is not supported: pass the chat "
                    + "template's own switch in 'chat_template_kwargs' (e.g. {\"enable_thinking\": false} for Qwen3)")),
            Map.entry("use_beam_search", new Unsupported(OFF, "beam search is not supported")),
            Map.entry("length_penalty", new Unsupported(v -> OFF.test(v) || (v.isNumber() && v.asDouble() == 1.0),
                    "'length_penalty' applies to beam search, which is not supported")),
            Map.entry("include_stop_str_in_output", new Unsupported(OFF, "'include_stop_str_in_output' is not "
                    + "supported: the stop string is never part of the text")),
            Map.entry("continue_final_message", new Unsupported(OFF, "'continue_final_message' is not supported")),
            Map.entry("add_generation_prompt", new Unsupported(RequestFields::nullOrTrue,
                    "chat completions always end the prompt with the generation prompt (use /tokenize to see "
                    + "a prompt without it)")),
            Map.entry("guided_grammar", new Unsupported(OFF, "'guided_grammar' is not supported: use guided_json, "
                    + "guided_regex, guided_choice or response_format")),
            Map.entry("guided_decoding_backend", new Unsupported(OFF, "'guided_decoding_backend' is not supported: "
                    + "Quiver has one constraint engine")),
            Map.entry("guided_whitespace_pattern", new Unsupported(OFF, "'guided_whitespace_pattern' is not "
                    + "supported: constrained JSON has no whitespace outside strings")),
            Map.entry("truncate_prompt_tokens", new Unsupported(OFF, "'truncate_prompt_tokens' is not supported")),
            Map.entry("prompt_logprobs", new Unsupported(OFF, "'prompt_logprobs' is not supported: use 'echo' with "
                    + "'logprobs' on /v1/completions")),
            Map.entry("min_p", new Unsupported(OFF, "'min_p' is not supported: use top_p or top_k")),
            Map.entry("documents", new Unsupported(OFF, "'documents' is not supported")),
            Map.entry("chat_template", new Unsupported(OFF, "'chat_template' is not supported: the model's own "
                    + "template is used")),
            Map.entry("add_special_tokens", new Unsupported(OFF, "'add_special_tokens' is not supported here")),
            Map.entry("spaces_between_special_tokens", new Unsupported(RequestFields::nullOrTrue,
                    "'spaces_between_special_tokens' is not supported")),
            Map.entry("priority", new Unsupported(OFF, "'priority' is not supported")),
            Map.entry("echo", new Unsupported(OFF, "'echo' is only supported on /v1/completions")));

    /**
     * Throws a 400 naming the first field that asks for something Quiver does not do; returns the fields that are
     * not part of either API (in body order).
     */
    public static List<String> check(JsonNode body, boolean chat) {
        List<String> unknown = new ArrayList<>();
        Iterator<String> names = body.fieldNames();
        while (names.hasNext()) {
            String f = names.next();
            if (COMMON.contains(f) || NO_EFFECT.contains(f) || (chat ? CHAT : COMPLETIONS).contains(f)) {
                continue;
            }
            Unsupported u = UNSUPPORTED.get(f);
            if (u == null) {
                unknown.add(f);
            } else if (!u.harmless().test(body.get(f))) {
                throw Fields.bad(f, u.why());
            }
        }
        return unknown;
    }

    /** For fields whose default is true. */
    private static boolean nullOrTrue(JsonNode v) {
        return v == null || v.isNull() || (v.isBoolean() && v.asBoolean());
    }

    /** JSON null, false, 0, an empty string, array or object: the value a client sends when it means "off". */
    private static boolean isOff(JsonNode v) {
        return v == null || v.isNull() || (v.isBoolean() && !v.asBoolean()) || (v.isNumber() && v.asDouble() == 0)
                || (v.isTextual() && v.asText().isEmpty()) || (v.isContainerNode() && v.isEmpty());
    }
}
