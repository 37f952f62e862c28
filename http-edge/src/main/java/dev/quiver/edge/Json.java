package dev.quiver.edge;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.quiver.edge.api.ServiceError;
import java.io.UncheckedIOException;

/** The edge's one JSON mapper: snake_case field names (OpenAI's), nulls written (OpenAI writes them too). */
public final class Json {
    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .serializationInclusion(JsonInclude.Include.ALWAYS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private Json() {
    }

    public static byte[] bytes(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static String string(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Parses a request body that must be one JSON object. */
    public static JsonNode parseObject(byte[] body) {
        JsonNode n;
        try {
            n = MAPPER.readTree(body);
        } catch (java.io.IOException e) {
            String msg = e instanceof JsonProcessingException jp ? jp.getOriginalMessage() : e.getMessage();
            throw ServiceError.invalid(null, "the request body is not valid JSON: " + msg).exception();
        }
        if (n == null || n.isMissingNode()) {
            throw ServiceError.invalid(null, "the request body is empty; expected a JSON object").exception();
        }
        if (!n.isObject()) {
            throw ServiceError.invalid(null, "the request body must be a JSON object, got " + n.getNodeType()
                    .name().toLowerCase(java.util.Locale.ROOT)).exception();
        }
        return n;
    }
}
