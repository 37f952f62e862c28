package dev.quiver.node;

import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Tool-enabled chat on a real node with the demo model (whose Llama-3-style template does not render tools, so its
 * replies are parsed with the unknown-template rules): requests with tools, tool calls in the history and tool
 * results are served, streamed and whole alike, and bad tool fields are 400s naming the field.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ToolCallsNodeTest {
    static final String TOOLS = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
            + "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]";
    QuiverNode node;
    Client client;

    @BeforeAll
    void start() {
        node = TestNodes.startWithDemoAdapters("");
        client = new Client(node.baseUrl());
    }

    @AfterAll
    void stop() {
        node.stop();
    }

    @Test
    void a_conversation_with_calls_and_results_is_served_and_streams_like_the_whole_reply() {
        String body = "{\"model\":\"adapter-01\"," + TOOLS + ",\"max_tokens\":12,\"seed\":3,\"messages\":["
                + "{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
                + "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}]%s}";
        Client.Reply whole = client.post("/v1/chat/completions", USER_A, body.formatted(""));
        assertEquals(200, whole.status(), whole.body());
        JsonNode c = whole.json().path("choices").get(0);
        String finish = c.path("finish_reason").asText();
        assertTrue(List.of("stop", "length", "tool_calls").contains(finish), finish);
        assertEquals(finish.equals("tool_calls"), c.at("/message/tool_calls").size() > 0);

        List<String> events = client.stream("/v1/chat/completions", USER_A, body.formatted(",\"stream\":true"));
        assertEquals("[DONE]", events.get(events.size() - 1));
        StringBuilder content = new StringBuilder();
        String streamedFinish = null;
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode ch = parse(e).path("choices").get(0);
            content.append(ch.at("/delta/content").asText(""));
            if (!ch.path("finish_reason").isNull()) {
                streamedFinish = ch.path("finish_reason").asText();
            }
        }
        assertEquals(c.at("/message/content").asText(""), content.toString().isBlank() ? "" : content.toString());
        assertEquals(finish, streamedFinish);
    }

    @Test
    void bad_tool_fields_are_refused_naming_the_field() {
        Client.Reply dup = client.post("/v1/chat/completions", USER_A, "{\"model\":\"adapter-01\",\"tools\":["
                + "{\"type\":\"function\",\"function\":{\"name\":\"f\"}},{\"type\":\"function\",\"function\":"
                + "{\"name\":\"f\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(400, dup.status(), dup.body());
        assertEquals("tools[1].function.name", dup.error().path("param").asText());
        Client.Reply orphan = client.post("/v1/chat/completions", USER_A, "{\"model\":\"adapter-01\",\"messages\":["
                + "{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"tool\",\"content\":\"sunny\"}]}");
        assertEquals(400, orphan.status(), orphan.body());
        assertEquals("messages[1].tool_call_id", orphan.error().path("param").asText());
    }

    static JsonNode parse(String json) {
        try {
            return Client.JSON.readTree(json);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
