package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import dev.quiver.edge.api.AdapterEvent;
import dev.quiver.edge.api.AdapterView;
import dev.quiver.node.it.SharedCassandra;
import dev.quiver.node.it.TestCluster;
import dev.quiver.node.rollout.SplitChooser;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Traffic splits on a 3-node cluster in one JVM over the shared test Cassandra: a split, its promote and its abort
 * are in every node's catalog when the admin call returns and every node routes by them; the events are in the
 * audit trail in order; a node started after the whole cluster stopped recovers the split from the journal.
 */
@ExtendWith(SharedCassandra.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RolloutClusterIT {
    static final String KEYSPACES = "rollout_it";
    TestCluster cluster;
    QuiverNode restarted;
    final Path adapters = TestNodes.model().resolve("adapters");

    @BeforeAll
    void start() {
        cluster = new TestCluster(KEYSPACES, 3, "quiver.engine { max-loras = 4, threads = 1 }");
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
        if (restarted != null) {
            restarted.stop();
        }
    }

    void post(int via, String path, String json, int status) {
        Client.Reply r = cluster.client(via).post(path, ADMIN_A, json);
        assertEquals(status, r.status(), path + ": " + r.body());
    }

    /** The version (from system_fingerprint) that served {@code user} through {@code client}. */
    static int servedVersion(Client client, String model, String user) {
        Client.Reply r = client.post("/v1/completions", USER_A, "{\"model\":\"" + model + "\",\"prompt\":\"Hi\","
                + "\"max_tokens\":3,\"temperature\":0,\"user\":\"" + user + "\"}");
        assertEquals(200, r.status(), r.body());
        String fp = r.json().path("system_fingerprint").asText();
        assertTrue(fp.startsWith(model + "@v"), fp);
        return Integer.parseInt(fp.substring(model.length() + 2, fp.indexOf(':')));
    }

    /** A few users the chooser sends to each version of {@code weights}. */
    static Map<Integer, List<String>> usersPerVersion(String adapter, Map<Integer, Integer> weights, int each) {
        Map<Integer, List<String>> out = new java.util.TreeMap<>();
        for (int i = 0; i < 10_000 && out.values().stream().mapToInt(List::size).sum() < each * weights.size(); i++) {
            int v = SplitChooser.choose(adapter, weights, "user-" + i);
            List<String> l = out.computeIfAbsent(v, k -> new ArrayList<>());
            if (l.size() < each) {
                l.add("user-" + i);
            }
        }
        return out;
    }

    /** Every node's catalog view (no round trip) of {@code name}. */
    List<AdapterView> everyNodesView(String name) {
        List<AdapterView> out = new ArrayList<>();
        for (QuiverNode n : cluster.nodes()) {
            out.add(n.registry().get(TestCluster.ADMIN, name).toCompletableFuture().join());
        }
        return out;
    }

    @Test
    @Order(1)
    void promote_and_abort_take_effect_on_every_node_before_the_call_returns_and_are_audited_in_order() {
        String name = "t-canary";
        post(1, "/v1/adapters", "{\"name\":\"" + name + "\",\"source\":\"" + adapters.resolve("adapter-01").toUri()
                + "\"}", 201);
        post(1, "/v1/adapters/" + name + "/versions", "{\"source\":\"" + adapters.resolve("adapter-03").toUri()
                + "\",\"activate\":false}", 201);

        Map<Integer, Integer> weights = Map.of(1, 90, 2, 10);
        post(2, "/v1/adapters/" + name + "/split", "{\"versions\":{\"1\":90,\"2\":10}}", 200);
        for (AdapterView v : everyNodesView(name)) {
            assertEquals(Map.of("1", 90, "2", 10), v.split().get("versions"), "every node's catalog has the split");
        }
        // placement loads every version with traffic ahead of the requests (journaled PlacedOn of each version)
        TestCluster.await(java.time.Duration.ofSeconds(30), () -> {
            Map<?, ?> residentOn = (Map<?, ?>) cluster.node(1).registry().get(TestCluster.ADMIN, name)
                    .toCompletableFuture().join().split().get("resident_on");
            return !((List<?>) residentOn.get("1")).isEmpty() && !((List<?>) residentOn.get("2")).isEmpty();
        }, "both versions of the split are resident on a worker");
        TestCluster.await(java.time.Duration.ofSeconds(30), () -> cluster.events(1, name).stream()
                .anyMatch(e -> e.type().equals("PlacedOn") && e.version() == 2), "PlacedOn of v2 is journaled");
        Map<Integer, List<String>> users = usersPerVersion(name, weights, 2);
        for (int via = 1; via <= 3; via++) {
            for (Map.Entry<Integer, List<String>> e : users.entrySet()) {
                for (String user : e.getValue()) {
                    assertEquals(e.getKey(), servedVersion(cluster.client(via), name, user),
                            user + " through node " + via);
                }
            }
        }

        post(3, "/v1/adapters/" + name + "/split", "{\"versions\":{\"2\":100},\"reason\":\"good\"}", 200);
        for (AdapterView v : everyNodesView(name)) {
            assertEquals(2, v.activeVersion(), "promoted on every node");
            assertNull(v.split());
        }
        for (int via = 1; via <= 3; via++) {
            for (String user : users.get(1)) {
                assertEquals(2, servedVersion(cluster.client(via), name, user), "at once, through node " + via);
            }
        }

        post(1, "/v1/adapters/" + name + "/versions", "{\"source\":\"" + adapters.resolve("adapter-02").toUri()
                + "\",\"activate\":false}", 201);
        post(2, "/v1/adapters/" + name + "/split", "{\"versions\":{\"2\":50,\"3\":50}}", 200);
        Map<Integer, List<String>> third = usersPerVersion(name, Map.of(2, 50, 3, 50), 2);
        assertEquals(3, servedVersion(cluster.client(3), name, third.get(3).get(0)));
        Client.Reply abort = cluster.client(1).delete("/v1/adapters/" + name + "/split", ADMIN_A);
        assertEquals(200, abort.status(), abort.body());
        for (AdapterView v : everyNodesView(name)) {
            assertEquals(2, v.activeVersion(), "aborted on every node");
            assertNull(v.split());
        }
        for (int via = 1; via <= 3; via++) {
            assertEquals(2, servedVersion(cluster.client(via), name, third.get(3).get(0)), "through node " + via);
        }

        List<String> decisions = new ArrayList<>();
        for (AdapterEvent e : cluster.events(2, name)) {
            if (Set.of("Registered", "VersionPublished", "SplitStarted", "SplitChanged", "SplitEnded")
                    .contains(e.type())) {
                decisions.add(e.type() + (e.type().equals("SplitEnded") ? ":" + e.detail().get("outcome") : ""));
            }
        }
        assertEquals(List.of("Registered", "VersionPublished", "SplitStarted", "SplitEnded:promoted",
                "VersionPublished", "SplitStarted", "SplitEnded:aborted"), decisions);
    }

    @Test
    @Order(2)
    void a_node_started_after_the_cluster_stopped_recovers_the_split_from_the_journal() {
        String name = "t-kept";
        post(1, "/v1/adapters", "{\"name\":\"" + name + "\",\"source\":\"" + adapters.resolve("adapter-04").toUri()
                + "\"}", 201);
        post(1, "/v1/adapters/" + name + "/versions", "{\"source\":\"" + adapters.resolve("adapter-01").toUri()
                + "\",\"activate\":false}", 201);
        post(2, "/v1/adapters/" + name + "/split", "{\"versions\":{\"1\":70,\"2\":30}}", 200);
        cluster.close();
        cluster = null;

        Config config = SharedCassandra.overlay(KEYSPACES)
                .withFallback(TestNodes.config("quiver.node.persistence = cassandra")).resolve();
        restarted = QuiverNode.start(config);
        Client client = new Client(restarted.baseUrl());
        Client.Reply view = client.get("/v1/adapters/" + name, ADMIN_A);
        assertEquals(200, view.status(), view.body());
        assertEquals(70, view.json().at("/split/versions/1").asInt(), view.body());
        assertEquals(30, view.json().at("/split/versions/2").asInt(), view.body());
        assertEquals(1, view.json().at("/split/baseline_version").asInt());
        Map<Integer, List<String>> users = usersPerVersion(name, Map.of(1, 70, 2, 30), 2);
        for (Map.Entry<Integer, List<String>> e : users.entrySet()) {
            for (String user : e.getValue()) {
                assertEquals(e.getKey(), servedVersion(client, name, user), user);
            }
        }
    }
}
