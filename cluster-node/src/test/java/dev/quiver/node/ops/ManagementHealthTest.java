package dev.quiver.node.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.quiver.node.Client;
import dev.quiver.node.QuiverNode;
import dev.quiver.node.TestNodes;
import dev.quiver.persistence.LocalResources;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;

/**
 * The management endpoint's {@code /alive} and {@code /ready} are Quiver's: ready only once the node is a member,
 * its engine loaded and its journal answering, and false from the first moment of shutdown while the edge still
 * serves; the cluster routes list the members.
 */
class ManagementHealthTest {

    @Test
    void a_node_that_has_not_joined_is_alive_but_not_ready_and_says_why() {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "unjoined", ConfigFactory.parseString(
                "pekko.actor.provider = cluster\npekko.remote.artery.canonical.port = 0")
                .withFallback(ConfigFactory.defaultReference()).resolve());
        try {
            NodeHealth health = NodeHealth.get(system);
            assertTrue(health.notAliveReason().isEmpty());
            assertTrue(health.notReadyReason().orElseThrow().contains("not a cluster member"),
                    health.notReadyReason().toString());
            health.draining();
            assertTrue(health.notReadyReason().orElseThrow().startsWith("draining"));
        } finally {
            system.terminate();
        }
    }

    @Test
    void ready_and_alive_while_serving_then_not_ready_before_the_edge_stops_serving() throws Exception {
        int port = LocalResources.freePort();
        QuiverNode node = QuiverNode.start(TestNodes.config("""
                quiver.node.management.enabled = on
                quiver.node.shutdown.readiness-grace = 3s
                pekko.management.http.port = %d
                """.formatted(port)));
        Client management = new Client("http://127.0.0.1:" + port);
        Client edge = new Client(node.baseUrl());
        CompletableFuture<Void> stopped = null;
        try {
            assertEquals(200, management.get("/alive", null).status());
            Client.Reply ready = management.get("/ready", null);
            assertEquals(200, ready.status(), ready.body());
            Client.Reply members = management.get("/cluster/members", null);
            assertEquals(200, members.status());
            assertEquals("Up", members.json().at("/members/0/status").asText(), members.body());
            NodeHealth health = NodeHealth.get(node.system());
            assertTrue(health.notReadyReason().isEmpty());
            // a journal outage after start leaves the node ready (serving does not need the journal) and is told
            // apart by journalOutage(); the node's own probe may report the journal back at any moment
            health.journalProbed("simulated outage");
            assertTrue(health.journalAnsweredSinceStart());
            assertTrue(health.notReadyReason().isEmpty(), health.notReadyReason().toString());
            assertEquals(200, management.get("/ready", null).status(), "ready through an outage of the journal");
            health.journalProbed(null);

            stopped = CompletableFuture.runAsync(node::stop);
            Client.Reply draining = management.get("/ready", null);
            for (int i = 0; i < 100 && draining.status() == 200; i++) {
                Thread.sleep(20);
                draining = management.get("/ready", null);
            }
            assertEquals(500, draining.status(), draining.body()); // Pekko Management answers a failed check with 500
            assertTrue(draining.body().contains("draining"), draining.body());
            assertEquals(200, management.get("/alive", null).status(), "still alive while draining");
            assertEquals(200, edge.get("/v1/models", TestNodes.USER_A).status(),
                    "the edge still serves during the readiness grace");
            stopped.get();
            assertTrue(node.system().getWhenTerminated().toCompletableFuture().isDone(), "the node has stopped");
            assertThrows(RuntimeException.class, () -> management.get("/alive", null),
                    "the management port is closed once the node has stopped");
        } finally {
            if (stopped == null) {
                node.stop();
            }
        }
    }

    @Test
    void bootstrap_without_management_is_refused_naming_both_keys() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OpsSettings.fromConfig(
                TestNodes.config("quiver.node.cluster-formation = bootstrap")));
        assertTrue(e.getMessage().contains("quiver.node.management.enabled"), e.getMessage());
    }
}
