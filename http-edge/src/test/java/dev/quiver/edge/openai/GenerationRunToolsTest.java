package dev.quiver.edge.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.quiver.edge.Json;
import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.Role;
import dev.quiver.edge.tools.ScriptedService;
import dev.quiver.edge.tools.ToolFormat;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A chat run whose model writes tool calls: the whole response and the SSE deltas, per choice. */
class GenerationRunToolsTest {
    static final OpenAiRequest.Limits LIMITS = new OpenAiRequest.Limits(8, 8, 64);
    static final String TOOLS = ",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
            + "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]";
    static final String REPLY = "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
            + "\"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
            + "\"Rome\"}}\n</tool_call>";

    @TempDir
    Path dir;

    JsonNode run(String extra, String reply, int piece, boolean stream) throws Exception {
        OpenAiRequest r = OpenAiRequest.parseChat(Json.MAPPER.readTree("{\"model\":\"m\",\"n\":2,\"messages\":"
                + "[{\"role\":\"user\",\"content\":\"weather?\"}]" + extra + "}"), LIMITS);
        ScriptedService service = new ScriptedService(dir, ScriptedService.TOOLS_TEMPLATE, p -> reply, piece);
        List<GenerationRun.ChoiceInput> inputs = new ArrayList<>();
        for (int i = 0; i < r.n(); i++) {
            inputs.add(new GenerationRun.ChoiceInput(i, 0, new int[] {1, 2}, null, r.params(64, i)));
        }
        List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
        GenerationRun run = new GenerationRun(r, "chatcmpl-x", service.baseModel().tokenizer(), inputs,
                stream ? lines::add : null, ToolFormat.HERMES);
        run.start(service, new Caller("t", Role.USER, "k"));
        run.done().get(10, TimeUnit.SECONDS);
        return stream ? reassemble(lines) : Json.MAPPER.valueToTree(run.response());
    }

    /** What a client rebuilds from the SSE lines: per choice, the message and finish reason. */
    static JsonNode reassemble(List<String> lines) throws Exception {
        assertEquals("data: [DONE]\n\n", lines.get(lines.size() - 1));
        Map<Integer, StringBuilder> content = new TreeMap<>();
        Map<Integer, Map<Integer, ObjectNode>> calls = new TreeMap<>();
        Map<Integer, String> finish = new TreeMap<>();
        for (String l : lines.subList(0, lines.size() - 1)) {
            JsonNode c = Json.MAPPER.readTree(l.substring("data: ".length())).path("choices").get(0);
            int i = c.path("index").asInt();
            JsonNode d = c.path("delta");
            content.computeIfAbsent(i, k -> new StringBuilder()).append(d.path("content").asText(""));
            for (JsonNode tc : d.path("tool_calls")) {
                Map<Integer, ObjectNode> mine = calls.computeIfAbsent(i, k -> new TreeMap<>());
                int idx = tc.path("index").asInt();
                if (tc.has("id")) {
                    assertFalse(mine.containsKey(idx), "only the first delta of a call carries its id");
                    assertEquals("function", tc.path("type").asText());
                    assertEquals("", tc.at("/function/arguments").asText(), "the first delta has empty arguments");
                    ObjectNode call = JsonNodeFactory.instance.objectNode();
                    call.put("id", tc.path("id").asText());
                    call.put("type", "function");
                    call.putObject("function").put("name", tc.at("/function/name").asText()).put("arguments", "");
                    mine.put(idx, call);
                } else {
                    ObjectNode f = (ObjectNode) mine.get(idx).path("function");
                    f.put("arguments", f.path("arguments").asText() + tc.at("/function/arguments").asText());
                }
            }
            if (!c.path("finish_reason").isNull()) {
                finish.put(i, c.path("finish_reason").asText());
            }
        }
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        ArrayNode choices = out.putArray("choices");
        for (int i : content.keySet()) {
            ObjectNode ch = choices.addObject();
            ch.put("index", i);
            ObjectNode m = ch.putObject("message");
            m.put("role", "assistant");
            String text = content.get(i).toString();
            if (text.isBlank()) {
                m.putNull("content");
            } else {
                m.put("content", text);
            }
            if (calls.containsKey(i)) {
                m.putArray("tool_calls").addAll(calls.get(i).values());
            }
            ch.put("finish_reason", finish.get(i));
        }
        return out;
    }

    static JsonNode withoutIds(JsonNode response) {
        JsonNode copy = response.deepCopy();
        for (JsonNode c : copy.path("choices")) {
            for (JsonNode tc : c.at("/message/tool_calls")) {
                assertTrue(tc.path("id").asText().matches("call_[A-Za-z0-9]{24}"), tc.toString());
                ((ObjectNode) tc).remove("id");
            }
        }
        return copy;
    }

    @Test
    void each_choice_returns_its_calls_as_tool_calls_with_the_text_around_them_as_content() throws Exception {
        JsonNode r = run(TOOLS, REPLY, 5, false);
        assertEquals(2, r.path("choices").size());
        for (JsonNode c : r.path("choices")) {
            assertEquals("tool_calls", c.path("finish_reason").asText());
            assertEquals("Checking.", c.at("/message/content").asText());
            JsonNode calls = c.at("/message/tool_calls");
            assertEquals(2, calls.size());
            assertEquals("get_weather", calls.get(0).at("/function/name").asText());
            assertEquals("{\"city\":\"Paris\"}", calls.get(0).at("/function/arguments").asText());
            assertEquals("{\"city\":\"Rome\"}", calls.get(1).at("/function/arguments").asText());
            assertEquals("function", calls.get(1).path("type").asText());
            assertFalse(calls.get(0).path("id").asText().equals(calls.get(1).path("id").asText()));
        }
    }

    @Test
    void streamed_deltas_reassemble_to_the_whole_response_whatever_the_piece_size() throws Exception {
        JsonNode whole = withoutIds(run(TOOLS, REPLY, 4, false));
        for (int piece : new int[] {1, 2, 3, 7, 13, REPLY.length()}) {
            JsonNode streamed = withoutIds(run(TOOLS, REPLY, piece, true));
            for (int i = 0; i < 2; i++) {
                JsonNode w = whole.path("choices").get(i);
                JsonNode s = streamed.path("choices").get(i);
                assertEquals(w.path("message"), s.path("message"), "piece " + piece);
                assertEquals(w.path("finish_reason"), s.path("finish_reason"), "piece " + piece);
            }
        }
    }

    @Test
    void a_reply_without_calls_is_plain_content_and_tool_choice_none_leaves_call_text_alone() throws Exception {
        JsonNode plain = run(TOOLS, "It is sunny.", 3, false).path("choices").get(0);
        assertEquals("It is sunny.", plain.at("/message/content").asText());
        assertFalse(plain.path("message").has("tool_calls"));
        assertEquals("stop", plain.path("finish_reason").asText());
        JsonNode none = run(TOOLS + ",\"tool_choice\":\"none\"", REPLY, 3, false).path("choices").get(0);
        assertEquals(REPLY, none.at("/message/content").asText());
        assertEquals("stop", none.path("finish_reason").asText());
        JsonNode noTools = run("", REPLY, 3, true).path("choices").get(0);
        assertEquals(REPLY, noTools.at("/message/content").asText());
        assertFalse(noTools.path("message").has("tool_calls"));
    }
}
