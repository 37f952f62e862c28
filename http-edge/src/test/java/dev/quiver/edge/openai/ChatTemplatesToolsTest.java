package dev.quiver.edge.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.quiver.edge.tools.ScriptedService;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The render overload that tool calls use: tools, the generation prompt switch and extra variables. */
class ChatTemplatesToolsTest {
    @TempDir
    Path dir;

    @Test
    void tools_are_none_unless_given_and_extra_variables_reach_the_template() throws Exception {
        ChatTemplates t = new ChatTemplates(new ScriptedService(dir, "{% if tools is not none %}T={{ tools | length }} "
                + "{% endif %}{{ messages[0]['content'] }}{% if add_generation_prompt %}>{% endif %}{{ flavour }}",
                p -> "", 1).baseModel().tokenizer());
        List<Map<String, Object>> msgs = List.of(Map.of("role", "user", "content", "hi"));
        assertEquals("T=2 hi>", t.render(msgs, List.of(Map.of("type", "function"), Map.of("type", "function")), true,
                Map.of()).replace(t.bosToken(), ""));
        assertEquals("hi", t.render(msgs, null, false, Map.of()).replace(t.bosToken(), ""));
        assertEquals("hi>mint", t.render(msgs, null, true, Map.of("flavour", "mint")).replace(t.bosToken(), ""));
        assertEquals(t.render(msgs), t.render(msgs, null, true, Map.of()));
    }
}
