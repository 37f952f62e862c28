package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.ADMIN_B;
import static dev.quiver.node.TestNodes.USER_A;
import static dev.quiver.node.TestNodes.USER_B;
import static dev.quiver.node.TestNodes.USER_LIMITED;
import static dev.quiver.node.TestNodes.USER_METERED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** Tenants see only their own and shared adapters (others are 404, not 403); per-tenant limits answer 429. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TenancyAndLimitsTest {
    QuiverNode node;
    Client client;

    @BeforeAll
    void start() {
        node = TestNodes.startWithDemoAdapters("");
        client = new Client(node.baseUrl());
        String src = TestNodes.model().resolve("adapters/adapter-02").toUri().toString();
        Client.Reply r = client.post("/v1/adapters", ADMIN_A, "{\"name\":\"a-private\",\"source\":\"" + src + "\"}");
        assertEquals(201, r.status(), r.body());
    }

    @AfterAll
    void stop() {
        node.stop();
    }

    @Test
    void another_tenants_adapter_is_not_found_everywhere() {
        String req = "{\"model\":\"a-private\",\"prompt\":\"Hi\",\"max_tokens\":2}";
        assertEquals(200, client.post("/v1/completions", USER_A, req).status());
        Client.Reply gen = client.post("/v1/completions", USER_B, req);
        Client.Reply none = client.post("/v1/completions", USER_B, req.replace("a-private", "never-existed"));
        assertEquals(404, gen.status(), gen.body());
        assertEquals("model_not_found", gen.error().path("code").asText());
        // the same answer as for a name that does not exist: no existence leak
        assertEquals(none.error().path("message").asText().replace("never-existed", "a-private"),
                gen.error().path("message").asText());
        assertEquals(404, client.get("/v1/adapters/a-private", ADMIN_B).status());
        assertEquals(404, client.get("/v1/adapters/a-private/events", ADMIN_B).status());
        assertEquals(404, client.delete("/v1/adapters/a-private", ADMIN_B).status());
        assertEquals(404, client.post("/v1/adapters/a-private/rollback", ADMIN_B, "{}").status());
        assertFalse(client.get("/v1/models", USER_B).body().contains("a-private"));
        assertTrue(client.get("/v1/models", USER_A).body().contains("a-private"));
        assertFalse(client.get("/v1/events", ADMIN_B).body().contains("a-private"));
        // shared adapters are visible to every tenant
        assertEquals(200, client.post("/v1/completions", USER_B, req.replace("a-private", "adapter-01")).status());
    }

    @Test
    void concurrent_requests_over_the_tenants_limit_get_429_with_retry_after() throws Exception {
        // tenant "limited": one request in flight. Hold one (8 x 480 tokens), wait until the engine runs it, then
        // try another.
        CompletableFuture<List<String>> first = CompletableFuture.supplyAsync(() -> client.stream("/v1/completions",
                USER_LIMITED, "{\"model\":\"adapter-01\",\"prompt\":\"Hi\",\"max_tokens\":480,\"n\":8,"
                        + "\"ignore_eos\":true,\"stream\":true,\"seed\":1}"));
        for (int i = 0; i < 5000 && node.worker().status().toCompletableFuture().get().running() == 0; i++) {
            Thread.sleep(1);
        }
        Client.Reply second = client.post("/v1/completions", USER_LIMITED, "{\"model\":\"adapter-01\",\"prompt\":"
                + "\"Hi\",\"max_tokens\":1}");
        first.get();
        assertNotNull(second);
        assertEquals(429, second.status(), second.body());
        assertEquals("rate_limit_error", second.error().path("type").asText());
        assertNotNull(second.retryAfter(), "429 carries Retry-After");
        assertTrue(second.error().path("message").asText().contains("in flight"));
    }

    @Test
    void tokens_per_minute_over_the_budget_get_429_with_the_wait_in_retry_after() throws Exception {
        // 200 tokens per minute: the budget goes after a few requests of 1 prompt + 60 tokens
        List<Client.Reply> replies = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Client.Reply r = client.post("/v1/completions", USER_METERED, "{\"model\":\"adapter-01\",\"prompt\":[1],"
                    + "\"max_tokens\":60,\"seed\":" + i + ",\"ignore_eos\":true}");
            replies.add(r);
            if (r.status() == 429) {
                break;
            }
        }
        Client.Reply last = replies.get(replies.size() - 1);
        assertEquals(429, last.status(), last.body());
        JsonNode e = last.error();
        assertTrue(e.path("message").asText().contains("tokens per minute"), e.toString());
        assertTrue(Integer.parseInt(last.retryAfter()) >= 1);
        // other tenants are not affected
        assertEquals(200, client.post("/v1/completions", USER_A, "{\"model\":\"adapter-01\",\"prompt\":\"Hi\","
                + "\"max_tokens\":2}").status());
    }
}
