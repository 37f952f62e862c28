package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import dev.quiver.node.it.SharedCassandra;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A node with {@code quiver.node.persistence = cassandra} on a real Cassandra (started by the persistence launcher)
 * keeps its adapters across a restart: register, publish v2, roll back, retire another, stop the node, start a new
 * node with an empty local adapter store on the same keyspaces, and find the same registry, the same audit trail,
 * and the recovered adapter serving (its files fetched back from the Cassandra blob store).
 */
@ExtendWith(SharedCassandra.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NodeRestartIT {
    private final List<QuiverNode> nodes = new ArrayList<>();
    private final Path adapters = TestNodes.model().resolve("adapters");

    @AfterAll
    void stopNodes() {
        nodes.forEach(QuiverNode::stop);
    }

    /** A new node on the class's keyspaces, with a local adapter store of its own (TestNodes makes a fresh one). */
    private Client startNode() {
        Config config = SharedCassandra.overlay("node_restart_it")
                .withFallback(TestNodes.config("quiver.node.persistence = cassandra")).resolve();
        QuiverNode node = QuiverNode.start(config);
        nodes.add(node);
        return new Client(node.baseUrl());
    }

    private static String greedy(Client client, String model) {
        Client.Reply r = complete(client, model);
        assertEquals(200, r.status(), r.body());
        return r.json().at("/choices/0/text").asText();
    }

    private static Client.Reply complete(Client client, String model) {
        return client.post("/v1/completions", USER_A, "{\"model\":\"" + model + "\",\"prompt\":\"Tell me\","
                + "\"max_tokens\":12,\"temperature\":0,\"ignore_eos\":true}");
    }

    /** The lifecycle decisions of a trail: without the placements and evictions that follow traffic. */
    private static List<String> decisions(List<String> types) {
        return types.stream().filter(t -> !t.endsWith("PlacedOn") && !t.endsWith("EvictedFrom")).toList();
    }

    private static List<String> eventTypes(Client client, String name) {
        Client.Reply r = client.get("/v1/adapters/" + name + "/events", ADMIN_A);
        assertEquals(200, r.status(), r.body());
        List<String> types = new ArrayList<>();
        for (JsonNode e : r.json().path("data")) {
            types.add(e.path("type").asText());
        }
        return types;
    }

    /** The event feed ({adapter}:{type}), polled until it has {@code expected} (tagged events lag the journal). */
    private static List<String> feedUntil(Client client, List<String> expected) throws InterruptedException {
        List<String> feed = List.of();
        for (int i = 0; i < 100 && !feed.equals(expected); i++) {
            if (i > 0) {
                Thread.sleep(100);
            }
            Client.Reply r = client.get("/v1/events?since=0", ADMIN_A);
            assertEquals(200, r.status(), r.body());
            List<String> out = new ArrayList<>();
            for (JsonNode e : r.json().path("data")) {
                out.add(e.path("adapter").asText() + ":" + e.path("type").asText());
            }
            feed = decisions(out);
        }
        return feed;
    }

    @Test
    void a_new_node_on_the_same_keyspace_recovers_versions_rollbacks_retirements_and_the_audit_trail()
            throws Exception {
        Client first = startNode();
        Client.Reply reg = first.post("/v1/adapters", ADMIN_A, "{\"name\":\"durable\",\"source\":\""
                + adapters.resolve("adapter-01").toUri() + "\"}");
        assertEquals(201, reg.status(), reg.body());
        String v1Text = greedy(first, "durable");
        assertEquals(201, first.post("/v1/adapters", ADMIN_A, "{\"name\":\"doomed\",\"source\":\""
                + adapters.resolve("adapter-02").toUri() + "\"}").status());

        byte[] tgz = Archives.tarGz(Archives.adapterFiles(adapters.resolve("adapter-03")), "v2/");
        Client.Reply v2 = first.post("/v1/adapters/durable/versions", ADMIN_A, "application/gzip", tgz);
        assertEquals(201, v2.status(), v2.body());
        assertEquals(2, v2.json().path("active_version").asInt());
        String v2Text = greedy(first, "durable");
        assertTrue(!v2Text.equals(v1Text), "v2 has other weights");

        Client.Reply rb = first.post("/v1/adapters/durable/rollback", ADMIN_A, "{}");
        assertEquals(200, rb.status(), rb.body());
        assertEquals(1, rb.json().path("active_version").asInt());
        assertEquals(v1Text, greedy(first, "durable"));

        assertEquals(200, first.delete("/v1/adapters/doomed", ADMIN_A).status());
        assertEquals(404, complete(first, "doomed").status());

        JsonNode before = first.get("/v1/adapters/durable", ADMIN_A).json();
        List<String> trail = List.of("Registered", "VersionPublished", "RolledBack");
        assertEquals(trail, decisions(eventTypes(first, "durable")));
        List<String> feed = List.of("durable:Registered", "doomed:Registered", "durable:VersionPublished",
                "durable:RolledBack", "doomed:Retired");
        assertEquals(feed, feedUntil(first, feed));

        nodes.remove(0).stop();

        Client second = startNode();
        JsonNode after = second.get("/v1/adapters/durable", ADMIN_A).json();
        assertEquals("active", after.path("status").asText());
        assertEquals(1, after.path("active_version").asInt());
        assertEquals(2, after.path("versions").size());
        for (int i = 0; i < 2; i++) {
            assertEquals(before.at("/versions/" + i + "/sha256").asText(), after.at("/versions/" + i + "/sha256")
                    .asText());
        }
        Client.Reply doomed = second.get("/v1/adapters/doomed", ADMIN_A);
        assertEquals(200, doomed.status(), doomed.body());
        assertEquals("retired", doomed.json().path("status").asText());
        assertEquals(404, complete(second, "doomed").status());

        assertEquals(v1Text, greedy(second, "durable"), "the recovered v1, fetched from the blob store, serves");
        assertEquals(trail, decisions(eventTypes(second, "durable")));
        // the first node's worker held v1; the new incarnation does not, and the journal says so
        List<String> lost = List.of();
        for (int i = 0; i < 100 && lost.isEmpty(); i++) {
            Thread.sleep(100);
            lost = new ArrayList<>();
            for (JsonNode e : second.get("/v1/adapters/durable/events", ADMIN_A).json().path("data")) {
                if (e.path("type").asText().equals("EvictedFrom")
                        && e.at("/detail/reason").asText().equals("node-lost")) {
                    lost.add(e.at("/detail/worker").asText());
                }
            }
        }
        assertEquals(List.of("local/worker-0"), lost);
        assertEquals(feed, feedUntil(second, feed));

        Client.Reply ready = second.get("/ready", null);
        assertEquals(200, ready.status(), ready.body());
        assertTrue(ready.json().at("/checks/cassandra/reachable").asBoolean(), ready.body());

        // the recovered entity goes on where it stopped: roll forward is a new version 3
        Client.Reply v3 = second.post("/v1/adapters/durable/versions", ADMIN_A, "{\"source\":\""
                + adapters.resolve("adapter-04").toUri() + "\"}");
        assertEquals(201, v3.status(), v3.body());
        assertEquals(3, v3.json().path("active_version").asInt());
    }
}
