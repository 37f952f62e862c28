package dev.quiver.edge.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quiver.edge.api.ServiceException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Real chat templates (Llama 3.1/3.2, Qwen2.5, Qwen3, Gemma 3, Mistral Nemo and Small 3.1, DeepSeek-R1 Distill,
 * Command R7B, Phi-3/3.5, SmolLM2; see resources/chat-templates/NOTICE) render byte for byte what Python's jinja2 renders with
 * transformers' settings, for every scenario of make_fixtures.py (its output, fixtures.json, is the expectation). A
 * case where the template fails in Python (raise_exception, or a Python error such as concatenating a list to a
 * str) expects a 400 naming {@code messages} that carries the same message.
 */
class ChatTemplateFixturesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @SuppressWarnings("unchecked")
    @TestFactory
    Stream<DynamicTest> every_vendored_template_renders_every_scenario_exactly_as_transformers() throws IOException {
        Map<String, Object> fixtures = JSON.readValue(resource("fixtures.json"), Map.class);
        Clock pinned = Clock.fixed(LocalDateTime.parse((String) fixtures.get("now")).toInstant(ZoneOffset.UTC),
                ZoneOffset.UTC);
        List<Map<String, Object>> cases = (List<Map<String, Object>>) fixtures.get("cases");
        assertTrue(cases.size() >= 300, "fixtures.json holds " + cases.size() + " cases");
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.get("template") + " / " + c.get("scenario"), () -> {
            String source = new String(resource(c.get("template") + ".jinja").readAllBytes(), StandardCharsets.UTF_8);
            ChatTemplates t = ChatTemplates.of(source, (Map<String, Object>) c.get("special_tokens"), pinned);
            List<Map<String, Object>> messages = (List<Map<String, Object>>) c.get("messages");
            List<Map<String, Object>> tools = (List<Map<String, Object>>) c.get("tools");
            boolean add = (Boolean) c.get("add_generation_prompt");
            Map<String, Object> extra = (Map<String, Object>) c.get("extra");
            if (c.containsKey("error")) {
                ServiceException e = assertThrows(ServiceException.class, () -> t.render(messages, tools, add, extra));
                assertEquals("messages", e.error().param());
                assertTrue(e.getMessage().contains((String) c.get("error")), e.getMessage());
            } else {
                assertEquals(c.get("expected"), t.render(messages, tools, add, extra));
            }
        }));
    }

    private static InputStream resource(String name) {
        InputStream in = ChatTemplateFixturesTest.class.getResourceAsStream("/chat-templates/" + name);
        if (in == null) {
            throw new IllegalStateException("missing test resource chat-templates/" + name);
        }
        return in;
    }
}
