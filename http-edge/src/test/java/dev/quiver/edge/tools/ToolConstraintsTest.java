package dev.quiver.edge.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import dev.quiver.edge.api.ServiceException;
import dev.quiver.gpu.constraint.ConstraintSpec;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The constraints that force calls: regexes (checked with java.util.regex) for the marker formats, JSON schemas
 * (checked with a JSON-schema validator) for the JSON formats; what they admit parses back as the same calls.
 */
class ToolConstraintsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String WEATHER = "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
            + "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"description\":\"a city\"},"
            + "\"unit\":{\"type\":\"string\",\"enum\":[\"celsius\",\"fahrenheit\"]},\"days\":{\"type\":\"integer\"}},"
            + "\"required\":[\"city\"]}}}";
    static final String TIME = "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":"
            + "{\"type\":\"object\",\"properties\":{\"zone\":{\"type\":[\"string\",\"null\"]},\"precise\":"
            + "{\"type\":\"boolean\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":2}},"
            + "\"required\":[\"zone\",\"precise\"]}}}";

    static ToolRequest request(String choice, boolean parallel, String... tools) throws Exception {
        return ToolRequest.parse(JSON.readTree("{\"tools\":[" + String.join(",", tools) + "],\"tool_choice\":"
                + choice + ",\"parallel_tool_calls\":" + parallel + "}"));
    }

    static void admits(ConstraintSpec c, String text, boolean expected) {
        assertEquals(ConstraintSpec.Kind.REGEX, c.kind());
        assertEquals(expected, Pattern.compile(c.source()).matcher(text).matches(), (expected ? "should admit: "
                : "should refuse: ") + text + "\nregex: " + c.source());
    }

    @Test
    void hermes_regex_admits_a_valid_call_of_an_allowed_tool_and_nothing_else() throws Exception {
        ConstraintSpec c = ToolConstraints.forRequest(request("\"required\"", false, WEATHER, TIME), ToolFormat.HERMES);
        String ok = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": "
                + "\"celsius\"}}\n</tool_call>";
        admits(c, ok, true);
        admits(c, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Pa\\\"ris\\u00e9\", "
                + "\"days\": -3}}\n</tool_call>", true);
        admits(c, "<tool_call>\n{\"name\":\"get_time\",\"arguments\":{\"zone\":null,\"precise\":true,\"tags\":"
                + "[\"a\",\"b\"]}}\n</tool_call>", true);
        admits(c, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>", false);
        admits(c, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"kelvin\"}}"
                + "\n</tool_call>", false);
        admits(c, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": 3}}\n</tool_call>", false);
        admits(c, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"P\", \"days\": 1.5}}\n"
                + "</tool_call>", false);
        admits(c, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"P\", \"x\": 1}}\n</tool_call>",
                false);
        admits(c, "<tool_call>\n{\"name\":\"get_time\",\"arguments\":{\"zone\":null,\"precise\":true,\"tags\":"
                + "[\"a\",\"b\",\"c\"]}}\n</tool_call>", false);
        admits(c, "<tool_call>\n{\"name\": \"launch\", \"arguments\": {}}\n</tool_call>", false);
        admits(c, "Sure! " + ok, false);
        admits(c, ok + "\n" + ok, false);
    }

    @Test
    void parallel_calls_admit_several_blocks_and_a_named_function_only_that_one() throws Exception {
        String w = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>";
        String t = "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\", \"precise\": false}}\n"
                + "</tool_call>";
        ConstraintSpec all = ToolConstraints.forRequest(request("\"required\"", true, WEATHER, TIME), ToolFormat.HERMES);
        admits(all, w + "\n" + t + "\n" + w, true);
        ConstraintSpec named = ToolConstraints.forRequest(request("{\"type\":\"function\",\"function\":{\"name\":"
                + "\"get_time\"}}", true, WEATHER, TIME), ToolFormat.HERMES);
        admits(named, t, true);
        admits(named, t + "\n" + t, true);
        admits(named, w, false);
    }

    @Test
    void mistral_regex_admits_the_marker_and_a_call_list() throws Exception {
        ConstraintSpec c = ToolConstraints.forRequest(request("\"required\"", true, WEATHER, TIME), ToolFormat.MISTRAL);
        String calls = "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}, {\"name\": "
                + "\"get_time\", \"arguments\": {\"zone\": \"CET\", \"precise\": true}}]";
        admits(c, calls, true);
        admits(c, "[TOOL_CALLS] []", false);
        admits(c, "[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}]", false);
        ConstraintSpec one = ToolConstraints.forRequest(request("\"required\"", false, WEATHER, TIME),
                ToolFormat.MISTRAL);
        admits(one, calls, false);
        admits(one, "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}]", true);
    }

    @Test
    void what_a_regex_admits_parses_back_as_the_same_calls() throws Exception {
        ToolRequest r = request("\"required\"", true, WEATHER, TIME);
        for (ToolFormat f : List.of(ToolFormat.HERMES, ToolFormat.MISTRAL)) {
            String text = f == ToolFormat.HERMES
                    ? "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Lima\", \"days\": 2}}\n"
                    + "</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": null, "
                    + "\"precise\": true}}\n</tool_call>"
                    : "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Lima\", \"days\": 2}}, "
                    + "{\"name\": \"get_time\", \"arguments\": {\"zone\": null, \"precise\": true}}]";
            admits(ToolConstraints.forRequest(r, f), text, true);
            ToolParse p = ToolCallStream.parse(f, r.names(), text);
            assertNull(p.content());
            assertEquals(List.of("get_weather", "get_time"), p.calls().stream().map(ToolCall::name).toList());
            assertEquals("{\"city\":\"Lima\",\"days\":2}", p.calls().get(0).arguments());
        }
    }

    @Test
    void llama_and_unknown_formats_get_json_schemas_a_validator_agrees_with() throws Exception {
        SchemaRegistry registry = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);
        ConstraintSpec llama = ToolConstraints.forRequest(request("\"required\"", true, WEATHER, TIME),
                ToolFormat.LLAMA3_JSON);
        assertEquals(ConstraintSpec.Kind.JSON_SCHEMA, llama.kind());
        Schema s = registry.getSchema(llama.source());
        assertTrue(valid(s, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}"));
        assertTrue(valid(s, "{\"name\": \"get_time\", \"parameters\": {\"zone\": \"UTC\", \"precise\": true}}"));
        assertFalse(valid(s, "{\"name\": \"get_time\", \"parameters\": {\"zone\": \"UTC\"}}"));
        assertFalse(valid(s, "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}"));
        assertFalse(valid(s, "{\"name\": \"launch\", \"parameters\": {}}"));
        assertFalse(valid(s, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"P\", \"unit\": \"K\"}}"));

        Schema named = registry.getSchema(ToolConstraints.forRequest(request("{\"type\":\"function\",\"function\":"
                + "{\"name\":\"get_weather\"}}", false, WEATHER, TIME), ToolFormat.UNKNOWN).source());
        assertTrue(valid(named, "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}"));
        assertFalse(valid(named, "{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\", \"precise\": true}}"));

        Schema list = registry.getSchema(ToolConstraints.forRequest(request("\"required\"", true, WEATHER, TIME),
                ToolFormat.UNKNOWN).source());
        assertTrue(valid(list, "[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, {\"name\": "
                + "\"get_time\", \"arguments\": {\"zone\": null, \"precise\": false}}]"));
        assertFalse(valid(list, "[]"));
        assertFalse(valid(list, "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}"));
    }

    static boolean valid(Schema s, String json) throws Exception {
        JsonNode n = JSON.readTree(json);
        return s.validate(n).isEmpty();
    }

    @Test
    void a_tool_without_parameters_takes_empty_arguments_and_an_untyped_value_takes_any_json() throws Exception {
        String bare = "{\"type\":\"function\",\"function\":{\"name\":\"ping\"}}";
        ConstraintSpec c = ToolConstraints.forRequest(request("\"required\"", false, bare), ToolFormat.HERMES);
        admits(c, "<tool_call>\n{\"name\": \"ping\", \"arguments\": {}}\n</tool_call>", true);
        admits(c, "<tool_call>\n{\"name\": \"ping\", \"arguments\": {\"x\": 1}}\n</tool_call>", false);
        String anyValue = JsonSchemaRegex.of(JSON.readTree("{\"type\":\"object\",\"properties\":{\"v\":{}},"
                + "\"required\":[\"v\"]}"), "p");
        for (String ok : List.of("{\"v\": 1.5e3}", "{\"v\": \"s\"}", "{\"v\": [true, null]}",
                "{\"v\": {\"a\": [1, 2]}}")) {
            assertTrue(Pattern.matches(anyValue, ok), ok);
        }
        for (String bad : List.of("{\"v\": }", "{\"v\": [1,]}", "{\"v\": {\"a\": {\"b\": [1]}}}", "{\"v\": 01}")) {
            assertFalse(Pattern.matches(anyValue, bad), bad);
        }
    }

    @Test
    void auto_and_none_force_nothing() throws Exception {
        assertNull(ToolConstraints.forRequest(request("\"auto\"", true, WEATHER), ToolFormat.HERMES));
        assertNull(ToolConstraints.forRequest(request("\"none\"", true, WEATHER), ToolFormat.HERMES));
    }

    @Test
    void refuses_a_schema_keyword_the_regex_cannot_enforce_naming_the_tools_parameters() throws Exception {
        String odd = "{\"type\":\"function\",\"function\":{\"name\":\"odd\",\"parameters\":{\"type\":\"object\","
                + "\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":3}}}}}";
        ServiceException e = assertThrows(ServiceException.class, () ->
                ToolConstraints.forRequest(request("\"required\"", false, WEATHER, odd), ToolFormat.HERMES));
        assertEquals("tools[1].function.parameters", e.error().param());
        assertTrue(e.getMessage().contains("minimum"), e.getMessage());
        // a JSON-schema constraint leaves the keyword to the engine's schema support
        assertEquals(ConstraintSpec.Kind.JSON_SCHEMA, ToolConstraints.forRequest(request("\"required\"", false,
                WEATHER, odd), ToolFormat.LLAMA3_JSON).kind());
    }

    @Test
    void optional_properties_may_be_left_out_in_any_combination_but_keep_their_order() {
        JsonNode schema = JSON.valueToTree(java.util.Map.of("type", "object", "properties",
                new java.util.LinkedHashMap<>(java.util.Map.of())));
        assertTrue(Pattern.matches(JsonSchemaRegex.of(schema, "p"), "{\"any\": [1, \"x\"], \"o\": {\"x\": null}}"));
        String props = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"integer\"},"
                + "\"c\":{\"type\":\"integer\"}},\"required\":[\"b\"]}";
        String re;
        try {
            re = JsonSchemaRegex.of(JSON.readTree(props), "p");
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        for (String ok : List.of("{\"b\": 1}", "{\"a\": 1, \"b\": 2}", "{\"b\": 2, \"c\": 3}", "{\"a\":1,\"b\":2,\"c\":3}")) {
            assertTrue(Pattern.matches(re, ok), ok);
        }
        for (String bad : List.of("{}", "{\"a\": 1}", "{\"b\": 1,}", "{, \"b\": 1}", "{\"b\": 2, \"a\": 1}",
                "{\"a\": 1, \"c\": 3}")) {
            assertFalse(Pattern.matches(re, bad), bad);
        }
    }
}
