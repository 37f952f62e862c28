package dev.quiver.edge.tools;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quiver.edge.api.ServiceError;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a JSON schema (the subset tool parameters use) into a regular expression that admits only JSON texts
 * valid under it, written the way models write JSON: properties in declared order, {@code ": "} and {@code ", "}
 * with the space optional, no other whitespace.
 *
 * <p>Supported: {@code type} (one or a list), {@code properties} with {@code required} (optional properties may
 * be left out; undeclared ones are never admitted, whatever {@code additionalProperties} says), {@code items} with
 * {@code minItems}/{@code maxItems}, {@code enum}, {@code const}, {@code anyOf}, {@code oneOf} (read as
 * {@code anyOf}), string {@code minLength}/{@code maxLength}; annotations ({@code description}, {@code title},
 * {@code default}, {@code examples}, {@code format}, ...) are ignored. A schema with no type admits any JSON value
 * nested at most {@value #ANY_DEPTH} deep. Any other keyword ({@code $ref}, {@code pattern}, {@code minimum}, ...)
 * is refused with a 400 naming the field, because the expression could not honour it.
 *
 * <p>The dialect is the common subset of regex engines: groups {@code ( )}, {@code |}, {@code ? * + {m,n}},
 * character classes with ranges and negation, {@code \xhh}, and metacharacters escaped with a backslash;
 * {@code java.util.regex} reads it as written.
 */
public final class JsonSchemaRegex {
    /**
     * How deep an untyped value (or an object without properties) may nest. NOTE: each level multiplies the
     * expression's size by about four (3 KB at 2, 13 KB at 3), and an engine compiles it per request.
     */
    public static final int ANY_DEPTH = 2;
    private static final int MAX_SCHEMA_DEPTH = 32;

    static final String STRING_CHAR = "([^\"\\\\\\x00-\\x1f]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4})";
    static final String STRING = "\"" + STRING_CHAR + "*\"";
    static final String INTEGER = "-?(0|[1-9][0-9]*)";
    static final String NUMBER = INTEGER + "(\\.[0-9]+)?([eE][+-]?[0-9]+)?";
    static final String COLON = ": ?";
    static final String COMMA = ", ?";

    private static final Set<String> IGNORED = Set.of("description", "title", "default", "examples", "format",
            "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly", "additionalProperties", "strict");
    private static final Set<String> HANDLED = Set.of("type", "properties", "required", "items", "minItems",
            "maxItems", "enum", "const", "anyOf", "oneOf", "minLength", "maxLength");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String field;

    private JsonSchemaRegex(String field) {
        this.field = field;
    }

    /**
     * The expression for {@code schema}; {@code field} names the schema in errors (e.g.
     * {@code tools[0].function.parameters}).
     */
    public static String of(JsonNode schema, String field) {
        return new JsonSchemaRegex(field).value(schema, 0);
    }

    /** {@code text} escaped so that it matches itself only. */
    public static String literal(String text) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if ("\\.[]{}()*+?^$|/-".indexOf(c) >= 0) {
                sb.append('\\');
            }
            if (c == '\n') {
                sb.append("\\n");
            } else if (c < 0x20) {
                sb.append(String.format("\\x%02x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private String value(JsonNode s, int depth) {
        if (depth > MAX_SCHEMA_DEPTH) {
            throw refuse("the schema nests deeper than " + MAX_SCHEMA_DEPTH + " levels");
        }
        if (s.isBoolean()) {
            if (!s.asBoolean()) {
                throw refuse("a 'false' schema admits no value");
            }
            return any(ANY_DEPTH);
        }
        if (!s.isObject()) {
            throw refuse("a schema must be an object, got " + s.getNodeType().name().toLowerCase());
        }
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!HANDLED.contains(k) && !IGNORED.contains(k)) {
                throw refuse("the keyword '" + k + "' cannot be enforced for tool_choice required or a named "
                        + "function (supported: " + String.join(", ", HANDLED) + ")");
            }
        }
        if (s.has("const")) {
            return literal(json(s.get("const")));
        }
        if (s.has("enum")) {
            JsonNode e = s.get("enum");
            if (!e.isArray() || e.isEmpty()) {
                throw refuse("'enum' must be a non-empty array");
            }
            List<String> alts = new ArrayList<>();
            e.forEach(v -> alts.add(literal(json(v))));
            return group(alts);
        }
        JsonNode alts = s.has("anyOf") ? s.get("anyOf") : s.get("oneOf");
        if (alts != null) {
            if (!alts.isArray() || alts.isEmpty()) {
                throw refuse("'anyOf'/'oneOf' must be a non-empty array");
            }
            List<String> out = new ArrayList<>();
            alts.forEach(a -> out.add(value(a, depth + 1)));
            return group(out);
        }
        JsonNode type = s.get("type");
        if (type == null) {
            return s.has("properties") ? object(s, depth) : any(ANY_DEPTH);
        }
        if (type.isArray()) {
            List<String> out = new ArrayList<>();
            type.forEach(t -> out.add(typed(t.asText(), s, depth)));
            return group(out);
        }
        return typed(type.asText(), s, depth);
    }

    private String typed(String type, JsonNode s, int depth) {
        return switch (type) {
            case "string" -> string(s);
            case "integer" -> INTEGER;
            case "number" -> NUMBER;
            case "boolean" -> "(true|false)";
            case "null" -> "null";
            case "object" -> object(s, depth);
            case "array" -> array(s, depth);
            default -> throw refuse("unknown type '" + type + "'");
        };
    }

    private String string(JsonNode s) {
        int min = s.path("minLength").asInt(0);
        JsonNode max = s.get("maxLength");
        if (min == 0 && max == null) {
            return STRING;
        }
        return "\"" + STRING_CHAR + "{" + min + "," + (max == null ? "" : max.asInt()) + "}\"";
    }

    private String object(JsonNode s, int depth) {
        JsonNode props = s.get("properties");
        if (props == null || props.isEmpty()) {
            boolean closed = s.path("additionalProperties").isBoolean() && !s.get("additionalProperties").asBoolean();
            return closed ? "\\{\\}" : anyObject(ANY_DEPTH);
        }
        Set<String> required = new java.util.HashSet<>();
        s.path("required").forEach(r -> required.add(r.asText()));
        List<String> kv = new ArrayList<>();
        List<Boolean> req = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = props.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            kv.add(literal(json(JSON.getNodeFactory().textNode(e.getKey()))) + COLON + value(e.getValue(), depth + 1));
            req.add(required.contains(e.getKey()));
        }
        // NOTE: two forms per position: "first" (no property written yet, so no comma) and "after" (a comma
        // first). after(i) is linear; first(i) uses first(i+1) and after(i+1) once each: quadratic in all.
        int n = kv.size();
        String[] after = new String[n + 1];
        String[] first = new String[n + 1];
        after[n] = "";
        first[n] = "";
        for (int i = n - 1; i >= 0; i--) {
            after[i] = (req.get(i) ? COMMA + kv.get(i) : "(" + COMMA + kv.get(i) + ")?") + after[i + 1];
            first[i] = req.get(i) ? kv.get(i) + after[i + 1]
                    : "(" + kv.get(i) + after[i + 1] + (first[i + 1].isEmpty() ? ")?" : "|" + first[i + 1] + ")");
        }
        return "\\{" + first[0] + "\\}";
    }

    private String array(JsonNode s, int depth) {
        String item = s.has("items") ? value(s.get("items"), depth + 1) : any(ANY_DEPTH - 1);
        int min = s.path("minItems").asInt(0);
        JsonNode maxNode = s.get("maxItems");
        int max = maxNode == null ? -1 : maxNode.asInt();
        if (max == 0) {
            return "\\[\\]";
        }
        if (max >= 0 && max < min) {
            throw refuse("maxItems " + max + " is below minItems " + min);
        }
        String more = "(" + COMMA + item + ")" + repeat(Math.max(min - 1, 0), max < 0 ? -1 : max - 1);
        String items = item + more;
        return "\\[" + (min == 0 ? "(" + items + ")?" : items) + "\\]";
    }

    private static String repeat(int min, int max) {
        if (min == 0 && max < 0) {
            return "*";
        }
        return "{" + min + "," + (max < 0 ? "" : String.valueOf(max)) + "}";
    }

    /** Any JSON value nested at most {@code depth} containers deep. */
    static String any(int depth) {
        List<String> alts = new ArrayList<>(List.of(STRING, NUMBER, "true", "false", "null"));
        if (depth > 0) {
            alts.add(anyObject(depth));
            String v = any(depth - 1);
            alts.add("\\[(" + v + "(" + COMMA + v + ")*)?\\]");
        }
        return group(alts);
    }

    static String anyObject(int depth) {
        String v = any(depth - 1);
        String kv = STRING + COLON + v;
        return "\\{(" + kv + "(" + COMMA + kv + ")*)?\\}";
    }

    private static String group(List<String> alts) {
        return alts.size() == 1 ? alts.get(0) : "(" + String.join("|", alts) + ")";
    }

    private static String json(JsonNode v) {
        try {
            return JSON.writeValueAsString(v);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private RuntimeException refuse(String why) {
        return ServiceError.invalid(field, field + ": " + why).exception();
    }
}
