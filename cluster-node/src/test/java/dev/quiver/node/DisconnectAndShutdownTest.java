package dev.quiver.node;

import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.worker.EngineStatus;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A streaming client that disconnects has its request cancelled in the engine (KV blocks freed, generation stops
 * early); a graceful shutdown lets a stream in flight finish and refuses new work.
 */
class DisconnectAndShutdownTest {
    static final int MAX_TOKENS = 1500;

    static EngineStatus status(QuiverNode n) throws Exception {
        return n.worker().status().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void a_client_that_disconnects_mid_stream_frees_the_engines_blocks() throws Exception {
        QuiverNode node = QuiverNode.start(TestNodes.config("quiver.node.model-dir = \"" + TestNodes.slowModel()
                + "\"\nquiver.engine.kv-cache-memory = 48MiB"));
        try {
            EngineStatus before = status(node);
            String body = "{\"model\":\"quiver-demo\",\"prompt\":\"Hi\",\"max_tokens\":" + MAX_TOKENS + ",\"n\":4,"
                    + "\"stream\":true,\"ignore_eos\":true,\"seed\":1}";
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            try (Socket s = new Socket(node.address().getAddress(), node.address().getPort())) {
                OutputStream out = s.getOutputStream();
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + USER_A
                        + "\r\nContent-Type: application/json\r\nContent-Length: " + bytes.length + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(bytes);
                out.flush();
                BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                assertTrue(in.readLine().startsWith("HTTP/1.1 200"));
                int data = 0;
                for (String line; data < 20 && (line = in.readLine()) != null; ) {
                    if (line.contains("data: ")) {
                        data++;
                    }
                }
                EngineStatus during = status(node);
                assertTrue(during.running() + during.waiting() > 0 || during.freeKvBlocks() < during.totalKvBlocks(),
                        "the request holds KV blocks while it streams");
            } // the client goes away here
            EngineStatus after = status(node);
            for (int i = 0; i < 100 && (after.running() > 0 || after.freeKvBlocks() != after.totalKvBlocks()); i++) {
                Thread.sleep(50);
                after = status(node);
            }
            assertEquals(0, after.running());
            assertEquals(0, after.waiting());
            assertEquals(after.totalKvBlocks(), after.freeKvBlocks(), "every KV block is free again");
            long generated = after.generatedTokens() - before.generatedTokens();
            assertTrue(generated < 4L * MAX_TOKENS, "generation was cancelled early: " + generated + " of "
                    + 4 * MAX_TOKENS + " tokens");
        } finally {
            node.stop();
        }
    }

    @Test
    void graceful_shutdown_lets_a_stream_in_flight_finish_and_refuses_new_requests() throws Exception {
        QuiverNode node = TestNodes.startWithDemoAdapters("");
        Client client = new Client(node.baseUrl());
        CompletableFuture<List<String>> stream = CompletableFuture.supplyAsync(() -> client.stream("/v1/completions",
                USER_A, "{\"model\":\"adapter-01\",\"prompt\":\"Hi\",\"max_tokens\":300,\"n\":4,\"stream\":true,"
                        + "\"ignore_eos\":true,\"seed\":1}"));
        for (int i = 0; i < 200 && status(node).running() == 0; i++) {
            Thread.sleep(10);
        }
        CompletableFuture<Void> stopping = CompletableFuture.runAsync(node::stop);
        List<String> events = stream.get(60, TimeUnit.SECONDS);
        assertEquals("[DONE]", events.get(events.size() - 1), "the stream in flight ran to its end");
        long finished = events.stream().filter(e -> e.contains("\"finish_reason\":\"length\"")).count();
        assertEquals(4, finished);
        stopping.get(60, TimeUnit.SECONDS);
        boolean refused;
        try {
            refused = client.get("/health", null).status() == 503;
        } catch (RuntimeException e) {
            refused = true; // connection refused: the port is unbound
        }
        assertTrue(refused);
    }
}
