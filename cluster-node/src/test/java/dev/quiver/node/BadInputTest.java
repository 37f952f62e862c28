package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every bad input gets the right status and OpenAI's error shape {@code {"error": {"message", "type", "param",
 * "code"}}}, naming the offending field where there is one.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputTest {
    static final String C = "/v1/completions";
    static final String CHAT = "/v1/chat/completions";
    static final String OK = "\"model\":\"adapter-01\",\"prompt\":\"Hi\"";
    static final String OK_CHAT = "\"model\":\"adapter-01\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]";

    QuiverNode node;
    Client client;

    /** One row: what is sent and what must come back (param null = the error names no field). */
    record Case(String name, String method, String path, String key, String contentType, String body, int status,
                String param, String messagePart) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Case c(String name, String path, String body, int status, String param, String messagePart) {
        return new Case(name, "POST", path, USER_A, "application/json", body, status, param, messagePart);
    }

    static Stream<Case> cases() {
        String big = "x".repeat(70 * 1024);
        List<Case> l = new ArrayList<>(List.of(
                c("malformed JSON", C, "{\"model\": \"adapter-01\",", 400, null, "not valid JSON"),
                c("trailing garbage", C, "{" + OK + "} x", 400, null, "not valid JSON"),
                c("body is an array", C, "[1,2]", 400, null, "must be a JSON object"),
                c("empty body", C, "", 400, null, "empty"),
                c("model missing", C, "{\"prompt\":\"Hi\"}", 400, "model", "required"),
                c("model not a string", C, "{\"model\":5,\"prompt\":\"Hi\"}", 400, "model", "must be a string"),
                c("prompt missing", C, "{\"model\":\"adapter-01\"}", 400, "prompt", "required"),
                c("prompt an object", C, "{\"model\":\"adapter-01\",\"prompt\":{}}", 400, "prompt", "got an object"),
                c("prompt empty array", C, "{\"model\":\"adapter-01\",\"prompt\":[]}", 400, "prompt", "empty"),
                c("prompt mixed types", C, "{\"model\":\"adapter-01\",\"prompt\":[\"a\",1]}", 400, "prompt", "mixes"),
                c("prompt token id not an integer", C, "{\"model\":\"adapter-01\",\"prompt\":[1,2.5]}", 400, "prompt",
                        "integers"),
                c("prompt token id outside vocabulary", C, "{\"model\":\"adapter-01\",\"prompt\":[1,99999]}", 400,
                        "prompt", "outside the vocabulary"),
                c("max_tokens a string", C, "{" + OK + ",\"max_tokens\":\"ten\"}", 400, "max_tokens", "integer"),
                c("max_tokens zero", C, "{" + OK + ",\"max_tokens\":0}", 400, "max_tokens", ">= 1"),
                c("max_tokens fractional", C, "{" + OK + ",\"max_tokens\":1.5}", 400, "max_tokens", "integer"),
                c("temperature too high", C, "{" + OK + ",\"temperature\":2.5}", 400, "temperature", "[0, 2]"),
                c("temperature negative", C, "{" + OK + ",\"temperature\":-0.1}", 400, "temperature", "[0, 2]"),
                c("temperature a string", C, "{" + OK + ",\"temperature\":\"hot\"}", 400, "temperature", "number"),
                c("top_p zero", C, "{" + OK + ",\"top_p\":0}", 400, "top_p", "(0, 1]"),
                c("top_p above one", C, "{" + OK + ",\"top_p\":1.5}", 400, "top_p", "(0, 1]"),
                c("top_k below -1", C, "{" + OK + ",\"top_k\":-5}", 400, "top_k", ">= 1"),
                c("seed a float", C, "{" + OK + ",\"seed\":1.5}", 400, "seed", "integer"),
                c("n zero", C, "{" + OK + ",\"n\":0}", 400, "n", "[1, 8]"),
                c("n too large", C, "{" + OK + ",\"n\":100}", 400, "n", "[1, 8]"),
                c("too many stop strings", C, "{" + OK + ",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", 400, "stop",
                        "at most 4"),
                c("empty stop string", C, "{" + OK + ",\"stop\":\"\"}", 400, "stop", "empty"),
                c("stop a number", C, "{" + OK + ",\"stop\":7}", 400, "stop", "string"),
                c("logprobs out of range", C, "{" + OK + ",\"logprobs\":50}", 400, "logprobs", "[0, 20]"),
                c("echo not a boolean", C, "{" + OK + ",\"echo\":\"yes\"}", 400, "echo", "boolean"),
                c("stream not a boolean", C, "{" + OK + ",\"stream\":1}", 400, "stream", "boolean"),
                c("stream_options without stream", C, "{" + OK + ",\"stream_options\":{\"include_usage\":true}}",
                        400, "stream_options", "only allowed"),
                c("frequency_penalty out of range", C, "{" + OK + ",\"frequency_penalty\":2.5}", 400,
                        "frequency_penalty", "[-2, 2]"),
                c("presence_penalty not a number", CHAT, "{" + OK_CHAT + ",\"presence_penalty\":\"high\"}", 400,
                        "presence_penalty", "number"),
                c("repetition_penalty zero", C, "{" + OK + ",\"repetition_penalty\":0}", 400, "repetition_penalty",
                        "(0, 2]"),
                c("logit_bias key not a token id", C, "{" + OK + ",\"logit_bias\":{\"abc\":1}}", 400, "logit_bias",
                        "token ids"),
                c("logit_bias value out of range", C, "{" + OK + ",\"logit_bias\":{\"5\":101}}", 400, "logit_bias",
                        "[-100, 100]"),
                c("logit_bias an array", CHAT, "{" + OK_CHAT + ",\"logit_bias\":[1]}", 400, "logit_bias", "object"),
                c("logit_bias id outside the vocabulary", C, "{" + OK + ",\"logit_bias\":{\"99999\":1}}", 400,
                        "logit_bias", "outside the vocabulary"),
                c("min_tokens above max_tokens", C, "{" + OK + ",\"max_tokens\":4,\"min_tokens\":5}", 400,
                        "min_tokens", "max_tokens"),
                c("min_tokens negative", C, "{" + OK + ",\"min_tokens\":-1}", 400, "min_tokens", ">= 0"),
                c("stop_token_ids not ids", C, "{" + OK + ",\"stop_token_ids\":[\"x\"]}", 400, "stop_token_ids",
                        "token ids"),
                c("stop_token_id outside the vocabulary", C, "{" + OK + ",\"stop_token_ids\":[99999]}", 400,
                        "stop_token_ids", "outside the vocabulary"),
                c("skip_special_tokens not a boolean", C, "{" + OK + ",\"skip_special_tokens\":1}", 400,
                        "skip_special_tokens", "boolean"),
                c("best_of below n", C, "{" + OK + ",\"n\":3,\"best_of\":2}", 400, "best_of", "[n = 3"),
                c("best_of with stream", C, "{" + OK + ",\"best_of\":2,\"stream\":true}", 400, "best_of",
                        "streamed"),
                c("best_of on chat", CHAT, "{" + OK_CHAT + ",\"best_of\":2}", 400, "best_of", "completions"),
                c("tokenize without prompt or messages", "/tokenize", "{\"model\":\"adapter-01\"}", 400, "prompt",
                        "either"),
                c("tokenize an unknown model", "/tokenize", "{\"model\":\"nope\",\"prompt\":\"Hi\"}", 404, "model",
                        "does not exist"),
                c("tokenize add_generation_prompt not a boolean", "/tokenize", "{" + OK_CHAT
                        + ",\"add_generation_prompt\":\"no\"}", 400, "add_generation_prompt", "must be a boolean"),
                c("detokenize tokens not ids", "/detokenize", "{\"model\":\"adapter-01\",\"tokens\":[1,\"a\"]}",
                        400, "tokens", "token ids"),
                c("detokenize tokens missing", "/v1/detokenize", "{\"model\":\"adapter-01\"}", 400, "tokens",
                        "required"),
                c("prompt + max_tokens over context", C, "{" + OK + ",\"max_tokens\":600}", 400, "max_tokens",
                        "maximum context length"),
                c("prompt alone over context", C, "{\"model\":\"adapter-01\",\"prompt\":[" + "1,".repeat(600)
                        + "1]}", 400, "prompt", "maximum context length"),
                c("unknown model", C, "{\"model\":\"no-such-adapter\",\"prompt\":\"Hi\"}", 404, "model",
                        "does not exist"),
                c("body too large", C, "{" + OK + ",\"user\":\"" + big + "\"}", 413, null, "larger than the limit"),
                c("chat messages missing", CHAT, "{\"model\":\"adapter-01\"}", 400, "messages", "required"),
                c("chat messages empty", CHAT, "{\"model\":\"adapter-01\",\"messages\":[]}", 400, "messages", "empty"),
                c("chat role unknown", CHAT, "{\"model\":\"adapter-01\",\"messages\":[{\"role\":\"wizard\","
                        + "\"content\":\"Hi\"}]}", 400, "messages[0].role", "wizard"),
                c("chat content wrong type", CHAT, "{\"model\":\"adapter-01\",\"messages\":[{\"role\":\"user\","
                        + "\"content\":42}]}", 400, "messages[0].content", "string"),
                c("chat image part unsupported", CHAT, "{\"model\":\"adapter-01\",\"messages\":[{\"role\":\"user\","
                        + "\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]}", 400,
                        "messages[0].content", "not supported"),
                c("chat top_logprobs without logprobs", CHAT, "{" + OK_CHAT + ",\"top_logprobs\":2}", 400,
                        "top_logprobs", "needs logprobs"),
                c("chat max_tokens over context", CHAT, "{" + OK_CHAT + ",\"max_tokens\":100000}", 400, "max_tokens",
                        "maximum context length"),
                new Case("missing API key", "POST", C, null, "application/json", "{" + OK + "}", 401, null,
                        "missing API key"),
                new Case("invalid API key", "POST", C, "sk-wrong", "application/json", "{" + OK + "}", 401, null,
                        "invalid API key"),
                new Case("user key on the admin API", "GET", "/v1/adapters", USER_A, null, null, 403, null,
                        "admin key"),
                new Case("wrong method", "GET", C, USER_A, null, null, 405, null, "method not allowed"),
                new Case("unknown route", "GET", "/v1/nothing-here", USER_A, null, null, 404, null, "no route"),
                new Case("register with an unsupported content type", "POST", "/v1/adapters", ADMIN_A, "text/plain",
                        "hello", 400, "Content-Type", "unsupported Content-Type"),
                new Case("register outside the allowed roots", "POST", "/v1/adapters", ADMIN_A, "application/json",
                        "{\"name\":\"evil\",\"source\":\"file:///etc\"}", 400, "source", "not under an allowed"),
                new Case("register an http source", "POST", "/v1/adapters", ADMIN_A, "application/json",
                        "{\"name\":\"remote\",\"source\":\"https://example.com/a.tar\"}", 400, "source",
                        "only file://"),
                new Case("register a bad name", "POST", "/v1/adapters", ADMIN_A, "application/json",
                        "{\"name\":\"../x\",\"source\":\"file:///tmp\"}", 400, "name", "must match"),
                new Case("register a non-tar upload", "POST", "/v1/adapters?name=junk", ADMIN_A, "application/x-tar",
                        "this is not a tar archive", 422, null, "cannot be read"),
                new Case("events since not a number", "GET", "/v1/events?since=abc", ADMIN_A, null, null, 400,
                        "since", "sequence number"),
                new Case("preload a negative replica count", "POST", "/v1/adapters/adapter-01/preload", ADMIN_A,
                        "application/json", "{\"replicas\":-1}", 400, "replicas", "[0, 64]"),
                new Case("preload replicas not an integer", "POST", "/v1/adapters/adapter-01/preload", ADMIN_A,
                        "application/json", "{\"replicas\":\"two\"}", 400, "replicas", "integer"),
                new Case("preload an unknown adapter", "POST", "/v1/adapters/nope/preload", ADMIN_A,
                        "application/json", "{\"replicas\":1}", 404, null, "does not exist")));
        return l.stream();
    }

    @BeforeAll
    void start() {
        node = TestNodes.startWithDemoAdapters("");
        client = new Client(node.baseUrl());
    }

    @AfterAll
    void stop() {
        node.stop();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void bad_input_gets_its_status_and_an_openai_error(Case k) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(node.baseUrl() + k.path()));
        if (k.key() != null) {
            b.header("Authorization", "Bearer " + k.key());
        }
        if (k.body() != null) {
            b.header("Content-Type", k.contentType());
            b.method(k.method(), HttpRequest.BodyPublishers.ofString(k.body(), StandardCharsets.UTF_8));
        } else {
            b.method(k.method(), HttpRequest.BodyPublishers.noBody());
        }
        Client.Reply r = client.send(b.build());
        assertEquals(k.status(), r.status(), r.body());
        assertTrue(r.contentType().startsWith("application/json"), r.contentType());
        JsonNode e = r.error();
        assertTrue(e.isObject(), r.body());
        for (String f : List.of("message", "type", "param", "code")) {
            assertTrue(e.has(f), "error has " + f + ": " + r.body());
        }
        assertTrue(e.path("type").isTextual());
        if (k.param() == null) {
            assertTrue(e.path("param").isNull(), r.body());
        } else {
            assertEquals(k.param(), e.path("param").asText(), r.body());
        }
        assertTrue(e.path("message").asText().contains(k.messagePart()), r.body());
    }
}
