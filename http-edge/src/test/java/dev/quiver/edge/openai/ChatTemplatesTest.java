package dev.quiver.edge.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.edge.api.ServiceException;
import dev.quiver.gpu.tokenizer.TokenizerMaker;
import dev.quiver.gpu.tokenizer.Tokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Chat templates rendered with Jinjava: the demo model's Llama-3-style template and the fallback. */
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
}
