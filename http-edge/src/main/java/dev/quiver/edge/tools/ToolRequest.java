package dev.quiver.edge.tools;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.quiver.edge.api.ServiceError;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The tool fields of a chat request ({@code tools}, {@code tool_choice}, {@code parallel_tool_calls}), validated:
 * every problem is a 400 naming the field ({@code tools[1].function.name}). Also reads the tool parts of chat
 * messages (assistant {@code tool_calls}, tool {@code tool_call_id} and {@code name}) into the shape chat templates
 * expect.
 *
 * @param tools    the declared tools, in request order (empty when none)
 * @param choice   {@code tool_choice}; {@link ToolChoice#NONE} when no tools were declared
 * @param parallel {@code parallel_tool_calls} (default true): whether a forced reply may hold several calls; an
 *                 {@code auto} reply is parsed for as many calls as it holds either way
 */
public record ToolRequest(List<ToolSpec> tools, ToolChoice choice, boolean parallel) {
    /** A request without tools. */
    public static final ToolRequest NONE = new ToolRequest(List.of(), ToolChoice.NONE, true);

    static final Pattern NAME = Pattern.compile("^[a-zA-Z0-9_-]{1,64}$");
    /** The most tools one request may declare (vLLM has no limit; ours bounds the constraint's size). */
    public static final int MAX_TOOLS = 128;
    private static final ObjectMapper PLAIN = new ObjectMapper();

    public ToolRequest {
        tools = List.copyOf(tools);
    }

    /** Whether tools are rendered into the prompt and replies are parsed for calls. */
    public boolean active() {
        return !tools.isEmpty() && !(choice instanceof ToolChoice.None);
    }

    /** The tools as the chat template sees them (the client's objects), or null when they are not rendered. */
    public List<Map<String, Object>> forTemplate() {
        if (!active()) {
            return null;
        }
        return tools.stream().map(ToolSpec::template).toList();
    }

    /** The names a parsed call may name. */
    public Set<String> names() {
        Set<String> s = new HashSet<>();
        tools.forEach(t -> s.add(t.name()));
        return s;
    }

    /** The tools a forced reply may call: all for {@code required}, the named one, or none otherwise. */
    public List<ToolSpec> forced() {
        if (choice instanceof ToolChoice.Required) {
            return tools;
        }
        if (choice instanceof ToolChoice.Named n) {
            return tools.stream().filter(t -> t.name().equals(n.name())).toList();
        }
        return List.of();
    }

    /** Reads {@code tools}, {@code tool_choice} and {@code parallel_tool_calls} of a chat request body. */
    public static ToolRequest parse(JsonNode body) {
        JsonNode t = present(body.get("tools"));
        List<ToolSpec> tools = new ArrayList<>();
        if (t != null) {
            if (!t.isArray()) {
                throw bad("tools", "'tools' must be an array, got " + type(t));
            }
            if (t.size() > MAX_TOOLS) {
                throw bad("tools", "at most " + MAX_TOOLS + " tools per request, got " + t.size());
            }
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < t.size(); i++) {
                ToolSpec s = tool(t.get(i), "tools[" + i + "]");
                if (!seen.add(s.name())) {
                    throw bad("tools[" + i + "].function.name", "tools[" + i + "].function.name '" + s.name()
                            + "' is declared twice; tool names must be unique");
                }
                tools.add(s);
            }
        }
        ToolChoice choice = choice(present(body.get("tool_choice")), tools);
        JsonNode p = present(body.get("parallel_tool_calls"));
        if (p != null && !p.isBoolean()) {
            throw bad("parallel_tool_calls", "'parallel_tool_calls' must be a boolean, got " + type(p));
        }
        return new ToolRequest(tools, choice, p == null || p.asBoolean());
    }

    private static ToolSpec tool(JsonNode n, String where) {
        if (!n.isObject()) {
            throw bad(where, where + " must be an object, got " + type(n));
        }
        JsonNode type = n.get("type");
        if (type == null || !type.isTextual() || !type.asText().equals("function")) {
            throw bad(where + ".type", where + ".type must be \"function\"" + (type == null ? "" : ", got " + type));
        }
        JsonNode f = present(n.get("function"));
        if (f == null || !f.isObject()) {
            throw bad(where + ".function", where + ".function must be an object with a name");
        }
        JsonNode name = present(f.get("name"));
        if (name == null || !name.isTextual()) {
            throw bad(where + ".function.name", where + ".function.name is required and must be a string");
        }
        if (!NAME.matcher(name.asText()).matches()) {
            throw bad(where + ".function.name", where + ".function.name must match ^[a-zA-Z0-9_-]{1,64}$, got '"
                    + name.asText() + "'");
        }
        JsonNode d = present(f.get("description"));
        if (d != null && !d.isTextual()) {
            throw bad(where + ".function.description", where + ".function.description must be a string, got "
                    + type(d));
        }
        JsonNode params = present(f.get("parameters"));
        if (params != null && !params.isObject()) {
            throw bad(where + ".function.parameters", where + ".function.parameters must be a JSON schema object, "
                    + "got " + type(params));
        }
        if (params == null) {
            // NOTE: no parameters means no arguments: {} (a forced call may then only write "arguments": {}).
            ObjectNode empty = JsonNodeFactory.instance.objectNode();
            empty.put("type", "object");
            empty.putObject("properties");
            empty.put("additionalProperties", false);
            params = empty;
        }
        return new ToolSpec(name.asText(), params, map(n));
    }

    private static ToolChoice choice(JsonNode c, List<ToolSpec> tools) {
        if (c == null) {
            return tools.isEmpty() ? ToolChoice.NONE : ToolChoice.AUTO;
        }
        if (c.isTextual()) {
            switch (c.asText()) {
                case "none":
                    return ToolChoice.NONE;
                case "auto":
                    return tools.isEmpty() ? ToolChoice.NONE : ToolChoice.AUTO;
                case "required":
                    if (tools.isEmpty()) {
                        throw bad("tool_choice", "tool_choice \"required\" needs at least one tool in 'tools'");
                    }
                    return ToolChoice.REQUIRED;
                default:
                    throw bad("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" or "
                            + "{\"type\": \"function\", \"function\": {\"name\": ...}}, got '" + c.asText() + "'");
            }
        }
        if (!c.isObject()) {
            throw bad("tool_choice", "tool_choice must be a string or an object, got " + type(c));
        }
        if (!"function".equals(c.path("type").asText(null))) {
            throw bad("tool_choice.type", "tool_choice.type must be \"function\"");
        }
        JsonNode name = c.path("function").path("name");
        if (!name.isTextual()) {
            throw bad("tool_choice.function.name", "tool_choice.function.name is required and must be a string");
        }
        if (tools.stream().noneMatch(t -> t.name().equals(name.asText()))) {
            throw bad("tool_choice.function.name", "tool_choice names the function '" + name.asText()
                    + "', which is not declared in 'tools'");
        }
        return new ToolChoice.Named(name.asText());
    }

    /**
     * The tool parts of one chat message, added to {@code out} (the message as the template sees it): an assistant
     * message's {@code tool_calls} with each {@code function.arguments} parsed from its JSON string into a mapping
     * (as vLLM does; templates print it with {@code tojson}), and a tool message's {@code tool_call_id} and
     * {@code name}.
     *
     * @return whether the message carried tool calls (then its content may be null)
     */
    public static boolean messageParts(JsonNode msg, String role, String where, Map<String, Object> out) {
        JsonNode calls = present(msg.get("tool_calls"));
        if (calls != null) {
            if (!role.equals("assistant")) {
                throw bad(where + ".tool_calls", where + ".tool_calls is only allowed on assistant messages");
            }
            if (!calls.isArray()) {
                throw bad(where + ".tool_calls", where + ".tool_calls must be an array, got " + type(calls));
            }
            List<Map<String, Object>> list = new ArrayList<>();
            for (int j = 0; j < calls.size(); j++) {
                list.add(call(calls.get(j), where + ".tool_calls[" + j + "]"));
            }
            out.put("tool_calls", list);
        }
        if (role.equals("tool")) {
            JsonNode id = present(msg.get("tool_call_id"));
            if (id == null || !id.isTextual()) {
                throw bad(where + ".tool_call_id", where + ".tool_call_id is required on tool messages and must be "
                        + "a string");
            }
            out.put("tool_call_id", id.asText());
        }
        JsonNode name = present(msg.get("name"));
        if (name != null) {
            if (!name.isTextual()) {
                throw bad(where + ".name", where + ".name must be a string, got " + type(name));
            }
            out.put("name", name.asText());
        }
        return calls != null && !calls.isEmpty();
    }

    private static Map<String, Object> call(JsonNode c, String where) {
        if (!c.isObject()) {
            throw bad(where, where + " must be an object, got " + type(c));
        }
        JsonNode id = present(c.get("id"));
        if (id == null || !id.isTextual()) {
            throw bad(where + ".id", where + ".id is required and must be a string");
        }
        JsonNode f = present(c.get("function"));
        if (f == null || !f.isObject() || !f.path("name").isTextual()) {
            throw bad(where + ".function", where + ".function must be an object with a string name");
        }
        JsonNode args = present(f.get("arguments"));
        Object parsed;
        if (args == null) {
            parsed = new LinkedHashMap<String, Object>();
        } else if (args.isTextual()) {
            try {
                parsed = PLAIN.readValue(args.asText(), Object.class);
            } catch (java.io.IOException e) {
                throw bad(where + ".function.arguments", where + ".function.arguments must be a JSON string: "
                        + e.getMessage().lines().findFirst().orElse(""));
            }
        } else if (args.isObject()) {
            parsed = PLAIN.convertValue(args, Object.class);
        } else {
            throw bad(where + ".function.arguments", where + ".function.arguments must be a string of JSON, got "
                    + type(args));
        }
        Map<String, Object> fn = new LinkedHashMap<>();
        fn.put("name", f.get("name").asText());
        fn.put("arguments", parsed);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", id.asText());
        out.put("type", "function");
        out.put("function", fn);
        return out;
    }

    private static Map<String, Object> map(JsonNode n) {
        return PLAIN.convertValue(n, new TypeReference<LinkedHashMap<String, Object>>() { });
    }

    private static JsonNode present(JsonNode n) {
        return n == null || n.isNull() ? null : n;
    }

    static String type(JsonNode n) {
        return switch (n.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            default -> n.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
        };
    }

    static RuntimeException bad(String param, String message) {
        return ServiceError.invalid(param, message).exception();
    }
}
