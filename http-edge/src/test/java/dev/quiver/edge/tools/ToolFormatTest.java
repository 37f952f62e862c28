package dev.quiver.edge.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.edge.openai.ChatTemplates;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The call format is read from the chat template's own markers. */
class ToolFormatTest {
    /** The real templates vendored for the chat-template fixtures (see chat-templates/NOTICE). */
    @ParameterizedTest
    @CsvSource({
        "llama3_1.jinja, LLAMA3_JSON",
        "qwen2_5.jinja, HERMES",
        "qwen3.jinja, HERMES",
        "mistral_nemo.jinja, MISTRAL",
        "mistral_small_3_1.jinja, MISTRAL",
        "gemma3.jinja, UNKNOWN",
        "phi3.jinja, UNKNOWN"
    })
    void real_templates_are_detected_as_the_format_they_teach(String file, ToolFormat expected) throws IOException {
        try (InputStream in = ToolFormatTest.class.getResourceAsStream("/chat-templates/" + file)) {
            assertEquals(expected, ToolFormat.detect(new String(in.readAllBytes(), StandardCharsets.UTF_8)), file);
        }
    }

    @Test
    void qwen_and_hermes_templates_are_hermes() {
        String qwen = "{%- if tools %}{{- '<|im_start|>system\\n' }}# Tools\\n\\n<tools>{%- for tool in tools %}"
                + "{{- tool | tojson }}{%- endfor %}</tools>\\n\\nFor each function call, return a json object with "
                + "function name and arguments within <tool_call></tool_call> XML tags{%- endif %}";
        assertEquals(ToolFormat.HERMES, ToolFormat.detect(qwen));
    }

    @Test
    void mistral_v03_templates_are_mistral() {
        String mistral = "{%- if message['role'] == 'user' %}{%- if tools is not none and (message == user_messages[-1])"
                + " %}{{- '[AVAILABLE_TOOLS] [' }}{%- endif %}{%- elif message.tool_calls is defined %}"
                + "{{- '[TOOL_CALLS] [' }}{%- endif %}";
        assertEquals(ToolFormat.MISTRAL, ToolFormat.detect(mistral));
    }

    @Test
    void llama_31_and_32_templates_are_llama_json() {
        String llama31 = "{%- if builtin_tools is defined or tools is not none %}{{- 'Environment: ipython\\n' }}"
                + "{%- endif %}{{- '<|python_tag|>' + tool_call.name + '.call(' }}";
        String llama32 = "{{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}{{- 'Given the following functions,"
                + " please respond with a JSON for a function call with its proper arguments that best answers the "
                + "given prompt.\\n\\n' }}{{- 'Respond in the format {\"name\": function name, \"parameters\": "
                + "dictionary of argument name and its value}.' }}";
        assertEquals(ToolFormat.LLAMA3_JSON, ToolFormat.detect(llama31));
        assertEquals(ToolFormat.LLAMA3_JSON, ToolFormat.detect(llama32));
    }

    @Test
    void templates_without_markers_and_the_fallback_are_unknown() {
        assertEquals(ToolFormat.UNKNOWN, ToolFormat.detect(ChatTemplates.FALLBACK));
        assertEquals(ToolFormat.UNKNOWN, ToolFormat.detect("<|start_header_id|>{{ m.content }}<|eot_id|>"));
        assertEquals(ToolFormat.UNKNOWN, ToolFormat.detect(null));
    }

    @Test
    void call_ids_follow_the_format_and_only_mistral_keeps_special_tokens() {
        Random r = new Random(1);
        assertTrue(ToolFormat.MISTRAL.newCallId(r).matches("[A-Za-z0-9]{9}"));
        assertTrue(ToolFormat.HERMES.newCallId(r).matches("call_[A-Za-z0-9]{24}"));
        assertTrue(ToolFormat.MISTRAL.needsSpecialTokens());
        assertFalse(ToolFormat.HERMES.needsSpecialTokens());
    }
}
