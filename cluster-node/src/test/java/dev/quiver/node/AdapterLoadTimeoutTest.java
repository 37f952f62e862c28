package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A load timeout as a load failure: an adapter version whose load never finishes on the worker (its
 * adapter_config.json in the node's disk cache is a named pipe nobody writes, so the worker's loader blocks on it
 * the way it would on a stalled blob store or network disk) is served by the base model, marked, when the request
 * or the adapter opted into fallback, and is a retriable 503 naming the timeout otherwise; either way the adapter's
 * journal records {@code LoadFailed} with the cause.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdapterLoadTimeoutTest {
    static final long LOAD_TIMEOUT_MS = 2000;

    QuiverNode node;
    Client client;
    Path store;
    final List<Path> pipes = new ArrayList<>();

    @BeforeAll
    void start() {
        store = TestNodes.scratch().resolve("load-timeout-store-" + System.nanoTime());
        node = TestNodes.startWithDemoAdapters("quiver.node.adapter-store = \"" + store + "\"\n"
                + "quiver.node.routing.load-timeout = " + LOAD_TIMEOUT_MS + "ms");
        client = new Client(node.baseUrl());
    }

    @AfterAll
    void stop() {
        node.stop();
    }

    /** Unblocks the worker's loader (it reads an empty config and refuses the version) so later loads proceed. */
    @AfterEach
    void releasePipes() throws IOException {
        for (Path pipe : pipes) {
            // NOTE: "rw" opens a FIFO without blocking on Linux, and a writer lets a reader blocked in open() go on
            try (RandomAccessFile writer = new RandomAccessFile(pipe.toFile(), "rw")) {
                Files.delete(pipe);
                writer.write("{}".getBytes(StandardCharsets.UTF_8));
            }
        }
        pipes.clear();
    }

    /**
     * Registers an adapter of content of its own (so no other test's version shares its digest) whose files, once in
     * the node's disk cache, cannot be read to the end: adapter_config.json is a named pipe.
     */
    String registerStalled(String name) throws Exception {
        Path demo = TestNodes.model().resolve("adapters").resolve("adapter-03");
        Map<String, byte[]> files = new HashMap<>(Archives.adapterFiles(demo));
        files.put("adapter_config.json", (new String(files.get("adapter_config.json"), StandardCharsets.UTF_8)
                + "\n".repeat(3) + " ".repeat(name.length())).getBytes(StandardCharsets.UTF_8));
        Client.Reply reg = client.post("/v1/adapters?name=" + name, ADMIN_A, "application/gzip",
                Archives.tarGz(files, ""));
        assertEquals(201, reg.status(), reg.body());
        String sha = reg.json().at("/versions/0/sha256").asText();
        Path cached = store.resolve(".blobs").resolve(sha);
        if (Files.exists(cached)) {
            try (var walk = Files.walk(cached)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        Files.createDirectories(cached);
        Files.write(cached.resolve("adapter_model.safetensors"), files.get("adapter_model.safetensors"));
        Path pipe = cached.resolve("adapter_config.json");
        Process mkfifo = new ProcessBuilder("mkfifo", pipe.toString()).inheritIO().start();
        assertTrue(mkfifo.waitFor(10, TimeUnit.SECONDS) && mkfifo.exitValue() == 0, "mkfifo " + pipe);
        pipes.add(pipe);
        return name;
    }

    List<String> eventTypes(String name) {
        List<String> types = new ArrayList<>();
        for (JsonNode e : client.get("/v1/adapters/" + name + "/events", ADMIN_A).json().path("data")) {
            types.add(e.path("type").asText());
        }
        return types;
    }

    String loadFailure(String name) {
        for (JsonNode e : client.get("/v1/adapters/" + name + "/events", ADMIN_A).json().path("data")) {
            if (e.path("type").asText().equals("LoadFailed")) {
                return e.toString();
            }
        }
        return "";
    }

    Client.Reply complete(String model, String extra) {
        return client.post("/v1/completions", USER_A, "{\"model\":\"" + model + "\",\"prompt\":\"Tell me\","
                + "\"max_tokens\":6,\"temperature\":0,\"ignore_eos\":true" + extra + "}");
    }

    @Test
    void a_version_that_does_not_load_within_the_load_timeout_is_served_by_the_base_model_when_asked_marked()
            throws Exception {
        String name = registerStalled("stalled-fallback");
        String baseText = complete("quiver-demo", "").json().at("/choices/0/text").asText();

        long t0 = System.nanoTime();
        Client.Reply r = complete(name, ",\"fallback\":\"base\"");
        long tookMs = (System.nanoTime() - t0) / 1_000_000;

        assertEquals(200, r.status(), r.body());
        JsonNode body = r.json();
        assertEquals(baseText, body.at("/choices/0/text").asText(), "the base model generated");
        assertTrue(body.path("system_fingerprint").asText().startsWith("quiver-demo:"), body.toString());
        assertTrue(body.at("/quiver/fallback").asBoolean(), body.toString());
        assertEquals(name + "@v1", body.at("/quiver/requested").asText());
        assertTrue(body.at("/quiver/reason").asText().contains("did not load"), body.toString());
        assertTrue(tookMs >= LOAD_TIMEOUT_MS && tookMs < LOAD_TIMEOUT_MS + 20_000,
                "the fallback came when the load timeout passed: " + tookMs + " ms");
        assertTrue(loadFailure(name).contains("did not load"), "LoadFailed with the cause: " + eventTypes(name));
    }

    @Test
    void without_fallback_a_load_timeout_is_a_retriable_503_naming_it_and_with_the_adapters_opt_in_the_base_model()
            throws Exception {
        String name = registerStalled("stalled-plain");

        Client.Reply off = complete(name, "");
        assertEquals(503, off.status(), off.body());
        assertEquals("service_unavailable", off.error().path("type").asText(), off.body());
        assertTrue(off.error().path("message").asText().contains("did not load")
                && off.error().path("message").asText().contains("load-timeout"), off.body());
        assertTrue(off.retryAfter() != null, "a 503 says when to retry");
        assertTrue(loadFailure(name).contains("did not load"), "LoadFailed with the cause: " + eventTypes(name));

        Client.Reply set = client.post("/v1/adapters/" + name + "/fallback", ADMIN_A, "{\"fallback\":\"base\"}");
        assertEquals(200, set.status(), set.body());
        Client.Reply on = complete(name, "");
        assertEquals(200, on.status(), on.body());
        assertTrue(on.json().at("/quiver/fallback").asBoolean(), "the adapter's own opt-in applies: " + on.body());
    }
}
