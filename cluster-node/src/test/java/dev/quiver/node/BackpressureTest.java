package dev.quiver.node;

import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A saturated cluster refuses early: with one worker that runs one sequence and queues two, a burst of requests
 * gets some served and the rest refused at once with 503 {@code overloaded_error} and a Retry-After hint; none
 * waits unbounded, and the node serves again once the burst is over.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BackpressureTest {
    QuiverNode node;
    Client client;
    final ExecutorService pool = Executors.newFixedThreadPool(12);

    @BeforeAll
    void start() {
        node = QuiverNode.start(TestNodes.config("quiver.node.model-dir = \"" + TestNodes.slowModel() + "\"\n"
                + "quiver.engine { max-num-seqs = 1, max-waiting = 2 }\n"));
        client = new Client(node.baseUrl());
    }

    @AfterAll
    void stop() {
        pool.shutdownNow();
        node.stop();
    }

    Client.Reply complete(int maxTokens) {
        return client.post("/v1/completions", USER_A, "{\"model\":\"quiver-demo\",\"prompt\":\"Tell me\","
                + "\"max_tokens\":" + maxTokens + ",\"ignore_eos\":true}");
    }

    @Test
    void a_burst_beyond_the_queue_is_refused_at_once_with_a_retry_hint_and_the_rest_is_served() {
        List<CompletableFuture<Client.Reply>> burst = IntStream.range(0, 12)
                .mapToObj(i -> CompletableFuture.supplyAsync(() -> complete(64), pool)).toList();
        List<Client.Reply> replies = burst.stream().map(CompletableFuture::join).toList();
        long ok = replies.stream().filter(r -> r.status() == 200).count();
        List<Client.Reply> refused = replies.stream().filter(r -> r.status() != 200).toList();
        assertTrue(ok >= 1, "some requests are served");
        assertTrue(!refused.isEmpty(), "one running + two queued cannot take twelve at once");
        for (Client.Reply r : refused) {
            assertEquals(503, r.status(), r.body());
            assertEquals("overloaded_error", r.error().path("type").asText(), r.body());
            assertTrue(r.retryAfter() != null && Integer.parseInt(r.retryAfter()) >= 1, "Retry-After: " + r.retryAfter());
        }
        // NOTE: routing reads the workers' loads as last published (every 100 ms), so a request right after the
        // burst may still be refused with its Retry-After; a client that honours the hint is served
        Client.Reply after = complete(4);
        for (int attempt = 1; attempt < 5 && after.status() == 503 && after.retryAfter() != null; attempt++) {
            sleepSeconds(Integer.parseInt(after.retryAfter()));
            after = complete(4);
        }
        assertEquals(200, after.status(), "served again after the burst, honouring Retry-After: " + after.body());
    }

    private static void sleepSeconds(int seconds) {
        try {
            Thread.sleep(seconds * 1000L);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
