package dev.quiver.node.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.node.Client;
import dev.quiver.node.QuiverNode;
import dev.quiver.node.TestNodes;
import dev.quiver.node.worker.WorkerLoad;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * When coordinated shutdown begins, the node's worker is published as draining before anything else happens, and
 * shutdown waits for what the worker runs: a generation in flight finishes with every token. A node alone still
 * routes to its draining worker (there is no other), so a request during the readiness grace is served.
 */
class WorkerDrainTest {
    static final int MAX_TOKENS = 160;

    static void await(long ms, BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "within " + ms + " ms: " + what);
            Thread.sleep(10);
        }
    }

    @Test
    void shutdown_publishes_the_worker_as_draining_at_once_and_lets_its_generation_finish() throws Exception {
        QuiverNode node = QuiverNode.start(TestNodes.config("""
                quiver.node.model-dir = "%s"
                quiver.node.shutdown.readiness-grace = 4s
                quiver.edge.shutdown-deadline = 60s
                """.formatted(TestNodes.slowModel())));
        Client edge = new Client(node.baseUrl());
        String worker = node.worker().id();
        CompletableFuture<Void> stopped = null;
        try {
            assertFalse(node.directory().load(worker).orElseThrow().draining(), "serving: not draining");
            CompletableFuture<Client.Reply> running = CompletableFuture.supplyAsync(() -> edge.post(
                    "/v1/completions", TestNodes.USER_A, "{\"model\":\"quiver-demo\",\"prompt\":\"Once upon a time\","
                            + "\"max_tokens\":" + MAX_TOKENS + ",\"ignore_eos\":true,\"temperature\":0}"));
            await(30_000, () -> node.worker().status().toCompletableFuture().join().running() > 0,
                    "the generation runs on the worker");

            stopped = CompletableFuture.runAsync(node::stop);
            await(1_500, () -> node.directory().load(worker).orElseThrow().draining(),
                    "the worker's published load says draining, well within the 4 s readiness grace");
            assertFalse(running.isDone(), "the generation is still running when the worker drains");
            List<String> routable = node.directory().routable().stream().map(WorkerLoad::workerId).toList();
            assertEquals(List.of(worker), routable, "alone, the draining worker is still routable");
            Client.Reply during = edge.post("/v1/completions", TestNodes.USER_A,
                    "{\"model\":\"quiver-demo\",\"prompt\":\"Hi\",\"max_tokens\":2}");
            assertEquals(200, during.status(), "served during the readiness grace: " + during.body());

            Client.Reply done = running.get(60, TimeUnit.SECONDS);
            assertEquals(200, done.status(), done.body());
            assertEquals(MAX_TOKENS, done.json().at("/usage/completion_tokens").asInt(), done.body());
            assertEquals("length", done.json().at("/choices/0/finish_reason").asText(), done.body());
            stopped.get(90, TimeUnit.SECONDS);
        } finally {
            if (stopped == null) {
                node.stop();
            }
        }
    }
}
