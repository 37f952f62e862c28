package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.ADMIN_B;
import static dev.quiver.node.TestNodes.USER_A;
import static dev.quiver.node.TestNodes.USER_B;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quiver.sources.TestHub;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Adapter resolvers end to end over HTTP, against the tests' own Hub: the first request for an unknown name under
 * {@code hf://my-org/} registers it (journaled by the resolver), validates and serves it; concurrent first requests
 * download once; a missing name is the ordinary 404 and is remembered; another tenant cannot reach through it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdapterResolverTest {
    TestHub hub;
    QuiverNode node;
    Client client;
    String chatWeightsSha;

    @BeforeAll
    void start() throws IOException {
        hub = new TestHub();
        Path adapters = TestNodes.model().resolve("adapters");
        hub.push("my-org/sql-lora", "main", HubSourcedNodeTest.read(adapters.resolve("adapter-01"),
                "adapter_config.json", "adapter_model.safetensors"));
        hub.push("my-org/chat-lora", "main", HubSourcedNodeTest.read(adapters.resolve("adapter-02"),
                "adapter_config.json", "adapter_model.safetensors"));
        hub.push("my-org/tenant-lora", "main", HubSourcedNodeTest.read(adapters.resolve("adapter-03"),
                "adapter_config.json", "adapter_model.safetensors"));
        chatWeightsSha = TestHub.sha256Hex(Files.readAllBytes(adapters.resolve("adapter-02")
                .resolve("adapter_model.safetensors")));
        Path cache = TestNodes.scratch().resolve("resolver-cache-" + System.nanoTime());
        node = QuiverNode.start(TestNodes.config(
                "quiver.node.adapter-resolvers = [ { prefix = \"hf://my-org/\", tenant = \"a\" } ]\n"
                        + "quiver.node.adapter-resolver-negative-ttl = 10m\n"
                        + "quiver.sources { cache-dir = \"" + cache + "\", hf.endpoint = \"" + hub.endpoint()
                        + "\", hf.token = \"\", offline = \"false\", progress = off }"));
        client = new Client(node.baseUrl());
    }

    @AfterAll
    void stop() {
        if (node != null) {
            node.stop();
        }
        hub.close();
    }

    Client.Reply complete(String key, String model) {
        return client.post("/v1/completions", key, "{\"model\":\"" + model + "\",\"prompt\":\"Hello\","
                + "\"max_tokens\":4,\"temperature\":0}");
    }

    long apiRequestsFor(String repo) {
        return hub.seen.stream().filter(s -> s.path().startsWith("/api/models/" + repo + "/")).count();
    }

    @Test
    void the_first_request_registers_validates_and_serves_it_and_the_audit_names_the_resolver() {
        Client.Reply r = complete(USER_A, "my-org/sql-lora");
        assertEquals(200, r.status(), r.body());
        assertEquals("my-org/sql-lora", r.json().path("model").asText());
        Client.Reply events = client.get("/v1/events?since=0", ADMIN_A);
        assertEquals(200, events.status(), events.body());
        List<JsonNode> registered = new ArrayList<>();
        for (JsonNode e : events.json().path("data")) {
            if (e.path("adapter").asText().equals("my-org/sql-lora") && e.path("type").asText().equals("Registered")) {
                registered.add(e);
            }
        }
        assertEquals(1, registered.size(), events.body());
        assertEquals("resolver:hf://my-org/", registered.get(0).path("actor").asText(), events.body());
        assertEquals(200, complete(USER_A, "my-org/sql-lora").status(), "served as a registered adapter after");
        assertEquals(1, apiRequestsFor("my-org/sql-lora"), "resolved once");
    }

    @Test
    void twenty_concurrent_first_requests_make_one_download() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(20);
        try {
            List<Future<Client.Reply>> replies = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                replies.add(pool.submit(() -> complete(USER_A, "my-org/chat-lora")));
            }
            for (Future<Client.Reply> f : replies) {
                Client.Reply r = f.get();
                assertEquals(200, r.status(), r.body());
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(1, hub.seen.stream().filter(s -> s.path().equals("/cdn/" + chatWeightsSha)).count(),
                "the weights were downloaded once");
        assertEquals(1, apiRequestsFor("my-org/chat-lora"));
    }

    @Test
    void a_missing_name_is_the_ordinary_404_and_is_not_fetched_again() {
        Client.Reply missing = complete(USER_A, "my-org/nothing-here");
        Client.Reply unknown = complete(USER_A, "nothing-here-at-all");
        assertEquals(404, missing.status(), missing.body());
        assertEquals(unknown.body().replace("nothing-here-at-all", "X"), missing.body().replace("my-org/nothing-here",
                "X"), "indistinguishable from any unknown model");
        assertEquals(404, complete(USER_A, "my-org/nothing-here").status());
        assertEquals(404, complete(USER_A, "my-org/nothing-here").status());
        assertEquals(1, apiRequestsFor("my-org/nothing-here"), "remembered as missing");
    }

    @Test
    void an_org_prefixed_name_is_managed_through_the_admin_paths_with_its_slash_url_encoded() throws IOException {
        Path adapters = TestNodes.model().resolve("adapters");
        hub.push("my-org/admin-lora", "main", HubSourcedNodeTest.read(adapters.resolve("adapter-04"),
                "adapter_config.json", "adapter_model.safetensors"));
        String v2 = hub.push("my-org/admin-lora", "v2", HubSourcedNodeTest.read(adapters.resolve("adapter-01"),
                "adapter_config.json", "adapter_model.safetensors"));
        assertEquals(200, complete(USER_A, "my-org/admin-lora").status());
        String path = "/v1/adapters/my-org%2Fadmin-lora";

        Client.Reply view = client.get(path, ADMIN_A);
        assertEquals(200, view.status(), view.body());
        assertEquals("my-org/admin-lora", view.json().path("name").asText());
        Client.Reply events = client.get(path + "/events", ADMIN_A);
        assertEquals(200, events.status(), events.body());
        assertEquals("Registered", events.json().at("/data/0/type").asText(), events.body());

        Client.Reply published = client.post(path + "/versions", ADMIN_A, "{\"source\":\"hf://my-org/admin-lora@v2\","
                + "\"activate\":false}");
        assertEquals(201, published.status(), published.body());
        assertTrue(published.body().contains(v2), "the version records the Hub commit: " + published.body());
        Client.Reply split = client.post(path + "/split", ADMIN_A, "{\"versions\":{\"1\":50,\"2\":50}}");
        assertEquals(200, split.status(), split.body());
        assertEquals(200, client.delete(path + "/split", ADMIN_A).status());
        Client.Reply fallback = client.post(path + "/fallback", ADMIN_A, "{\"fallback\":\"base\"}");
        assertEquals(200, fallback.status(), fallback.body());
        assertEquals("base", fallback.json().path("fallback").asText());
        Client.Reply rollback = client.post(path + "/rollback", ADMIN_A, "");
        assertEquals(409, rollback.status(), "v1 is active and has nothing before it: " + rollback.body());

        Client.Reply foreign = client.get(path, ADMIN_B);
        assertEquals(404, foreign.status(), "another tenant's admin sees no such adapter: " + foreign.body());
        Client.Reply retired = client.delete(path, ADMIN_A);
        assertEquals(200, retired.status(), retired.body());
        assertEquals("retired", client.get(path, ADMIN_A).json().path("status").asText());
    }

    @Test
    void another_tenant_cannot_reach_through_the_resolver_or_use_what_it_registered() {
        Client.Reply r = complete(USER_B, "my-org/tenant-lora");
        assertEquals(404, r.status(), r.body());
        assertEquals(0, apiRequestsFor("my-org/tenant-lora"), "tenant b's request never reaches the Hub");
        assertEquals(200, complete(USER_A, "my-org/tenant-lora").status());
        assertEquals(404, complete(USER_B, "my-org/tenant-lora").status(), "owned by tenant a, not shared");
    }
}
