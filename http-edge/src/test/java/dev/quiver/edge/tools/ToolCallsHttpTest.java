package dev.quiver.edge.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import dev.quiver.edge.EdgeServer;
import dev.quiver.edge.EdgeSettings;
import dev.quiver.edge.api.Role;
import dev.quiver.edge.auth.ApiKeys;
import dev.quiver.gpu.constraint.ConstraintSpec;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Tool calls over a real socket: the edge renders the request's tools with the model's template (one that prints
 * their names), and a model that answers with a Hermes call gets it back as {@code tool_calls}, whole and streamed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ToolCallsHttpTest {
    static final String KEY = "sk-tools-test";
    static final ObjectMapper JSON = new ObjectMapper();
    static final String CALL = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
            + "</tool_call>";
    static final String TOOLS = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
            + "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":"
            + "[\"city\"]}}},{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}]";

    ActorSystem<Void> system;
    EdgeServer server;
    ScriptedService service;
    HttpClient http = HttpClient.newHttpClient();
    String base;

    @BeforeAll
    void start() throws Exception {
        Path dir = Files.createTempDirectory("quiver-tools-http-");
        // the model calls get_weather only when the template showed it the tools
        service = new ScriptedService(dir, ScriptedService.TOOLS_TEMPLATE,
                prompt -> prompt.contains("TOOLS: get_weather get_time") ? "Let me look. " + CALL : "I see no tools.",
                3);
        system = ActorSystem.create(Behaviors.empty(), "tools-http-test", ConfigFactory.load());
        EdgeSettings settings = EdgeSettings.fromConfig(system.settings().config()).withPort(0)
                .withApiKeys(List.of(new ApiKeys.Entry("t", ApiKeys.sha256Hex(KEY), "t", Role.USER)));
        server = EdgeServer.start(system, settings, service, null).toCompletableFuture().get(30, TimeUnit.SECONDS);
        base = "http://127.0.0.1:" + server.address().getPort();
    }

    @AfterAll
    void stop() throws Exception {
        server.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
        system.terminate();
    }

    HttpResponse<String> post(String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                .header("Authorization", "Bearer " + KEY).header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static String chat(String extra) {
        return "{\"model\":\"scripted\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}]"
                + extra + "}";
    }

    @Test
    void tools_reach_the_template_and_a_call_in_the_reply_comes_back_as_tool_calls() throws Exception {
        HttpResponse<String> r = post(chat("," + TOOLS));
        assertEquals(200, r.statusCode(), r.body());
        String prompt = service.prompts.get(service.prompts.size() - 1);
        assertTrue(prompt.contains("TOOLS: get_weather get_time\nuser: Weather in Paris?\nassistant:"), prompt);
        JsonNode c = JSON.readTree(r.body()).path("choices").get(0);
        assertEquals("tool_calls", c.path("finish_reason").asText());
        assertEquals("Let me look.", c.at("/message/content").asText());
        JsonNode call = c.at("/message/tool_calls/0");
        assertTrue(call.path("id").asText().startsWith("call_"));
        assertEquals("function", call.path("type").asText());
        assertEquals("get_weather", call.at("/function/name").asText());
        assertEquals(JSON.readTree("{\"city\":\"Paris\"}"), JSON.readTree(call.at("/function/arguments").asText()));
    }

    @Test
    void a_streamed_call_arrives_as_openai_tool_call_deltas() throws Exception {
        HttpResponse<String> r = post(chat("," + TOOLS + ",\"stream\":true"));
        assertEquals(200, r.statusCode(), r.body());
        StringBuilder content = new StringBuilder();
        StringBuilder args = new StringBuilder();
        String name = null;
        String finish = null;
        for (String line : r.body().split("\n\n")) {
            if (line.equals("data: [DONE]")) {
                continue;
            }
            JsonNode c = JSON.readTree(line.substring("data: ".length())).path("choices").get(0);
            content.append(c.at("/delta/content").asText(""));
            JsonNode tc = c.at("/delta/tool_calls/0");
            if (!tc.isMissingNode()) {
                assertEquals(0, tc.path("index").asInt());
                if (tc.has("id")) {
                    name = tc.at("/function/name").asText();
                }
                args.append(tc.at("/function/arguments").asText());
            }
            if (!c.path("finish_reason").isNull()) {
                finish = c.path("finish_reason").asText();
            }
        }
        assertEquals("Let me look.", content.toString());
        assertEquals("get_weather", name);
        assertEquals(JSON.readTree("{\"city\":\"Paris\"}"), JSON.readTree(args.toString()));
        assertEquals("tool_calls", finish);
    }

    @Test
    void tool_choice_none_renders_no_tools_and_replies_with_content() throws Exception {
        HttpResponse<String> r = post(chat("," + TOOLS + ",\"tool_choice\":\"none\""));
        assertEquals(200, r.statusCode(), r.body());
        assertFalse(service.prompts.get(service.prompts.size() - 1).contains("TOOLS:"));
        JsonNode c = JSON.readTree(r.body()).path("choices").get(0);
        assertEquals("I see no tools.", c.at("/message/content").asText());
        assertEquals("stop", c.path("finish_reason").asText());
    }

    @Test
    void a_named_function_is_forced_by_a_constraint_that_admits_the_call() throws Exception {
        HttpResponse<String> r = post(chat("," + TOOLS + ",\"tool_choice\":{\"type\":\"function\",\"function\":"
                + "{\"name\":\"get_weather\"}},\"parallel_tool_calls\":false"));
        assertEquals(200, r.statusCode(), r.body());
        ConstraintSpec c = service.params.get(service.params.size() - 1).constraint();
        assertEquals(ConstraintSpec.Kind.REGEX, c.kind());
        assertTrue(Pattern.matches(c.source(), CALL), c.source());
        assertFalse(Pattern.matches(c.source(), CALL.replace("get_weather", "get_time")));
        post(chat("," + TOOLS));
        assertNull(service.params.get(service.params.size() - 1).constraint(), "auto forces nothing");
    }

    @Test
    void earlier_calls_and_tool_results_are_rendered_for_the_template() throws Exception {
        HttpResponse<String> r = post("{\"model\":\"scripted\"," + TOOLS + ",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"Weather?\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
                + "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
                + "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":"
                + "\"sunny\"}]}");
        assertEquals(200, r.statusCode(), r.body());
        String prompt = service.prompts.get(service.prompts.size() - 1);
        assertTrue(prompt.contains("[call get_weather Paris]"), prompt);
        assertTrue(prompt.contains("tool: sunny"), prompt);
    }

    @Test
    void bad_tool_fields_are_400s_in_the_openai_error_shape_naming_the_field() throws Exception {
        HttpResponse<String> r = post(chat(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"no spaces\"}}]"));
        assertEquals(400, r.statusCode());
        JsonNode e = JSON.readTree(r.body()).path("error");
        assertEquals("tools[0].function.name", e.path("param").asText());
        assertEquals("invalid_request_error", e.path("type").asText());
        HttpResponse<String> unknown = post(chat("," + TOOLS + ",\"tool_choice\":{\"type\":\"function\","
                + "\"function\":{\"name\":\"get_stock\"}}"));
        assertEquals(400, unknown.statusCode());
        assertEquals("tool_choice.function.name", JSON.readTree(unknown.body()).at("/error/param").asText());
        HttpResponse<String> unenforceable = post(chat(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
                + "\"f\",\"parameters\":{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"pattern\":"
                + "\"^a\"}}}}}],\"tool_choice\":\"required\""));
        assertEquals(400, unenforceable.statusCode());
        assertEquals("tools[0].function.parameters", JSON.readTree(unenforceable.body()).at("/error/param").asText());
    }

    @Test
    void chat_template_kwargs_reach_the_template_and_may_not_replace_the_requests_own_variables() throws Exception {
        HttpResponse<String> r = post(chat(",\"chat_template_kwargs\":{\"flavour\":\"mint\"}"));
        assertEquals(200, r.statusCode(), r.body());
        String prompt = service.prompts.get(service.prompts.size() - 1);
        assertTrue(prompt.endsWith("assistant:mint"), prompt);
        HttpResponse<String> reserved = post(chat(",\"chat_template_kwargs\":{\"messages\":[]}"));
        assertEquals(400, reserved.statusCode());
        assertEquals("chat_template_kwargs", JSON.readTree(reserved.body()).at("/error/param").asText());
        HttpResponse<String> notObject = post(chat(",\"chat_template_kwargs\":[1]"));
        assertEquals(400, notObject.statusCode());
    }

    @Test
    void no_field_is_silently_ignored_unsupported_ones_are_400s_and_unknown_ones_are_named_in_a_header()
            throws Exception {
        HttpResponse<String> fine = post(chat(",\"store\":false,\"metadata\":{\"k\":\"v\"},\"modalities\":[\"text\"],"
                + "\"use_beam_search\":false,\"add_generation_prompt\":true"));
        assertEquals(200, fine.statusCode(), fine.body());
        assertTrue(fine.headers().firstValue("x-quiver-ignored-fields").isEmpty(), fine.headers().map().toString());
        HttpResponse<String> odd = post(chat(",\"my_extra\":1,\"trace\":\"x\""));
        assertEquals(200, odd.statusCode(), odd.body());
        assertEquals("my_extra,trace", odd.headers().firstValue("x-quiver-ignored-fields").orElse(""));
        for (String[] c : new String[][] {
            {"\"functions\":[{\"name\":\"f\"}]", "functions", "tools"},
            {"\"reasoning_effort\":\"low\"", "reasoning_effort", "chat_template_kwargs"},
            {"\"min_p\":0.1", "min_p", "top_p"},
            {"\"use_beam_search\":true", "use_beam_search", "beam search"},
            {"\"modalities\":[\"text\",\"audio\"]", "modalities", "text"},
            {"\"echo\":true", "echo", "completions"},
            {"\"add_generation_prompt\":false", "add_generation_prompt", "generation prompt"}}) {
            HttpResponse<String> r = post(chat("," + c[0]));
            assertEquals(400, r.statusCode(), c[0]);
            JsonNode e = JSON.readTree(r.body()).path("error");
            assertEquals(c[1], e.path("param").asText(), r.body());
            assertTrue(e.path("message").asText().contains(c[2]), r.body());
        }
    }
}
