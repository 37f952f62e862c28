package dev.quiver.edge.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.edge.api.ServiceException;
import dev.quiver.gpu.tokenizer.TokenizerMaker;
import dev.quiver.gpu.tokenizer.Tokenizers;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chat templates as the edge uses them: the model's template from its directory (tokenizer_config.json or
 * chat_template.jinja, named templates, special tokens), the fallback, raise_exception and render failures as 400s
 * naming {@code messages}, tools and extra variables as transformers passes them, and strftime_now on the injected
 * clock.
 */
class ChatTemplatesTest {
    @TempDir
    static Path dir;

    static List<Map<String, Object>> conversation() {
        return List.of(Map.of("role", "system", "content", "Be brief."),
                Map.of("role", "user", "content", "  Hi there  "));
    }

    @Test
    void renders_the_models_own_template_with_headers_and_generation_prompt() throws Exception {
        Path m = Files.createDirectories(dir.resolve("model"));
        TokenizerMaker.writeByteLevel(m, 300);
        ChatTemplates t = new ChatTemplates(Tokenizers.load(m));
        assertTrue(t.fromModel());
        String out = t.render(conversation());
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", out);
    }

    @Test
    void renders_the_documented_fallback_when_the_model_has_no_template() {
        ChatTemplates t = new ChatTemplates(null);
        assertFalse(t.fromModel());
        assertEquals("system: Be brief.\nuser:   Hi there  \nassistant:", t.render(conversation()));
    }

    @Test
    void a_template_calling_raise_exception_is_a_bad_request_naming_messages() throws Exception {
        Path m = Files.createDirectories(dir.resolve("raising"));
        TokenizerMaker.writeByteLevel(m, 300);
        Path cfg = m.resolve("tokenizer_config.json");
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var node = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(cfg.toFile());
        node.put("chat_template", "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not "
                + "supported') }}{% endif %}{{ messages[0]['content'] }}");
        json.writeValue(cfg.toFile(), node);
        ChatTemplates t = new ChatTemplates(Tokenizers.load(m));
        ServiceException e = assertThrows(ServiceException.class, () -> t.render(conversation()));
        assertEquals("messages", e.error().param());
        assertTrue(e.getMessage().contains("System role not supported"), e.getMessage());
        assertEquals("Hi there", t.render(List.of(Map.of("role", "user", "content", "Hi there"))).trim());
    }

    /** A demo model directory whose tokenizer_config.json gets {@code edit}. */
    private static ChatTemplates withConfig(String name, java.util.function.Consumer<ObjectNode> edit) throws Exception {
        Path m = Files.createDirectories(dir.resolve(name));
        TokenizerMaker.writeByteLevel(m, 300);
        Path cfg = m.resolve("tokenizer_config.json");
        ObjectMapper json = new ObjectMapper();
        ObjectNode node = (ObjectNode) json.readTree(cfg.toFile());
        edit.accept(node);
        json.writeValue(cfg.toFile(), node);
        return new ChatTemplates(Tokenizers.load(m), Clock.fixed(Instant.parse("2025-03-07T14:05:09Z"), ZoneOffset.UTC));
    }

    private static String resource(String name) throws Exception {
        try (InputStream in = ChatTemplatesTest.class.getResourceAsStream("/chat-templates/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void renders_qwen3s_real_template_that_jinjava_refused_with_thinking_disabled() throws Exception {
        String qwen3 = resource("qwen3.jinja");
        ChatTemplates t = withConfig("qwen3", n -> n.put("chat_template", qwen3));
        String out = t.render(List.of(Map.of("role", "user", "content", "Hello!")), null, true,
                Map.of("enable_thinking", false));
        assertEquals("<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n", out);
        assertEquals(qwen3, t.templateSource());
    }

    @Test
    void tools_select_the_tool_use_template_and_absent_tools_are_none() throws Exception {
        ChatTemplates t = withConfig("named", n -> {
            n.putArray("chat_template")
                    .add(new ObjectMapper().createObjectNode().put("name", "default")
                            .put("template", "{{ 'plain' if tools is none else 'tools?' }}"))
                    .add(new ObjectMapper().createObjectNode().put("name", "tool_use")
                            .put("template", "{% for t in tools %}{{ t.function.name }}{% endfor %}"));
        });
        List<Map<String, Object>> msgs = List.of(Map.of("role", "user", "content", "x"));
        assertEquals("plain", t.render(msgs, null, true, Map.of()));
        assertEquals("get_weather", t.render(msgs,
                List.of(Map.of("type", "function", "function", Map.of("name", "get_weather"))), true, Map.of()));
        assertEquals("{% for t in tools %}{{ t.function.name }}{% endfor %}", t.toolTemplateSource());
    }

    @Test
    void sees_the_configs_special_tokens_and_extra_variables_override_them() throws Exception {
        ChatTemplates t = withConfig("tokens", n -> n.put("chat_template",
                "{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ documents }}"));
        List<Map<String, Object>> msgs = List.of(Map.of("role", "user", "content", "x"));
        assertEquals("<|begin_of_text|>|<|eot_id|>|False|None", t.render(msgs, null, false, Map.of()));
        assertEquals("<|begin_of_text|>|</s>|True|None", t.render(msgs, null, true, Map.of("eos_token", "</s>")));
        assertEquals("<|begin_of_text|>", t.bosToken());
    }

    @Test
    void strftime_now_reads_the_injected_clock() throws Exception {
        ChatTemplates t = withConfig("date", n -> n.put("chat_template", "{{ strftime_now('%d %b %Y, %A %H:%M') }}"));
        assertEquals("07 Mar 2025, Friday 14:05", t.render(List.of()));
    }

    @Test
    void a_template_that_fails_to_parse_or_render_is_a_bad_request_naming_the_problem() throws Exception {
        ChatTemplates broken = withConfig("broken", n -> n.put("chat_template", "{% include 'x' %}"));
        ServiceException e = assertThrows(ServiceException.class, () -> broken.render(conversation()));
        assertEquals("messages", e.error().param());
        assertTrue(e.getMessage().contains("the chat template could not render these messages: unsupported template "
                + "statement 'include'"), e.getMessage());
        ChatTemplates undefined = withConfig("undef", n -> n.put("chat_template", "{{ messages[0].nope.deeper }}"));
        ServiceException u = assertThrows(ServiceException.class, () -> undefined.render(conversation()));
        assertTrue(u.getMessage().contains("'dict object' has no attribute 'nope'"), u.getMessage());
    }
}
