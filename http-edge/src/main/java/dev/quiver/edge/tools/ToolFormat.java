package dev.quiver.edge.tools;

import java.util.Random;

/**
 * How a model writes tool calls, as its chat template teaches it; detected from the template text.
 *
 * <ul>
 *   <li>{@link #LLAMA3_JSON}: Llama 3.1/3.2/3.3: the whole reply is {@code {"name": ..., "parameters": {...}}}
 *       (optionally after {@code <|python_tag|>}; several calls separated by {@code ;}).</li>
 *   <li>{@link #HERMES}: Hermes 2 Pro, Qwen2.5, Qwen3: {@code <tool_call>\n{"name": ..., "arguments": {...}}\n
 *       </tool_call>} blocks, any number, with text around them.</li>
 *   <li>{@link #MISTRAL}: Mistral v0.3 (7B Instruct v0.3, Nemo): {@code [TOOL_CALLS] [{"name": ...,
 *       "arguments": {...}}, ...]}; call ids are 9 alphanumerics, as its template requires.</li>
 *   <li>{@link #UNKNOWN}: anything else: a reply that is a JSON object or array of calls, else Hermes blocks.</li>
 * </ul>
 */
public enum ToolFormat {
    LLAMA3_JSON,
    HERMES,
    MISTRAL,
    UNKNOWN;

    private static final String ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /**
     * The format a chat template asks for. NOTE: checked in this order because the markers are unambiguous:
     * Mistral's {@code [TOOL_CALLS]}/{@code [AVAILABLE_TOOLS]}, then the Hermes {@code <tool_call>} tag, then
     * Llama 3's {@code <|python_tag|>} or its JSON-call instruction; a template naming none of them is unknown.
     */
    public static ToolFormat detect(String template) {
        if (template == null) {
            return UNKNOWN;
        }
        if (template.contains("[TOOL_CALLS]") || template.contains("[AVAILABLE_TOOLS]")) {
            return MISTRAL;
        }
        if (template.contains("<tool_call>")) {
            return HERMES;
        }
        if (template.contains("<|python_tag|>") || (template.contains("<|start_header_id|>")
                && template.contains("respond with a JSON for a function call"))) {
            return LLAMA3_JSON;
        }
        return UNKNOWN;
    }

    /** A new call id: 9 alphanumerics for Mistral (its template refuses others), else {@code call_} + 24. */
    public String newCallId(Random random) {
        StringBuilder sb = new StringBuilder(this == MISTRAL ? "" : "call_");
        int n = this == MISTRAL ? 9 : 24;
        for (int i = 0; i < n; i++) {
            sb.append(ALNUM.charAt(random.nextInt(ALNUM.length())));
        }
        return sb.toString();
    }

    /**
     * Whether the call marker is a special token that must be kept in the decoded text for the parser to see it
     * (Mistral's {@code [TOOL_CALLS]}; as vLLM does, such requests decode with special tokens kept).
     */
    public boolean needsSpecialTokens() {
        return this == MISTRAL;
    }
}
