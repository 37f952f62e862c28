package dev.quiver.edge.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** Replies split into content and calls, per format, whole and streamed at every split point. */
class ToolCallStreamTest {
    static final Set<String> TOOLS = Set.of("get_weather", "get_time");

    static Supplier<String> ids() {
        int[] n = {0};
        return () -> "id" + n[0]++;
    }

    static ToolParse parse(ToolFormat f, String text) {
        return ToolCallStream.parse(f, TOOLS, text, ids());
    }

    static ToolCall call(int i, String name, String args) {
        return new ToolCall("id" + i, name, args);
    }

    /** (format, reply, expected content, expected calls) */
    static Stream<Arguments> table() {
        String w = "{\"city\":\"Paris\"}";
        String t = "{\"zone\":\"UTC\"}";
        return Stream.of(
                // Hermes / Qwen
                Arguments.of(ToolFormat.HERMES, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                        + "{\"city\": \"Paris\"}}\n</tool_call>", null, List.of(call(0, "get_weather", w))),
                Arguments.of(ToolFormat.HERMES, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                        + "{\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": "
                        + "{\"zone\": \"UTC\"}}\n</tool_call>", null,
                        List.of(call(0, "get_weather", w), call(1, "get_time", t))),
                Arguments.of(ToolFormat.HERMES, "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", "
                        + "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\nDone.", "Let me check.Done.",
                        List.of(call(0, "get_weather", w))),
                Arguments.of(ToolFormat.HERMES, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                        + "{\"city\": \"Par}\n</tool_call>", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                        + "{\"city\": \"Par}\n</tool_call>", List.of()),
                Arguments.of(ToolFormat.HERMES, "<tool_call>\n{\"name\": \"launch\", \"arguments\": {}}\n"
                        + "</tool_call>", "<tool_call>\n{\"name\": \"launch\", \"arguments\": {}}\n</tool_call>",
                        List.of()),
                Arguments.of(ToolFormat.HERMES, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                        + "{\"city\": \"Paris\"}}", null, List.of(call(0, "get_weather", w))),
                Arguments.of(ToolFormat.HERMES, "No tools needed: 2 < 3.", "No tools needed: 2 < 3.", List.of()),
                Arguments.of(ToolFormat.HERMES, "  \n ", null, List.of()),
                Arguments.of(ToolFormat.HERMES, "<tool_call>\n{\"name\": \"get_time\", \"arguments\": "
                        + "\"{\\\"zone\\\": \\\"UTC\\\"}\"}\n</tool_call>", null, List.of(call(0, "get_time", t))),
                // Mistral v0.3
                Arguments.of(ToolFormat.MISTRAL, "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": "
                        + "{\"city\": \"Paris\"}}]", null, List.of(call(0, "get_weather", w))),
                Arguments.of(ToolFormat.MISTRAL, "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": "
                        + "{\"city\": \"Paris\"}}, {\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\"}}]", null,
                        List.of(call(0, "get_weather", w), call(1, "get_time", t))),
                Arguments.of(ToolFormat.MISTRAL, "Sure. [TOOL_CALLS] [{\"name\": \"get_time\", \"arguments\": "
                        + "{\"zone\": \"UTC\"}}] ok", "Sure.ok", List.of(call(0, "get_time", t))),
                Arguments.of(ToolFormat.MISTRAL, "[TOOL_CALLS] [{\"name\": \"get_time\", \"arguments\": {\"zone\": ]",
                        "[TOOL_CALLS] [{\"name\": \"get_time\", \"arguments\": {\"zone\": ]", List.of()),
                Arguments.of(ToolFormat.MISTRAL, "[TOOL_CALLS] [{\"name\": \"nope\", \"arguments\": {}}]",
                        "[TOOL_CALLS] [{\"name\": \"nope\", \"arguments\": {}}]", List.of()),
                Arguments.of(ToolFormat.MISTRAL, "[TOOL_CALLS] [{\"name\": \"get_time\", \"arguments\": "
                        + "{\"zone\": \"a]\\\"}\\\\\"}}]", null,
                        List.of(call(0, "get_time", "{\"zone\":\"a]\\\"}\\\\\"}"))),
                Arguments.of(ToolFormat.MISTRAL, "The [TOOL_CALLS] tag.", "The [TOOL_CALLS] tag.", List.of()),
                Arguments.of(ToolFormat.MISTRAL, "A list: [1, 2].", "A list: [1, 2].", List.of()),
                // Llama 3.x JSON
                Arguments.of(ToolFormat.LLAMA3_JSON, "{\"name\": \"get_weather\", \"parameters\": "
                        + "{\"city\": \"Paris\"}}", null, List.of(call(0, "get_weather", w))),
                Arguments.of(ToolFormat.LLAMA3_JSON, "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": "
                        + "{\"city\": \"Paris\"}}; {\"name\": \"get_time\", \"parameters\": {\"zone\": \"UTC\"}}", null,
                        List.of(call(0, "get_weather", w), call(1, "get_time", t))),
                Arguments.of(ToolFormat.LLAMA3_JSON, "It is sunny in {Paris}.", "It is sunny in {Paris}.", List.of()),
                Arguments.of(ToolFormat.LLAMA3_JSON, "{\"name\": \"get_weather\", \"parameters\": {\"city\": ",
                        "{\"name\": \"get_weather\", \"parameters\": {\"city\": ", List.of()),
                Arguments.of(ToolFormat.LLAMA3_JSON, "{\"name\": \"get_weather\", \"parameters\": {}}; "
                        + "{\"name\": \"rm_rf\", \"parameters\": {}}", "{\"name\": \"get_weather\", \"parameters\": "
                        + "{}}; {\"name\": \"rm_rf\", \"parameters\": {}}", List.of()),
                Arguments.of(ToolFormat.LLAMA3_JSON, "<|eom|> not a call", "<|eom|> not a call", List.of()),
                // Unknown template: JSON, else Hermes
                Arguments.of(ToolFormat.UNKNOWN, "[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]",
                        null, List.of(call(0, "get_weather", w))),
                Arguments.of(ToolFormat.UNKNOWN, "{\"name\": \"get_time\", \"parameters\": {\"zone\": \"UTC\"}}",
                        null, List.of(call(0, "get_time", t))),
                Arguments.of(ToolFormat.UNKNOWN, "Checking <tool_call>{\"name\": \"get_time\", \"arguments\": "
                        + "{\"zone\": \"UTC\"}}</tool_call>", "Checking", List.of(call(0, "get_time", t))),
                Arguments.of(ToolFormat.UNKNOWN, "Just text.", "Just text.", List.of()));
    }

    @ParameterizedTest
    @MethodSource("table")
    void a_whole_reply_splits_into_content_and_calls(ToolFormat f, String reply, String content, List<ToolCall> calls) {
        ToolParse p = parse(f, reply);
        assertEquals(content, p.content(), "content of " + reply);
        assertEquals(calls, p.calls(), "calls of " + reply);
    }

    @ParameterizedTest
    @MethodSource("table")
    void streamed_deltas_reassemble_to_the_whole_parse_at_every_split_point(ToolFormat f, String reply, String content,
                                                                           List<ToolCall> calls) {
        ToolParse whole = parse(f, reply);
        for (int a = 0; a <= reply.length(); a++) {
            for (int b = a; b <= reply.length(); b += Math.max(1, reply.length() / 7)) {
                ToolCallStream s = new ToolCallStream(f, TOOLS, ids());
                List<ToolDelta> d = new ArrayList<>(s.accept(reply.substring(0, a)));
                d.addAll(s.accept(reply.substring(a, b)));
                d.addAll(s.accept(reply.substring(b)));
                d.addAll(s.finish());
                assertEquals(whole, ToolCallStream.assemble(d), "split at " + a + "," + b + " of " + reply);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("table")
    void streamed_one_character_at_a_time_reassembles_with_calls_in_openai_order(ToolFormat f, String reply,
                                                                                 String content, List<ToolCall> calls) {
        ToolCallStream s = new ToolCallStream(f, TOOLS, ids());
        List<ToolDelta> d = new ArrayList<>();
        for (int i = 0; i < reply.length(); i++) {
            d.addAll(s.accept(reply.substring(i, i + 1)));
        }
        d.addAll(s.finish());
        assertEquals(parse(f, reply), ToolCallStream.assemble(d));
        int next = 0;
        for (int i = 0; i < d.size(); i++) {
            if (d.get(i) instanceof ToolDelta.CallStart cs) {
                assertEquals(next++, cs.index(), "calls are numbered in order");
                assertTrue(d.get(i + 1) instanceof ToolDelta.CallArguments a && a.index() == cs.index(),
                        "a call's arguments follow its first delta");
            }
        }
        assertEquals(calls.size(), next);
    }

    @Test
    void text_that_cannot_start_a_marker_streams_at_once_and_a_marker_prefix_is_held_back() {
        ToolCallStream s = new ToolCallStream(ToolFormat.HERMES, TOOLS, ids());
        assertEquals(List.of(new ToolDelta.Content("Hello")), s.accept("Hello <tool"));
        assertEquals(List.of(new ToolDelta.Content(" <tools> are")), s.accept("s> are"));
        assertEquals(List.of(), s.accept(" <tool_call>{\"name\": \"get_time\""));
        List<ToolDelta> d = s.accept(", \"arguments\": {}}</tool_call>");
        assertEquals(List.of(new ToolDelta.CallStart(0, "id0", "get_time"), new ToolDelta.CallArguments(0, "{}")), d);
        assertEquals(List.of(), s.finish());
    }

    @Test
    void random_chunkings_of_a_mixed_reply_agree_with_the_whole_parse() {
        String reply = "Plan: call both.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                + "\"Sa\\\"o </tool_call> Paulo\", \"days\": [1, 2.50]}}\n</tool_call>\n<tool_call>\n{bad json}\n"
                + "</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>\ntail <tool";
        ToolParse whole = parse(ToolFormat.HERMES, reply);
        assertEquals(2, whole.calls().size(), whole.toString());
        Random r = new Random(42);
        for (int trial = 0; trial < 300; trial++) {
            ToolCallStream s = new ToolCallStream(ToolFormat.HERMES, TOOLS, ids());
            List<ToolDelta> d = new ArrayList<>();
            int i = 0;
            while (i < reply.length()) {
                int j = Math.min(reply.length(), i + 1 + r.nextInt(12));
                d.addAll(s.accept(reply.substring(i, j)));
                i = j;
            }
            d.addAll(s.finish());
            assertEquals(whole, ToolCallStream.assemble(d));
        }
    }

    @Test
    void arguments_keep_exact_numbers_and_strings_and_ids_follow_the_format() {
        ToolParse p = ToolCallStream.parse(ToolFormat.MISTRAL, TOOLS, "[TOOL_CALLS] [{\"name\": \"get_time\", "
                + "\"arguments\": {\"x\": 1.10, \"s\": \"caf\\u00e9 \\\"q\\\"\"}}]");
        assertEquals("{\"x\":1.10,\"s\":\"café \\\"q\\\"\"}", p.calls().get(0).arguments());
        assertTrue(p.calls().get(0).id().matches("[a-zA-Z0-9]{9}"), p.calls().get(0).id());
        ToolParse h = ToolCallStream.parse(ToolFormat.HERMES, TOOLS, "<tool_call>{\"name\": \"get_time\"}</tool_call>");
        assertEquals("{}", h.calls().get(0).arguments());
        assertTrue(h.calls().get(0).id().matches("call_[a-zA-Z0-9]{24}"), h.calls().get(0).id());
        assertNull(h.content());
    }
}
