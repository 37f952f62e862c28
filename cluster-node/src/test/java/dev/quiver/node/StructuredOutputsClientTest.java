package dev.quiver.node;

import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.ResponseFormatJsonSchema;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionMessageToolCall;
import com.openai.models.chat.completions.ChatCompletionNamedToolChoice;
import com.openai.models.chat.completions.ChatCompletionTool;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Structured outputs and forced tool calls driven by the official {@code com.openai:openai-java} client over a real
 * socket, on the demo model. Its weights are random, so whatever parses and validates does so because the
 * constraint masked every token that could not continue a valid value.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StructuredOutputsClientTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Map<String, Object> PERSON = Map.of(
            "type", "object",
            "properties", Map.of(
                    "name", Map.of("type", "string", "maxLength", 12),
                    "age", Map.of("type", "integer"),
                    "tags", Map.of("type", "array", "items", Map.of("enum", List.of("red", "green")), "maxItems", 3)),
            "required", List.of("name", "age", "tags"),
            "additionalProperties", false);
    static final Map<String, Object> CITY = Map.of(
            "type", "object",
            "properties", Map.of("city", Map.of("type", "string", "maxLength", 10),
                    "unit", Map.of("enum", List.of("c", "f"))),
            "required", List.of("city", "unit"),
            "additionalProperties", false);

    QuiverNode node;
    OpenAIClient client;

    @BeforeAll
    void start() {
        node = TestNodes.startWithDemoAdapters("");
        client = OpenAIOkHttpClient.builder().baseUrl(node.baseUrl() + "/v1").apiKey(USER_A).build();
    }

    @AfterAll
    void stop() {
        client.close();
        node.stop();
    }

    static Schema schema(Map<String, Object> s) {
        return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12).getSchema(JSON.valueToTree(s));
    }

    static JsonNode parse(String text) {
        try {
            return JSON.readTree(text);
        } catch (java.io.IOException e) {
            throw new AssertionError("not JSON: " + text, e);
        }
    }

    @Test
    void json_schema_response_format_gives_content_that_parses_and_validates_for_every_seed_and_adapter() {
        ResponseFormatJsonSchema.JsonSchema.Schema.Builder sb = ResponseFormatJsonSchema.JsonSchema.Schema.builder();
        PERSON.forEach((k, v) -> sb.putAdditionalProperty(k, JsonValue.from(v)));
        ResponseFormatJsonSchema format = ResponseFormatJsonSchema.builder().jsonSchema(
                ResponseFormatJsonSchema.JsonSchema.builder().name("person").schema(sb.build()).strict(true).build())
                .build();
        Schema validator = schema(PERSON);
        for (String model : List.of("quiver-demo", "adapter-01", "adapter-03")) {
            for (long seed : new long[] {1, 2, 3}) {
                ChatCompletionCreateParams.Builder p = ChatCompletionCreateParams.builder().model(model)
                        .addUserMessage("Describe a person as JSON.").responseFormat(format).seed(seed)
                        .maxCompletionTokens(200);
                if (seed == 1) {
                    p.temperature(0.0);
                }
                ChatCompletion cc = client.chat().completions().create(p.build());
                ChatCompletion.Choice choice = cc.choices().get(0);
                String content = choice.message().content().orElseThrow();
                assertEquals(ChatCompletion.Choice.FinishReason.STOP, choice.finishReason(), model + "/" + seed
                        + ": " + content);
                JsonNode value = parse(content);
                assertTrue(validator.validate(value).isEmpty(), model + "/" + seed + ": " + content + " -> "
                        + validator.validate(value));
            }
        }
    }

    @Test
    void a_named_tool_choice_forces_one_call_to_that_tool_with_arguments_valid_for_its_parameters() {
        FunctionParameters.Builder params = FunctionParameters.builder();
        CITY.forEach((k, v) -> params.putAdditionalProperty(k, JsonValue.from(v)));
        ChatCompletionTool weather = ChatCompletionTool.builder().function(FunctionDefinition.builder()
                .name("get_weather").description("Weather in a city").parameters(params.build()).build()).build();
        ChatCompletionTool time = ChatCompletionTool.builder().function(FunctionDefinition.builder()
                .name("get_time").parameters(FunctionParameters.builder()
                        .putAdditionalProperty("type", JsonValue.from("object")).build()).build()).build();
        Schema validator = schema(CITY);
        for (long seed : new long[] {4, 5}) {
            ChatCompletion cc = client.chat().completions().create(ChatCompletionCreateParams.builder()
                    .model("adapter-02").addUserMessage("What is the weather in Oslo?").tools(List.of(weather, time))
                    .toolChoice(ChatCompletionToolChoiceOption.ofNamedToolChoice(ChatCompletionNamedToolChoice
                            .builder().function(ChatCompletionNamedToolChoice.Function.builder().name("get_weather")
                                    .build()).build()))
                    .parallelToolCalls(false).seed(seed).maxCompletionTokens(240).build());
            ChatCompletion.Choice choice = cc.choices().get(0);
            assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, choice.finishReason(),
                    "seed " + seed + ": " + choice.message());
            List<ChatCompletionMessageToolCall> calls = choice.message().toolCalls().orElseThrow();
            assertEquals(1, calls.size(), "parallel_tool_calls false: one call");
            for (ChatCompletionMessageToolCall call : calls) {
                assertEquals("get_weather", call.function().name());
                assertFalse(call.id().isEmpty());
                JsonNode args = parse(call.function().arguments());
                assertTrue(validator.validate(args).isEmpty(), call.function().arguments());
            }
        }
    }
}
