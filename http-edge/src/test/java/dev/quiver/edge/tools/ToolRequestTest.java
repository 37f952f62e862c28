package dev.quiver.edge.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.edge.api.ServiceException;
import dev.quiver.edge.openai.OpenAiRequest;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The tool fields of a chat request and the tool parts of its messages, as parsed and refused. */
class ToolRequestTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final OpenAiRequest.Limits LIMITS = new OpenAiRequest.Limits(8, 8, 64);
    static final String TOOL = "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"d\","
            + "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}";

    static OpenAiRequest chat(String extra) throws Exception {
        return OpenAiRequest.parseChat(JSON.readTree("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"hi\"}]" + extra + "}"), LIMITS);
    }

    static ServiceError refused(String extra) {
        return assertThrows(ServiceException.class, () -> chat(extra)).error();
    }

    static void refusesNaming(String param, String extra) {
        ServiceError e = refused(extra);
        assertEquals(ServiceError.Kind.INVALID_REQUEST, e.kind());
        assertEquals(param, e.param(), e.message());
    }

    @Test
    void tools_default_to_auto_and_reach_the_template_as_sent() throws Exception {
        OpenAiRequest r = chat(",\"tools\":[" + TOOL + "]");
        assertTrue(r.tools().active());
        assertEquals(ToolChoice.AUTO, r.tools().choice());
        assertTrue(r.tools().parallel());
        assertEquals(List.of(JSON.readValue(TOOL, Map.class)), r.tools().forTemplate());
        assertEquals(java.util.Set.of("get_weather"), r.tools().names());
    }

    @Test
    void no_tools_or_tool_choice_none_renders_no_tools() throws Exception {
        assertFalse(chat("").tools().active());
        assertNull(chat("").tools().forTemplate());
        OpenAiRequest none = chat(",\"tools\":[" + TOOL + "],\"tool_choice\":\"none\"");
        assertFalse(none.tools().active());
        assertNull(none.tools().forTemplate());
    }

    @Test
    void tool_choice_may_require_a_call_or_name_a_declared_function() throws Exception {
        assertEquals(ToolChoice.REQUIRED, chat(",\"tools\":[" + TOOL + "],\"tool_choice\":\"required\"")
                .tools().choice());
        OpenAiRequest named = chat(",\"tools\":[" + TOOL + "],\"tool_choice\":{\"type\":\"function\",\"function\":"
                + "{\"name\":\"get_weather\"}},\"parallel_tool_calls\":false");
        assertEquals(new ToolChoice.Named("get_weather"), named.tools().choice());
        assertFalse(named.tools().parallel());
        assertEquals("get_weather", named.tools().forced().get(0).name());
    }

    @Test
    void refuses_bad_tools_naming_the_field() {
        refusesNaming("tools", ",\"tools\":{}");
        refusesNaming("tools[0]", ",\"tools\":[3]");
        refusesNaming("tools[0].type", ",\"tools\":[{\"type\":\"retrieval\",\"function\":{\"name\":\"a\"}}]");
        refusesNaming("tools[0].function", ",\"tools\":[{\"type\":\"function\"}]");
        refusesNaming("tools[0].function.name", ",\"tools\":[{\"type\":\"function\",\"function\":{}}]");
        refusesNaming("tools[0].function.name", ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
                + "\"get weather\"}}]");
        refusesNaming("tools[0].function.name", ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\""
                + "a".repeat(65) + "\"}}]");
        refusesNaming("tools[1].function.name", ",\"tools\":[" + TOOL + "," + TOOL + "]");
        refusesNaming("tools[0].function.parameters", ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
                + "\"a\",\"parameters\":[\"x\"]}}]");
        refusesNaming("tools[0].function.description", ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
                + "\"a\",\"description\":1}}]");
    }

    @Test
    void refuses_bad_tool_choice_naming_the_field() {
        refusesNaming("tool_choice", ",\"tools\":[" + TOOL + "],\"tool_choice\":\"always\"");
        refusesNaming("tool_choice", ",\"tool_choice\":\"required\"");
        refusesNaming("tool_choice", ",\"tools\":[" + TOOL + "],\"tool_choice\":1");
        refusesNaming("tool_choice.type", ",\"tools\":[" + TOOL + "],\"tool_choice\":{\"function\":{\"name\":\"a\"}}");
        refusesNaming("tool_choice.function.name", ",\"tools\":[" + TOOL + "],\"tool_choice\":{\"type\":"
                + "\"function\",\"function\":{}}");
        ServiceError e = refused(",\"tools\":[" + TOOL + "],\"tool_choice\":{\"type\":\"function\",\"function\":"
                + "{\"name\":\"launch\"}}");
        assertEquals("tool_choice.function.name", e.param());
        assertTrue(e.message().contains("launch"), e.message());
        refusesNaming("parallel_tool_calls", ",\"tools\":[" + TOOL + "],\"parallel_tool_calls\":\"yes\"");
    }

    @Test
    void assistant_tool_calls_and_tool_results_reach_the_template_with_arguments_as_a_mapping() throws Exception {
        OpenAiRequest r = OpenAiRequest.parseChat(JSON.readTree("{\"model\":\"m\",\"messages\":["
                + "{\"role\":\"user\",\"content\":\"weather?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
                + "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"name\":\"get_weather\",\"content\":\"sunny\"}]}"),
                LIMITS);
        Map<String, Object> a = r.messages().get(1);
        assertNull(a.get("content"));
        assertTrue(a.containsKey("content"));
        assertEquals(List.of(Map.of("id", "call_1", "type", "function", "function", Map.of("name", "get_weather",
                "arguments", Map.of("city", "Paris")))), a.get("tool_calls"));
        Map<String, Object> t = r.messages().get(2);
        assertEquals("call_1", t.get("tool_call_id"));
        assertEquals("get_weather", t.get("name"));
        assertEquals("sunny", t.get("content"));
    }

    @Test
    void refuses_bad_message_tool_parts_naming_the_field() {
        String user = "{\"role\":\"user\",\"content\":\"hi\"}";
        for (String[] c : new String[][] {
                {"messages[1].tool_calls[0].function.arguments", "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"x\","
                        + "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{not json\"}}]}"},
                {"messages[1].tool_calls[0].id", "{\"role\":\"assistant\",\"tool_calls\":[{\"type\":\"function\","
                        + "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}"},
                {"messages[1].tool_calls", "{\"role\":\"assistant\",\"tool_calls\":{}}"},
                {"messages[1].tool_calls", "{\"role\":\"user\",\"content\":\"x\",\"tool_calls\":[]}"},
                {"messages[1].tool_call_id", "{\"role\":\"tool\",\"content\":\"sunny\"}"},
                {"messages[1].content", "{\"role\":\"tool\",\"tool_call_id\":\"x\"}"}}) {
            ServiceError e = assertThrows(ServiceException.class, () -> OpenAiRequest.parseChat(JSON.readTree(
                    "{\"model\":\"m\",\"messages\":[" + user + "," + c[1] + "]}"), LIMITS)).error();
            assertEquals(c[0], e.param(), e.message());
        }
    }
}
