package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The OpenAI-compatible endpoints over a real socket, as clients use them. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenAiApiTest {
    QuiverNode node;
    Client client;

    @BeforeAll
    void start() {
        node = TestNodes.startWithDemoAdapters("");
        client = new Client(node.baseUrl());
    }

    @AfterAll
    void stop() {
        node.stop();
    }

    Client.Reply complete(String json) {
        Client.Reply r = client.post("/v1/completions", USER_A, json);
        assertEquals(200, r.status(), r.body());
        return r;
    }

    @Test
    void completion_from_an_adapter_has_the_openai_shape() {
        JsonNode j = complete("{\"model\":\"adapter-01\",\"prompt\":\"Hello\",\"max_tokens\":8,\"seed\":1,"
                + "\"temperature\":0.8,\"user\":\"u1\"}").json();
        assertTrue(j.path("id").asText().startsWith("cmpl-"));
        assertEquals("text_completion", j.path("object").asText());
        assertTrue(j.path("created").asLong() > 1_600_000_000L);
        assertEquals("adapter-01", j.path("model").asText());
        JsonNode c = j.path("choices").get(0);
        assertEquals(0, c.path("index").asInt());
        assertTrue(c.path("text").isTextual());
        assertTrue(Set.of("stop", "length").contains(c.path("finish_reason").asText()));
        JsonNode u = j.path("usage");
        assertTrue(u.path("prompt_tokens").asInt() > 0);
        assertTrue(u.path("completion_tokens").asInt() >= 1 && u.path("completion_tokens").asInt() <= 8);
        assertEquals(u.path("prompt_tokens").asInt() + u.path("completion_tokens").asInt(),
                u.path("total_tokens").asInt());
    }

    @Test
    void same_seed_gives_the_same_text_and_adapters_change_the_output() {
        String req = "{\"model\":\"%s\",\"prompt\":\"The quick brown fox\",\"max_tokens\":12,\"seed\":7,"
                + "\"temperature\":0}";
        String a = complete(req.formatted("adapter-02")).json().at("/choices/0/text").asText();
        String b = complete(req.formatted("adapter-02")).json().at("/choices/0/text").asText();
        String base = complete(req.formatted("quiver-demo")).json().at("/choices/0/text").asText();
        assertEquals(a, b);
        assertFalse(a.equals(base) && a.equals(complete(req.formatted("adapter-04")).json().at("/choices/0/text")
                .asText()), "adapters should change greedy output of a random model");
    }

    @Test
    void prompt_may_be_a_list_of_strings_token_ids_or_lists_of_token_ids_with_n_choices() {
        JsonNode j = complete("{\"model\":\"adapter-01\",\"prompt\":[\"Hello\",\"World\"],\"n\":2,\"max_tokens\":4,"
                + "\"seed\":3,\"ignore_this_field\":1}").json();
        assertEquals(4, j.path("choices").size());
        for (int i = 0; i < 4; i++) {
            assertEquals(i, j.path("choices").get(i).path("index").asInt());
        }
        JsonNode ids = complete("{\"model\":\"quiver-demo\",\"prompt\":[1,2,3,4],\"max_tokens\":3,\"seed\":1}").json();
        assertEquals(4, ids.at("/usage/prompt_tokens").asInt());
        JsonNode lists = complete("{\"model\":\"quiver-demo\",\"prompt\":[[1,2,3],[4,5]],\"max_tokens\":3}").json();
        assertEquals(2, lists.path("choices").size());
        assertEquals(5, lists.at("/usage/prompt_tokens").asInt());
    }

    @Test
    void echo_prefixes_the_prompt_and_logprobs_list_every_token() {
        JsonNode e = complete("{\"model\":\"adapter-01\",\"prompt\":\"Echo me\",\"echo\":true,\"max_tokens\":3,"
                + "\"seed\":1}").json();
        assertTrue(e.at("/choices/0/text").asText().startsWith("Echo me"));
        JsonNode lp = complete("{\"model\":\"adapter-01\",\"prompt\":\"Hi\",\"logprobs\":2,\"max_tokens\":4,"
                + "\"seed\":1,\"stop\":[\"zzzz\"]}").json();
        JsonNode l = lp.at("/choices/0/logprobs");
        int n = lp.at("/usage/completion_tokens").asInt();
        assertEquals(n, l.path("tokens").size());
        assertEquals(n, l.path("token_logprobs").size());
        assertEquals(n, l.path("text_offset").size());
        for (JsonNode v : l.path("token_logprobs")) {
            assertTrue(v.asDouble() <= 0.0);
        }
        for (JsonNode top : l.path("top_logprobs")) {
            assertTrue(top.size() >= 1 && top.size() <= 2, top.toString());
        }
    }

    @Test
    void streamed_completion_chunks_reassemble_to_the_non_streamed_result_for_the_same_seed() {
        String body = "{\"model\":\"adapter-03\",\"prompt\":[\"Once upon\",\"a time\"],\"n\":2,\"max_tokens\":20,"
                + "\"seed\":11,\"temperature\":0.9%s}";
        JsonNode whole = complete(body.formatted("")).json();
        List<String> events = client.stream("/v1/completions", USER_A,
                body.formatted(",\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
        assertEquals("[DONE]", events.get(events.size() - 1));
        Map<Integer, StringBuilder> text = new HashMap<>();
        Map<Integer, String> finish = new HashMap<>();
        JsonNode usage = null;
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode j = parse(e);
            assertEquals("text_completion", j.path("object").asText());
            assertEquals(whole.path("model").asText(), j.path("model").asText());
            if (j.path("choices").isEmpty()) {
                usage = j.path("usage");
                continue;
            }
            assertTrue(j.has("usage") && j.path("usage").isNull(), "include_usage puts usage: null on chunks");
            JsonNode c = j.path("choices").get(0);
            text.computeIfAbsent(c.path("index").asInt(), k -> new StringBuilder()).append(c.path("text").asText());
            if (!c.path("finish_reason").isNull()) {
                finish.put(c.path("index").asInt(), c.path("finish_reason").asText());
            }
        }
        assertEquals(4, whole.path("choices").size());
        for (JsonNode c : whole.path("choices")) {
            int i = c.path("index").asInt();
            assertEquals(c.path("text").asText(), text.get(i).toString(), "choice " + i);
            assertEquals(c.path("finish_reason").asText(), finish.get(i), "choice " + i);
        }
        assertNotNull(usage, "include_usage adds a final usage chunk");
        assertEquals(whole.path("usage"), usage);
    }

    @Test
    void chat_completion_uses_the_models_template_and_streams_deltas_that_reassemble() {
        String body = "{\"model\":\"adapter-01\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi!\"}]}],\"max_tokens\":16,"
                + "\"seed\":5%s}";
        JsonNode whole = client.post("/v1/chat/completions", USER_A, body.formatted("")).json();
        assertEquals("chat.completion", whole.path("object").asText(), whole.toString());
        assertTrue(whole.path("id").asText().startsWith("chatcmpl-"));
        assertEquals("assistant", whole.at("/choices/0/message/role").asText());
        // the Llama-3 template of the demo model: BOS + two framed messages + assistant header
        assertTrue(whole.at("/usage/prompt_tokens").asInt() > 10);
        List<String> events = client.stream("/v1/chat/completions", USER_A, body.formatted(",\"stream\":true"));
        assertEquals("[DONE]", events.get(events.size() - 1));
        StringBuilder sb = new StringBuilder();
        String finish = null;
        boolean sawRole = false;
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode j = parse(e);
            assertEquals("chat.completion.chunk", j.path("object").asText());
            JsonNode c = j.path("choices").get(0);
            sawRole |= c.at("/delta/role").asText().equals("assistant");
            sb.append(c.at("/delta/content").asText(""));
            if (!c.path("finish_reason").isNull()) {
                finish = c.path("finish_reason").asText();
            }
        }
        assertTrue(sawRole);
        assertEquals(whole.at("/choices/0/message/content").asText(), sb.toString());
        assertEquals(whole.at("/choices/0/finish_reason").asText(), finish);
    }

    @Test
    void chat_logprobs_have_the_content_list_shape() {
        JsonNode j = client.post("/v1/chat/completions", USER_A, "{\"model\":\"quiver-demo\",\"messages\":[{\"role\":"
                + "\"user\",\"content\":\"Hi\"}],\"max_tokens\":3,\"logprobs\":true,\"top_logprobs\":2}").json();
        JsonNode content = j.at("/choices/0/logprobs/content");
        assertEquals(j.at("/usage/completion_tokens").asInt(), content.size(), j.toString());
        assertTrue(content.get(0).path("token").isTextual());
        assertTrue(content.get(0).path("bytes").isArray());
        assertEquals(2, content.get(0).path("top_logprobs").size());
    }

    @Test
    void models_lists_the_base_model_and_the_visible_adapters() {
        JsonNode j = client.get("/v1/models", USER_A).json();
        assertEquals("list", j.path("object").asText());
        List<String> ids = new ArrayList<>();
        for (JsonNode m : j.path("data")) {
            assertEquals("model", m.path("object").asText());
            assertTrue(m.path("owned_by").isTextual());
            ids.add(m.path("id").asText());
        }
        assertEquals(List.of("quiver-demo", "adapter-01", "adapter-02", "adapter-03", "adapter-04"), ids);
    }

    @Test
    void health_ready_and_metrics_answer() throws Exception {
        Client.Reply h = client.get("/health", null);
        assertEquals(200, h.status());
        assertEquals("ok", h.json().path("status").asText());
        Client.Reply r = client.get("/ready", null);
        assertEquals(200, r.status(), r.body());
        assertEquals("ready", r.json().path("status").asText());
        assertTrue(r.json().at("/checks/cassandra").asText().startsWith("not configured"));
        assertTrue(r.json().at("/checks/workers/0/ready").asBoolean());
        complete("{\"model\":\"adapter-01\",\"prompt\":\"metrics\",\"max_tokens\":2}");
        String text = "";
        for (int i = 0; i < 50 && !(text.contains("quiver_http_requests_total")
                && text.contains("quiver_engine_kv_usage") && text.contains("quiver_worker_adapters")); i++) {
            Thread.sleep(100);
            text = client.get("/metrics", null).body();
        }
        assertTrue(text.contains("quiver_http_requests_total{"), text);
        assertTrue(text.contains("quiver_time_to_first_token_seconds"), text);
        assertTrue(text.contains("quiver_engine_kv_usage"), text);
        assertTrue(text.contains("quiver_adapter_cache_"), text);
        assertTrue(text.contains("quiver_routing_decisions_total{"), text);
        assertTrue(text.contains("quiver_worker_adapters{worker=\"local/worker-0\"}"), text);
        // every series carries all its labels: none registered on the way with only some of them
        assertAllLabels(text, "quiver_http_requests_total", "endpoint", "model", "status");
        assertAllLabels(text, "quiver_request_latency_seconds_count", "endpoint", "model");
        assertAllLabels(text, "quiver_version_requests_total", "adapter", "version", "outcome");
        assertAllLabels(text, "quiver_version_tokens_out_total", "adapter", "version");
        assertAllLabels(text, "quiver_adapter_cache_hits_total", "worker", "tier");
    }

    static void assertAllLabels(String metricsText, String series, String... labels) {
        List<String> lines = metricsText.lines().filter(l -> l.startsWith(series + "{") || l.startsWith(series + " "))
                .toList();
        assertFalse(lines.isEmpty(), series + " is exported");
        for (String line : lines) {
            for (String label : labels) {
                assertTrue(line.contains(label + "=\""), series + " without its label " + label + ": " + line);
            }
        }
    }

    @Test
    void the_official_openai_java_client_talks_to_quiver() {
        OpenAIClient oa = OpenAIOkHttpClient.builder().baseUrl(node.baseUrl() + "/v1").apiKey(ADMIN_A).build();
        try {
            Completion c = oa.completions().create(CompletionCreateParams.builder().model("adapter-02")
                    .prompt("Hello").maxTokens(6).seed(1).build());
            assertEquals(1, c.choices().size());
            assertNotNull(c.choices().get(0).text());
            ChatCompletion cc = oa.chat().completions().create(ChatCompletionCreateParams.builder()
                    .model("adapter-01").addUserMessage("Hi").maxCompletionTokens(6).seed(2).build());
            assertTrue(cc.choices().get(0).message().content().isPresent());
            Set<String> models = oa.models().list().data().stream().map(Model::id).collect(Collectors.toSet());
            assertTrue(models.contains("adapter-03"), models.toString());
            StringBuilder streamed = new StringBuilder();
            try (var s = oa.chat().completions().createStreaming(ChatCompletionCreateParams.builder()
                    .model("adapter-01").addUserMessage("Hi").maxCompletionTokens(6).seed(2).build())) {
                s.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.delta().content()
                        .ifPresent(streamed::append)));
            }
            assertEquals(cc.choices().get(0).message().content().get(), streamed.toString());
        } finally {
            oa.close();
        }
    }

    static JsonNode parse(String s) {
        try {
            return Client.JSON.readTree(s);
        } catch (java.io.IOException e) {
            throw new AssertionError(s, e);
        }
    }
}
