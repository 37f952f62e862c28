package dev.quiver.edge.tools;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.quiver.gpu.constraint.ConstraintSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * The output constraint that makes {@code tool_choice: "required"} or a named function hold: it admits exactly
 * one call (or, with {@code parallel_tool_calls}, one or more) to the allowed tools, with arguments valid under
 * their {@code parameters} schema, written in the template's format, so that {@link ToolCallStream} parses the
 * reply as calls.
 *
 * <ul>
 *   <li>{@link ToolFormat#HERMES}: a {@link ConstraintSpec.Kind#REGEX} over {@code <tool_call>\n{"name": "f",
 *       "arguments": {...}}\n</tool_call>} blocks, one or more separated by a newline.</li>
 *   <li>{@link ToolFormat#MISTRAL}: a regex over {@code [TOOL_CALLS] [{"name": "f", "arguments": {...}}, ...]}.</li>
 *   <li>{@link ToolFormat#LLAMA3_JSON}: a {@link ConstraintSpec.Kind#JSON_SCHEMA} of one
 *       {@code {"name": "f", "parameters": {...}}} object (Llama 3 writes one call per reply).</li>
 *   <li>{@link ToolFormat#UNKNOWN}: a JSON schema of one {@code {"name": "f", "arguments": {...}}} object, or
 *       of a non-empty array of them when parallel calls are allowed.</li>
 * </ul>
 */
public final class ToolConstraints {
    private ToolConstraints() {
    }

    /**
     * The constraint for {@code request}'s forced calls in {@code format}, or null when its {@code tool_choice}
     * forces none. A parameters schema the regex form cannot honour is a 400 naming that tool's parameters.
     */
    public static ConstraintSpec forRequest(ToolRequest request, ToolFormat format) {
        List<ToolSpec> allowed = request.forced();
        if (allowed.isEmpty()) {
            return null;
        }
        List<String> where = new ArrayList<>();
        for (ToolSpec t : allowed) {
            where.add("tools[" + request.tools().indexOf(t) + "].function.parameters");
        }
        return build(format, allowed, where, request.parallel());
    }

    static ConstraintSpec build(ToolFormat format, List<ToolSpec> allowed, List<String> where, boolean parallel) {
        return switch (format) {
            case HERMES, MISTRAL -> new ConstraintSpec(ConstraintSpec.Kind.REGEX, regex(format, allowed, where,
                    parallel));
            case LLAMA3_JSON -> new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA,
                    schema(allowed, "parameters", false).toString());
            case UNKNOWN -> new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA,
                    schema(allowed, "arguments", parallel).toString());
        };
    }

    private static String regex(ToolFormat format, List<ToolSpec> allowed, List<String> where, boolean parallel) {
        List<String> alts = new ArrayList<>();
        for (int i = 0; i < allowed.size(); i++) {
            ToolSpec t = allowed.get(i);
            alts.add("\\{\"name\"" + JsonSchemaRegex.COLON + JsonSchemaRegex.literal("\"" + t.name() + "\"")
                    + JsonSchemaRegex.COMMA + "\"arguments\"" + JsonSchemaRegex.COLON
                    + JsonSchemaRegex.of(t.parameters(), where.get(i)) + "\\}");
        }
        String call = alts.size() == 1 ? alts.get(0) : "(" + String.join("|", alts) + ")";
        if (format == ToolFormat.MISTRAL) {
            return "\\[TOOL_CALLS\\] ?\\[" + call + (parallel ? "(" + JsonSchemaRegex.COMMA + call + ")*" : "")
                    + "\\]";
        }
        String block = "<tool_call>\\n" + call + "\\n</tool_call>";
        return parallel ? block + "(\\n" + block + ")*" : block;
    }

    private static JsonNode schema(List<ToolSpec> allowed, String argsKey, boolean array) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ArrayNode anyOf = f.arrayNode();
        for (ToolSpec t : allowed) {
            ObjectNode o = anyOf.addObject();
            o.put("type", "object");
            ObjectNode props = o.putObject("properties");
            props.putObject("name").put("type", "string").putArray("enum").add(t.name());
            props.set(argsKey, t.parameters());
            o.putArray("required").add("name").add(argsKey);
            o.put("additionalProperties", false);
        }
        ObjectNode call = f.objectNode();
        call.set("anyOf", anyOf);
        if (!array) {
            return call;
        }
        ObjectNode arr = f.objectNode();
        arr.put("type", "array");
        arr.set("items", call);
        arr.put("minItems", 1);
        return arr;
    }
}
