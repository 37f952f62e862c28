package dev.quiver.edge.openai;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quiver.gpu.constraint.ConstraintException;
import dev.quiver.gpu.constraint.ConstraintSpec;
import dev.quiver.gpu.constraint.Constraints;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the structured-output fields of a completion or chat request into the {@link ConstraintSpec} the engine
 * decodes under: OpenAI's {@code response_format} ({@code text}, {@code json_object}, {@code json_schema}) and
 * vLLM's {@code guided_json}, {@code guided_regex} and {@code guided_choice}. At most one of them may ask for a
 * constraint. The spec is compiled here once, so that an unsupported schema keyword or regex construct is a 400
 * naming it (param: the field it came from) before anything is queued; the worker compiles it again for itself.
 */
public final class ResponseFormats {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> FIELDS = List.of("response_format", "guided_json", "guided_regex",
            "guided_choice");

    // NOTE: a large schema takes milliseconds to compile; clients tend to send the same few over and over, so
    // the verdicts of recent specs are kept (bounded, least recently used out).
    private static final int VALIDATED_CAPACITY = 256;
    private static final Map<ConstraintSpec, String> VALIDATED = Collections.synchronizedMap(
            new LinkedHashMap<>(64, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<ConstraintSpec, String> e) {
                    return size() > VALIDATED_CAPACITY;
                }
            });

    private ResponseFormats() {
    }

    /**
     * The constraint {@code body} asks for, validated, or null for none.
     *
     * @throws dev.quiver.edge.api.ServiceException a 400 naming the field when a field is malformed, more than
     *                                              one asks for a constraint, or the constraint does not compile
     */
    public static ConstraintSpec parse(JsonNode body) {
        List<String> present = new ArrayList<>();
        ConstraintSpec spec = null;
        String from = null;
        for (String f : FIELDS) {
            JsonNode n = Fields.get(body, f);
            if (n == null) {
                continue;
            }
            ConstraintSpec s = read(f, n);
            if (s != null) {
                present.add(f);
                spec = s;
                from = f;
            }
        }
        if (present.size() > 1) {
            throw Fields.bad(present.get(1), "at most one of response_format, guided_json, guided_regex and "
                    + "guided_choice may be given, got " + String.join(" and ", present));
        }
        if (spec == null) {
            return null;
        }
        String problem = VALIDATED.get(spec);
        if (problem == null) {
            problem = compileProblem(spec); // outside the map's lock: compiling may take a while
            VALIDATED.put(spec, problem);
        }
        if (!problem.isEmpty()) {
            throw Fields.bad(from, from + ": " + problem);
        }
        return spec;
    }

    /** Why {@code spec} does not compile, or "" when it does. */
    private static String compileProblem(ConstraintSpec spec) {
        try {
            Constraints.compile(spec);
            return "";
        } catch (ConstraintException e) {
            return e.getMessage();
        }
    }

    private static ConstraintSpec read(String field, JsonNode n) {
        return switch (field) {
            case "response_format" -> responseFormat(n);
            case "guided_json" -> {
                if (n.isObject() || n.isBoolean()) {
                    yield new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, n.toString());
                }
                if (!n.isTextual()) {
                    throw Fields.bad(field, "'guided_json' must be a JSON schema (an object or a string), got "
                            + Fields.type(n));
                }
                try {
                    JsonNode parsed = JSON.readTree(n.asText());
                    if (parsed == null || !parsed.isObject()) {
                        throw Fields.bad(field, "'guided_json' must hold a JSON schema object");
                    }
                } catch (JsonProcessingException e) {
                    throw Fields.bad(field, "'guided_json' is not valid JSON: " + e.getOriginalMessage());
                }
                yield new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, n.asText());
            }
            case "guided_regex" -> {
                if (!n.isTextual() || n.asText().isEmpty()) {
                    throw Fields.bad(field, "'guided_regex' must be a non-empty string");
                }
                yield new ConstraintSpec(ConstraintSpec.Kind.REGEX, n.asText());
            }
            default -> {
                if (!n.isArray() || n.isEmpty()) {
                    throw Fields.bad(field, "'guided_choice' must be a non-empty array of strings");
                }
                for (JsonNode c : n) {
                    if (!c.isTextual() || c.asText().isEmpty()) {
                        throw Fields.bad(field, "'guided_choice' must hold only non-empty strings, got " + c);
                    }
                }
                yield new ConstraintSpec(ConstraintSpec.Kind.CHOICE, n.toString());
            }
        };
    }

    private static ConstraintSpec responseFormat(JsonNode n) {
        if (!n.isObject()) {
            throw Fields.bad("response_format", "'response_format' must be an object, got " + Fields.type(n));
        }
        String type = Fields.requiredString(n, "type");
        switch (type) {
            case "text":
                return null;
            case "json_object":
                return new ConstraintSpec(ConstraintSpec.Kind.JSON_OBJECT, "");
            case "json_schema":
                JsonNode js = Fields.get(n, "json_schema");
                if (js == null || !js.isObject()) {
                    throw Fields.bad("response_format", "response_format.json_schema must be an object with "
                            + "'name' and 'schema'");
                }
                JsonNode name = Fields.get(js, "name");
                if (name != null && !name.isTextual()) {
                    throw Fields.bad("response_format", "response_format.json_schema.name must be a string");
                }
                JsonNode strict = Fields.get(js, "strict");
                if (strict != null && !strict.isBoolean()) {
                    throw Fields.bad("response_format", "response_format.json_schema.strict must be a boolean");
                }
                JsonNode schema = Fields.get(js, "schema");
                if (schema == null || !schema.isObject()) {
                    throw Fields.bad("response_format", "response_format.json_schema.schema must be a JSON schema "
                            + "object");
                }
                return new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, schema.toString());
            default:
                throw Fields.bad("response_format", "response_format.type must be text, json_object or json_schema, "
                        + "got '" + type + "'");
        }
    }
}
