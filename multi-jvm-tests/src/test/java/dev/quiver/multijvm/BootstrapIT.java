package dev.quiver.multijvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Cluster Bootstrap on loopback: four node JVMs whose configs list each other's management endpoints
 * ({@code config} discovery), no seed nodes, {@code required-contact-point-nr = 3}. Node 1 started alone waits
 * (alive, not ready) instead of forming a cluster of its own; with nodes 2 and 3 the three form one cluster;
 * node 4 joins it later; {@code SIGTERM} of node 4 turns its readiness false while its edge still serves, then it
 * leaves and exits.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BootstrapIT {
    static final Duration START = Duration.ofSeconds(240);

    LocalCluster cluster;

    @BeforeAll
    void start() {
        cluster = new LocalCluster(new LocalCluster.Settings(4, Path.of("target", "multi-jvm", "bootstrap")
                .toAbsolutePath(), "bootstrap_it", "quiver.node.shutdown.readiness-grace = 4s", "512m",
                LocalCluster.Formation.BOOTSTRAP));
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    /** GET on a node's management endpoint: status and body, or null when nothing answers. */
    HttpResponse<String> management(int node, String path) {
        try {
            return cluster.client().send(HttpRequest.newBuilder(URI.create(cluster.managementUrl(node) + path))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    HttpResponse<String> awaitAnswer(int node, String path, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            assertTrue(cluster.process(node).isAlive(), "node " + node + " exited; see " + cluster.log(node));
            HttpResponse<String> r = management(node, path);
            if (r != null) {
                return r;
            }
            LocalCluster.sleep(200);
        }
        throw new AssertionError("node " + node + "'s management endpoint did not answer within " + timeout);
    }

    /** The addresses of the Up members as node {@code node}'s management route lists them. */
    Set<String> upMembers(int node) {
        HttpResponse<String> r = management(node, "/cluster/members");
        assertNotNull(r, "node " + node + " answers /cluster/members");
        assertEquals(200, r.statusCode(), r.body());
        Set<String> up = new TreeSet<>();
        for (JsonNode m : LocalCluster.parse(r.body()).path("members")) {
            if (m.path("status").asText().equals("Up")) {
                up.add(m.path("node").asText());
            }
        }
        return up;
    }

    @Test
    @Order(1)
    void a_node_started_alone_stays_alive_and_unready_instead_of_forming_its_own_cluster() throws IOException {
        cluster.start(1);
        assertFalse(Files.readString(cluster.configFile(1)).contains("seed-nodes"), "no seed nodes configured");
        assertEquals(200, awaitAnswer(1, "/alive", START).statusCode(), "alive while it looks for contact points");
        // Several times the stable margin (2 s) and probe interval (1 s): long enough to have formed a cluster.
        long until = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (System.nanoTime() < until) {
            HttpResponse<String> ready = management(1, "/ready");
            assertNotNull(ready);
            assertEquals(500, ready.statusCode(), "not ready alone: " + ready.body());
            assertTrue(ready.body().contains("not a cluster member"), ready.body());
            assertEquals(200, management(1, "/alive").statusCode());
            LocalCluster.sleep(500);
        }
        assertTrue(cluster.process(1).isAlive());
    }

    @Test
    @Order(2)
    void three_nodes_form_one_cluster_through_bootstrap_with_config_discovery() {
        cluster.start(2);
        cluster.start(3);
        for (int i = 1; i <= 3; i++) {
            cluster.awaitReady(i, 3, START);
        }
        Set<String> seen = upMembers(1);
        assertEquals(3, seen.size(), seen.toString());
        assertEquals(seen, upMembers(2));
        assertEquals(seen, upMembers(3));
        for (int i = 1; i <= 3; i++) {
            HttpResponse<String> ready = management(i, "/ready");
            assertEquals(200, ready.statusCode(), "node " + i + ": " + ready.body());
        }
    }

    @Test
    @Order(3)
    void a_fourth_node_joins_the_running_cluster_later() {
        cluster.start(4);
        cluster.awaitReady(4, 4, START);
        assertEquals(4, upMembers(1).size());
        assertEquals(200, management(4, "/ready").statusCode());
    }

    @Test
    @Order(4)
    void sigterm_turns_readiness_false_while_the_edge_still_serves_then_the_node_leaves() {
        cluster.terminate(4);
        HttpResponse<String> ready = management(4, "/ready");
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (ready != null && ready.statusCode() == 200 && System.nanoTime() < deadline) {
            LocalCluster.sleep(50);
            ready = management(4, "/ready");
        }
        assertNotNull(ready, "the management endpoint still answers during the readiness grace");
        assertEquals(500, ready.statusCode(), ready.body());
        assertTrue(ready.body().contains("draining"), ready.body());
        assertEquals(200, management(4, "/alive").statusCode(), "alive while draining");
        JsonNode models = cluster.get(4, "/v1/models");
        assertTrue(models.path("data").size() >= 1, "the edge still serves during the grace: " + models);

        Integer exit = cluster.awaitExit(4, Duration.ofSeconds(90));
        assertNotNull(exit, "node 4 exits after SIGTERM");
        long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (upMembers(1).size() != 3 && System.nanoTime() < until) {
            LocalCluster.sleep(200);
        }
        assertEquals(3, upMembers(1).size(), "node 4 left the cluster");
        assertEquals(200, management(1, "/ready").statusCode());
    }
}
