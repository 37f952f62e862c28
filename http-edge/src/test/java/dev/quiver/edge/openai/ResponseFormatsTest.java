package dev.quiver.edge.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.edge.api.ServiceException;
import dev.quiver.gpu.constraint.ConstraintSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The structured-output fields of a request: what they become, and the 400s that name what is wrong. */
class ResponseFormatsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final OpenAiRequest.Limits LIMITS = new OpenAiRequest.Limits(8, 8, 16);

    static JsonNode body(String json) throws Exception {
        return JSON.readTree(json);
    }

    static ServiceError refusal(String json) throws Exception {
        JsonNode b = body(json);
        return assertThrows(ServiceException.class, () -> ResponseFormats.parse(b)).error();
    }

    @Test
    void text_or_nothing_is_no_constraint() throws Exception {
        assertNull(ResponseFormats.parse(body("{\"model\":\"m\"}")));
        assertNull(ResponseFormats.parse(body("{\"response_format\":{\"type\":\"text\"}}")));
    }

    @Test
    void json_object_and_json_schema_become_their_specs() throws Exception {
        assertEquals(new ConstraintSpec(ConstraintSpec.Kind.JSON_OBJECT, ""),
                ResponseFormats.parse(body("{\"response_format\":{\"type\":\"json_object\"}}")));
        ConstraintSpec s = ResponseFormats.parse(body("{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
                + "{\"name\":\"p\",\"strict\":true,\"schema\":{\"type\":\"object\",\"properties\":{\"a\":"
                + "{\"type\":\"integer\"}}}}}}"));
        assertEquals(ConstraintSpec.Kind.JSON_SCHEMA, s.kind());
        assertEquals("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}", s.source());
    }

    @Test
    void vllm_guided_fields_become_their_specs() throws Exception {
        assertEquals(new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, "{\"type\":\"string\"}"),
                ResponseFormats.parse(body("{\"guided_json\":{\"type\":\"string\"}}")));
        assertEquals(new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, "{\"type\":\"null\"}"),
                ResponseFormats.parse(body("{\"guided_json\":\"{\\\"type\\\":\\\"null\\\"}\"}")));
        assertEquals(new ConstraintSpec(ConstraintSpec.Kind.REGEX, "\\d+"),
                ResponseFormats.parse(body("{\"guided_regex\":\"\\\\d+\"}")));
        assertEquals(new ConstraintSpec(ConstraintSpec.Kind.CHOICE, "[\"a\",\"b\"]"),
                ResponseFormats.parse(body("{\"guided_choice\":[\"a\",\"b\"]}")));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"string\",\"format\":\"date\"}}}}|response_format|'format'",
        "{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"number\",\"multipleOf\":2}}}}}}|response_format|'multipleOf'",
        "{\"guided_json\":{\"type\":\"object\",\"minProperties\":1}}|guided_json|'minProperties'",
        "{\"guided_regex\":\"(a)\\\\1\"}|guided_regex|backreference",
        "{\"guided_regex\":\"(?=a)a\"}|guided_regex|lookahead",
        "{\"response_format\":{\"type\":\"xml\"}}|response_format|xml",
        "{\"response_format\":{\"type\":\"json_schema\"}}|response_format|json_schema",
        "{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}}|response_format|schema",
        "{\"guided_choice\":[\"a\",1]}|guided_choice|non-empty strings",
        "{\"guided_choice\":[]}|guided_choice|non-empty array",
        "{\"guided_json\":\"{not json\"}|guided_json|not valid JSON",
        "{\"response_format\":{\"type\":\"json_object\"},\"guided_regex\":\"a\"}|guided_regex|at most one",
    })
    void refuses_unsupported_or_malformed_formats_naming_the_field_and_keyword(String json, String param,
                                                                               String named) throws Exception {
        ServiceError e = refusal(json);
        assertEquals(ServiceError.Kind.INVALID_REQUEST, e.kind());
        assertEquals(param, e.param());
        assertTrue(e.message().contains(named), e.message());
    }

    @Test
    void chat_and_completion_requests_carry_the_constraint_into_their_sampling_params() throws Exception {
        OpenAiRequest chat = OpenAiRequest.parseChat(body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"hi\"}],\"response_format\":{\"type\":\"json_object\"}}"), LIMITS);
        assertEquals(ConstraintSpec.Kind.JSON_OBJECT, chat.params(16, 0).constraint().kind());
        OpenAiRequest completion = OpenAiRequest.parseCompletion(body("{\"model\":\"m\",\"prompt\":\"x\","
                + "\"guided_choice\":[\"yes\",\"no\"]}"), LIMITS);
        assertEquals(ConstraintSpec.Kind.CHOICE, completion.params(16, 1).constraint().kind());
        assertNull(OpenAiRequest.parseCompletion(body("{\"model\":\"m\",\"prompt\":\"x\"}"), LIMITS)
                .params(16, 0).constraint());
    }
}
