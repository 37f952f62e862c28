package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quiver.node.ops.NodeHealth;
import dev.quiver.persistence.lifecycle.AdapterLifecycle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A node whose journal is down: lifecycle writes answer a retriable 503 at once (never an ask timeout), serving goes
 * on, placements decided meanwhile are journaled once the journal is back (marked as retried in the audit trail),
 * and a journal write that fails before the probe noticed is answered at once too. The journal here is the in-memory
 * test journal; the outage is what the node's journal probe would report (its own probe is slowed to an hour so the
 * test decides), and failed writes come from the persistence test kit. The real outage (Cassandra killed) is
 * multi-jvm-tests' CassandraOutageIT.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JournalOutageTest {
    static final String OUTAGE = "{reachable=false, error=All 1 node(s) tried for the query failed (test)}";
    /** Well under the registry's 15 s ask timeout: the answer must not come from a timeout. */
    static final long PROMPT_MS = 3_000;

    QuiverNode node;
    Client client;
    NodeHealth health;
    PersistenceTestKit journal;
    Path adapters;

    @BeforeAll
    void start() {
        node = TestNodes.startWithDemoAdapters("quiver.node.management.journal-probe-interval = 1h");
        client = new Client(node.baseUrl());
        health = NodeHealth.get(node.system());
        journal = PersistenceTestKit.create(node.system());
        adapters = TestNodes.model().resolve("adapters");
    }

    @AfterAll
    void stop() {
        node.stop();
    }

    @AfterEach
    void journalBack() {
        health.journalProbed(null);
        journal.resetPolicy();
    }

    Client.Reply register(String name, String adapterDir) {
        return client.post("/v1/adapters", ADMIN_A, "{\"name\":\"" + name + "\",\"source\":\""
                + adapters.resolve(adapterDir).toUri() + "\"}");
    }

    Client.Reply complete(String model) {
        return client.post("/v1/completions", USER_A, "{\"model\":\"" + model + "\",\"prompt\":\"Tell me\","
                + "\"max_tokens\":4,\"temperature\":0,\"ignore_eos\":true}");
    }

    /** Asserts a prompt retriable 503 in OpenAI's shape that names the journal. */
    static void assertJournalDown(Client.Reply r, long tookMs, String what) {
        assertEquals(503, r.status(), what + ": " + r.body());
        assertTrue(tookMs < PROMPT_MS, what + " took " + tookMs + " ms");
        assertEquals("5", r.retryAfter(), what + ": Retry-After");
        assertEquals("service_unavailable", r.error().path("type").asText(), what);
        assertTrue(r.error().path("message").asText().contains("the journal (Cassandra) is unreachable"),
                what + ": " + r.body());
        assertFalse(r.body().contains("Ask timed out"), what + ": " + r.body());
    }

    List<JsonNode> events(String name) {
        Client.Reply r = client.get("/v1/adapters/" + name + "/events", ADMIN_A);
        assertEquals(200, r.status(), r.body());
        List<JsonNode> out = new ArrayList<>();
        r.json().path("data").forEach(out::add);
        return out;
    }

    @Test
    void refuses_every_lifecycle_write_at_once_with_503_and_retry_after_naming_the_journal_while_it_is_down() {
        assertEquals(201, register("out-writes", "adapter-01").status());
        health.journalProbed(OUTAGE);

        long t0 = System.nanoTime();
        Client.Reply r = register("out-new", "adapter-02");
        assertJournalDown(r, (System.nanoTime() - t0) / 1_000_000, "register");
        record Write(String what, String path, String body) {
        }
        for (Write w : List.of(
                new Write("publish", "/v1/adapters/out-writes/versions",
                        "{\"source\":\"" + adapters.resolve("adapter-03").toUri() + "\"}"),
                new Write("rollback", "/v1/adapters/out-writes/rollback", "{}"),
                new Write("preload", "/v1/adapters/out-writes/preload", "{\"replicas\":1}"),
                new Write("split", "/v1/adapters/out-writes/split", "{\"versions\":{\"1\":100}}"),
                new Write("load_lora_adapter", "/v1/load_lora_adapter", "{\"lora_name\":\"out-vllm\","
                        + "\"lora_path\":\"" + adapters.resolve("adapter-04") + "\"}"))) {
            long s = System.nanoTime();
            Client.Reply x = client.post(w.path(), ADMIN_A, w.body());
            assertJournalDown(x, (System.nanoTime() - s) / 1_000_000, w.what());
        }
        long s = System.nanoTime();
        assertJournalDown(client.delete("/v1/adapters/out-writes", ADMIN_A), (System.nanoTime() - s) / 1_000_000,
                "retire");

        // nothing was changed, and once the journal answers again the same writes go through
        assertEquals(List.of("Registered"), events("out-writes").stream().map(e -> e.path("type").asText()).toList());
        health.journalProbed(null);
        assertEquals(201, register("out-new", "adapter-02").status());
        assertEquals(200, client.delete("/v1/adapters/out-writes", ADMIN_A).status());
    }

    @Test
    void serves_and_places_adapters_while_the_journal_is_down_and_journals_the_placements_after_it_marked_retried()
            throws InterruptedException {
        assertEquals(201, register("out-place", "adapter-02").status());
        health.journalProbed(OUTAGE);
        for (int i = 0; i < 3; i++) {
            Client.Reply r = complete("out-place");
            assertEquals(200, r.status(), "served while the journal is down: " + r.body());
        }
        Thread.sleep(1_500);  // a few maintenance rounds (1 s): the placement is deferred, not journaled
        assertFalse(events("out-place").stream().anyMatch(e -> e.path("type").asText().equals("PlacedOn")),
                "nothing is journaled while the journal is down");

        health.journalProbed(null);
        JsonNode placed = null;
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (placed == null && System.nanoTime() < deadline) {
            placed = events("out-place").stream().filter(e -> e.path("type").asText().equals("PlacedOn"))
                    .findFirst().orElse(null);
            Thread.sleep(100);
        }
        assertTrue(placed != null, "the placement is journaled once the journal is back: " + events("out-place"));
        assertTrue(placed.path("actor").asText().endsWith("(retried after a journal outage)"), placed.toString());
        assertEquals(200, complete("out-place").status());
    }

    @Test
    void serves_an_adapter_whose_entity_cannot_recover_during_the_outage_without_waiting_the_full_route_timeout() {
        assertEquals(201, register("out-stuck", "adapter-03").status());
        String pid = AdapterLifecycle.persistenceId("out-stuck").id();
        // the entity's next write fails, and every recovery after it too (the test kit holds one policy at a time;
        // the restart comes after a backoff of at least 1 s): it keeps restarting and cannot answer
        journal.failNextPersisted(pid);
        assertEquals(503, client.post("/v1/adapters/out-stuck/preload", ADMIN_A, "{\"replicas\":1}").status());
        journal.failNextNReads(pid, 10_000);
        health.journalProbed(OUTAGE);

        long t0 = System.nanoTime();
        Client.Reply r = complete("out-stuck");
        long took = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(200, r.status(), r.body());
        // routed from this node's view after the outage's short entity timeout, not the 3 s route timeout
        assertTrue(took < 2_500, "served after " + took + " ms");
    }

    @Test
    void answers_a_write_whose_journal_write_fails_at_once_and_takes_writes_again_after_the_entity_restarts()
            throws InterruptedException {
        assertEquals(201, register("out-fail", "adapter-01").status());
        journal.failNextPersisted(AdapterLifecycle.persistenceId("out-fail").id());

        long t0 = System.nanoTime();
        Client.Reply r = client.post("/v1/adapters/out-fail/versions", ADMIN_A,
                "{\"source\":\"" + adapters.resolve("adapter-03").toUri() + "\"}");
        long took = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(503, r.status(), r.body());
        assertTrue(took < PROMPT_MS, "answered in " + took + " ms");
        assertTrue(r.retryAfter() != null && Integer.parseInt(r.retryAfter()) > 0, r.body());
        assertTrue(r.error().path("message").asText().contains("the journal (Cassandra) is unreachable"), r.body());

        // the entity restarts with backoff (1 s) and recovers from the journal: the write goes through then
        Client.Reply again = null;
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (System.nanoTime() < deadline) {
            again = client.post("/v1/adapters/out-fail/versions", ADMIN_A,
                    "{\"source\":\"" + adapters.resolve("adapter-03").toUri() + "\"}");
            if (again.status() == 201) {
                break;
            }
            Thread.sleep(250);
        }
        assertEquals(201, again.status(), again.body());
        assertEquals(2, again.json().path("active_version").asInt());
    }
}
