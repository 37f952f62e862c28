package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.USER_A;
import static dev.quiver.node.TestNodes.USER_B;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quiver.edge.openai.ChatTemplates;
import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.backend.cpu.CpuBackend;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Issue 14's sampling fields over a real socket: penalties, {@code logit_bias} and {@code stop_token_ids} reach the
 * engine, {@code echo} with {@code logprobs} returns the prompt's teacher-forced logprobs, {@code best_of} returns
 * the best candidates, and vLLM's {@code /tokenize} and {@code /detokenize} agree with what generation encodes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SamplingFieldsApiTest {
    QuiverNode node;
    Client client;
    Tokenizer tok;

    @BeforeAll
    void start() {
        node = TestNodes.startWithDemoAdapters("");
        client = new Client(node.baseUrl());
        tok = node.model().tokenizer();
        String src = TestNodes.model().resolve("adapters/adapter-02").toUri().toString();
        Client.Reply r = client.post("/v1/adapters", ADMIN_A, "{\"name\":\"a-private\",\"source\":\"" + src + "\"}");
        assertEquals(201, r.status(), r.body());
    }

    @AfterAll
    void stop() {
        node.stop();
    }

    JsonNode post(String path, String json) {
        Client.Reply r = client.post(path, USER_A, json);
        assertEquals(200, r.status(), r.body());
        return r.json();
    }

    static int[] ints(JsonNode arr) {
        return StreamSupport.stream(arr.spliterator(), false).mapToInt(JsonNode::asInt).toArray();
    }

    @Test
    void tokenize_a_prompt_gives_the_ids_completions_send() {
        String prompt = "The quick brown fox";
        JsonNode t = post("/tokenize", "{\"model\":\"adapter-01\",\"prompt\":\"" + prompt + "\"}");
        int[] ids = ints(t.path("tokens"));
        assertArrayEquals(tok.encode(prompt, tok.addsBosByDefault()), ids);
        assertEquals(ids.length, t.path("count").asInt());
        assertEquals(node.model().maxModelLen(), t.path("max_model_len").asInt());
        JsonNode gen = post("/v1/completions", "{\"model\":\"adapter-01\",\"prompt\":\"" + prompt
                + "\",\"max_tokens\":1}");
        assertEquals(ids.length, gen.at("/usage/prompt_tokens").asInt());
        JsonNode v1 = post("/v1/tokenize", "{\"model\":\"adapter-01\",\"prompt\":\"" + prompt
                + "\",\"add_special_tokens\":false}");
        assertArrayEquals(tok.encode(prompt, false), ints(v1.path("tokens")));
    }

    @Test
    void tokenize_messages_gives_the_rendered_and_encoded_chat_prompt() {
        String messages = "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi\"}]";
        JsonNode t = post("/tokenize", "{\"model\":\"adapter-01\",\"messages\":" + messages + "}");
        ChatTemplates templates = new ChatTemplates(tok);
        String text = templates.render(List.of(Map.of("role", "system", "content", "Be brief."),
                Map.of("role", "user", "content", "Hi")));
        boolean hasBos = !templates.bosToken().isEmpty() && text.startsWith(templates.bosToken());
        assertArrayEquals(tok.encode(text, !hasBos && tok.addsBosByDefault()), ints(t.path("tokens")));
        JsonNode chat = post("/v1/chat/completions", "{\"model\":\"adapter-01\",\"messages\":" + messages
                + ",\"max_tokens\":1}");
        assertEquals(t.path("count").asInt(), chat.at("/usage/prompt_tokens").asInt());
    }

    @Test
    void detokenize_round_trips_tokenize() {
        String prompt = "Héllo, wörld — 42";
        JsonNode t = post("/tokenize", "{\"model\":\"quiver-demo\",\"prompt\":\"" + prompt
                + "\",\"add_special_tokens\":false}");
        JsonNode d = post("/detokenize", "{\"model\":\"quiver-demo\",\"tokens\":" + t.path("tokens") + "}");
        assertEquals(prompt, d.path("prompt").asText());
    }

    @Test
    void tokenize_refuses_another_tenants_model_like_completions_do() {
        String body = "{\"model\":\"a-private\",\"prompt\":\"Hi\"}";
        assertEquals(200, client.post("/tokenize", USER_A, body).status());
        Client.Reply other = client.post("/tokenize", USER_B, body);
        Client.Reply gen = client.post("/v1/completions", USER_B, body);
        assertEquals(404, other.status(), other.body());
        assertEquals(gen.body(), other.body(), "the same 404 as completions");
        assertEquals(404, client.post("/detokenize", USER_B, "{\"model\":\"a-private\",\"tokens\":[1]}").status());
        assertEquals(401, client.post("/tokenize", null, body).status());
    }

    @Test
    void echo_with_logprobs_returns_the_prompts_teacher_forced_logprobs_first() {
        int[] prompt = tok.encode("Once upon a time there was", tok.addsBosByDefault());
        JsonNode j = post("/v1/completions", "{\"model\":\"adapter-01\",\"prompt\":" + java.util.Arrays
                .toString(prompt) + ",\"echo\":true,\"logprobs\":2,\"max_tokens\":3,\"temperature\":0}");
        JsonNode lp = j.at("/choices/0/logprobs");
        int generated = j.at("/usage/completion_tokens").asInt();
        assertEquals(prompt.length + generated, lp.path("tokens").size());
        assertEquals(prompt.length + generated, lp.path("text_offset").size());
        assertTrue(lp.path("token_logprobs").get(0).isNull(), "the first prompt token has no logprob");
        assertTrue(lp.path("top_logprobs").get(0).isNull());
        assertEquals(0, lp.path("text_offset").get(0).asInt());

        float[] logits = fullForward(prompt, "adapter-01");
        int vocab = logits.length / prompt.length;
        for (int i = 1; i < prompt.length; i++) {
            int row = i - 1;
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, logits[row * vocab + v]);
            }
            double z = 0;
            for (int v = 0; v < vocab; v++) {
                z += Math.exp(logits[row * vocab + v] - max);
            }
            double expected = logits[row * vocab + prompt[i]] - max - Math.log(z);
            assertEquals(expected, lp.path("token_logprobs").get(i).asDouble(), 1e-3, "prompt position " + i);
            assertEquals(tok.decode(new int[] {prompt[i]}, false), lp.path("tokens").get(i).asText());
            assertTrue(lp.path("top_logprobs").get(i).size() >= 1);
        }
    }

    @Test
    void a_streamed_echo_with_logprobs_reassembles_to_the_whole_response() throws Exception {
        String body = "{\"model\":\"adapter-01\",\"prompt\":\"Echo this\",\"echo\":true,\"logprobs\":1,"
                + "\"max_tokens\":4,\"temperature\":0%s}";
        JsonNode whole = post("/v1/completions", body.formatted(""));
        List<String> events = client.stream("/v1/completions", USER_A, body.formatted(",\"stream\":true"));
        StringBuilder text = new StringBuilder();
        List<JsonNode> logprobs = new ArrayList<>();
        for (String e : events) {
            if (e.equals("[DONE]")) {
                continue;
            }
            JsonNode ch = Client.JSON.readTree(e).path("choices").get(0);
            text.append(ch.path("text").asText());
            ch.at("/logprobs/token_logprobs").forEach(logprobs::add);
        }
        assertEquals(whole.at("/choices/0/text").asText(), text.toString());
        List<JsonNode> expected = new ArrayList<>();
        whole.at("/choices/0/logprobs/token_logprobs").forEach(expected::add);
        assertEquals(expected, logprobs, "prompt logprobs first, then the generated ones");
        assertTrue(logprobs.get(0).isNull());
    }

    /** Logits of every position of {@code tokens}, one forward pass on a backend of its own. */
    static float[] fullForward(int[] tokens, String adapter) {
        Path model = TestNodes.model();
        ModelWeights w = ModelWeights.load(model);
        try (CpuBackend b = new CpuBackend(w, new CpuBackend.Settings(1, 16, 16, 1))) {
            b.loadSlot(0, AdapterLoader.load(model.resolve("adapters").resolve(adapter), adapter, w.config, 64));
            int n = tokens.length;
            int[] pos = new int[n];
            int[] slot = new int[n];
            int[] seq = new int[n];
            for (int i = 0; i < n; i++) {
                pos[i] = i;
            }
            int[] table = new int[(n + 15) / 16];
            for (int i = 0; i < table.length; i++) {
                table[i] = i;
            }
            float[] logits = new float[n * w.config.vocabSize()];
            b.forward(new ForwardBatch(tokens, pos, slot, seq, new int[][] {table}, pos.clone()), logits);
            return logits;
        }
    }

    @Test
    void best_of_returns_the_candidate_with_the_highest_cumulative_logprob_and_counts_every_candidate() {
        String common = "\"model\":\"adapter-02\",\"prompt\":\"In a hole\",\"max_tokens\":6,\"temperature\":1,"
                + "\"seed\":11,\"ignore_eos\":true";
        JsonNode all = post("/v1/completions", "{" + common + ",\"n\":3,\"logprobs\":0}");
        double best = Double.NEGATIVE_INFINITY;
        String bestText = null;
        for (JsonNode c : all.path("choices")) {
            double sum = 0;
            for (JsonNode v : c.at("/logprobs/token_logprobs")) {
                sum += v.asDouble();
            }
            if (sum > best) {
                best = sum;
                bestText = c.path("text").asText();
            }
        }
        JsonNode one = post("/v1/completions", "{" + common + ",\"best_of\":3}");
        assertEquals(1, one.path("choices").size());
        assertEquals(0, one.at("/choices/0/index").asInt());
        assertEquals(bestText, one.at("/choices/0/text").asText());
        assertTrue(one.at("/choices/0/logprobs").isNull(), "logprobs only when asked for");
        assertEquals(18, one.at("/usage/completion_tokens").asInt(), "usage counts every candidate");
    }

    @Test
    void logit_bias_and_penalties_reach_the_engine() {
        int favourite = tok.encode("e", false)[0];
        JsonNode biased = post("/v1/completions", "{\"model\":\"adapter-01\",\"prompt\":\"Hi\",\"max_tokens\":4,"
                + "\"temperature\":0,\"logit_bias\":{\"" + favourite + "\":100}}");
        assertEquals(tok.decode(new int[] {favourite, favourite, favourite, favourite}, false),
                biased.at("/choices/0/text").asText());
        // a tiny random model repeats itself under greedy decoding; the penalties break that
        String plain = "{\"model\":\"adapter-03\",\"prompt\":\"The\",\"max_tokens\":12,\"temperature\":0,"
                + "\"ignore_eos\":true%s}";
        String a = post("/v1/completions", plain.formatted("")).at("/choices/0/text").asText();
        String b = post("/v1/completions", plain.formatted(",\"frequency_penalty\":2,\"presence_penalty\":2,"
                + "\"repetition_penalty\":1.5")).at("/choices/0/text").asText();
        assertNotEquals(a, b, "penalties changed the greedy text");
    }

    @Test
    void stop_token_ids_end_a_completion_with_finish_reason_stop_once_min_tokens_allow_it() {
        int favourite = tok.encode("e", false)[0];
        String body = "{\"model\":\"adapter-01\",\"prompt\":\"Hi\",\"max_tokens\":8,\"temperature\":0,"
                + "\"ignore_eos\":true,\"logprobs\":0,\"logit_bias\":{\"" + favourite + "\":100}%s}";
        JsonNode free = post("/v1/completions", body.formatted(""));
        assertEquals("length", free.at("/choices/0/finish_reason").asText());
        JsonNode stopped = post("/v1/completions", body.formatted(",\"stop_token_ids\":[" + favourite
                + "],\"min_tokens\":2"));
        JsonNode c = stopped.path("choices").get(0);
        assertEquals("stop", c.path("finish_reason").asText(), "the favoured id came third and stopped it");
        assertEquals(3, stopped.at("/usage/completion_tokens").asInt());
        assertEquals(2, c.at("/logprobs/tokens").size(), "the stop id itself is not in the output");
        String e = tok.decode(new int[] {favourite}, false);
        c.at("/logprobs/tokens").forEach(t -> assertNotEquals(e, t.asText(), "min_tokens masked the stop id"));
    }
}
