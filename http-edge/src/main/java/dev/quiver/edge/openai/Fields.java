package dev.quiver.edge.openai;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quiver.edge.api.ServiceError;
import java.util.Locale;

/** Typed reads of request fields; a wrong type is a 400 naming the field. Absent and JSON null read as null. */
final class Fields {
    private Fields() {
    }

    static JsonNode get(JsonNode o, String f) {
        JsonNode n = o.get(f);
        return n == null || n.isNull() ? null : n;
    }

    static String requiredString(JsonNode o, String f) {
        JsonNode n = get(o, f);
        if (n == null) {
            throw bad(f, "'" + f + "' is required");
        }
        if (!n.isTextual()) {
            throw bad(f, "'" + f + "' must be a string, got " + type(n));
        }
        return n.asText();
    }

    static String optString(JsonNode o, String f) {
        JsonNode n = get(o, f);
        if (n == null) {
            return null;
        }
        if (!n.isTextual()) {
            throw bad(f, "'" + f + "' must be a string, got " + type(n));
        }
        return n.asText();
    }

    static Integer optInt(JsonNode o, String f) {
        JsonNode n = get(o, f);
        if (n == null) {
            return null;
        }
        if (!n.isNumber() || !(n.isIntegralNumber() || n.asDouble() == Math.rint(n.asDouble()))) {
            throw bad(f, "'" + f + "' must be an integer, got " + (n.isNumber() ? n.asText() : type(n)));
        }
        if (!n.canConvertToInt() && !(n.isFloatingPointNumber() && Math.abs(n.asDouble()) < Integer.MAX_VALUE)) {
            throw bad(f, "'" + f + "' is out of range: " + n.asText());
        }
        return n.intValue();
    }

    static Long optLong(JsonNode o, String f) {
        JsonNode n = get(o, f);
        if (n == null) {
            return null;
        }
        if (!n.isIntegralNumber()) {
            throw bad(f, "'" + f + "' must be an integer, got " + (n.isNumber() ? n.asText() : type(n)));
        }
        if (!n.canConvertToLong()) {
            throw bad(f, "'" + f + "' is out of range: " + n.asText());
        }
        return n.longValue();
    }

    static Double optNumber(JsonNode o, String f) {
        JsonNode n = get(o, f);
        if (n == null) {
            return null;
        }
        if (!n.isNumber()) {
            throw bad(f, "'" + f + "' must be a number, got " + type(n));
        }
        return n.asDouble();
    }

    static boolean optBool(JsonNode o, String f, boolean dflt) {
        JsonNode n = get(o, f);
        if (n == null) {
            return dflt;
        }
        if (!n.isBoolean()) {
            throw bad(f, "'" + f + "' must be a boolean, got " + type(n));
        }
        return n.asBoolean();
    }

    static String type(JsonNode n) {
        return switch (n.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            default -> n.getNodeType().name().toLowerCase(Locale.ROOT);
        };
    }

    static RuntimeException bad(String param, String message) {
        return ServiceError.invalid(param, message).exception();
    }
}
