package dev.quiver.node;

import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.sources.TestHub;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Time from first request to first token for an adapter a resolver loads from the local test Hub ({@link TestHub},
 * serving from memory over loopback), as docs/BENCHMARKS.md records it: each of {@code -Dquiver.bench.names=N}
 * (default 20) distinct names under {@code hf://bench-org/} is requested once, streamed, and the time to its first
 * SSE chunk is taken; the first request of a name pays the Hub's file list, the download into the cache, validation,
 * registration through the entity (journaled), the fetch into the node's disk cache and the load into a slot. Beside
 * it: the second request of the same names (resident) and the base model, for the floor. Run explicitly:
 * {@code mvn -B -ntp -pl cluster-node -am test -Dtest=ResolverFirstTokenBench -Dquiver.bench=resolver-ttft
 * -Dsurefire.failIfNoSpecifiedTests=false}; the table is printed and written to
 * {@code cluster-node/target/resolver-ttft-bench.md}.
 */
@EnabledIfSystemProperty(named = "quiver.bench", matches = "resolver-ttft")
class ResolverFirstTokenBench {
    final HttpClient http = HttpClient.newHttpClient();

    /** Milliseconds from sending a streamed completion to its first SSE data line. */
    double firstChunkMs(String base, String model) throws Exception {
        long t0 = System.nanoTime();
        HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                .header("Authorization", "Bearer " + USER_A).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"prompt\":\"Hello\","
                        + "\"max_tokens\":4,\"stream\":true}")).build(), HttpResponse.BodyHandlers.ofInputStream());
        double ms = -1;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            assertEquals(200, r.statusCode(), model);
            for (String line; (line = in.readLine()) != null; ) {
                if (ms < 0 && line.startsWith("data: {")) {
                    ms = (System.nanoTime() - t0) / 1e6;
                }
            }
        }
        assertTrue(ms >= 0, "a chunk for " + model);
        return ms;
    }

    static String row(String what, List<Double> ms) {
        List<Double> s = new ArrayList<>(ms);
        Collections.sort(s);
        return String.format(Locale.ROOT, "| %s | %d | %.1f | %.1f | %.1f | %.1f |", what, s.size(), s.get(0),
                s.get(s.size() / 2), s.get((int) Math.min(s.size() - 1, Math.ceil(s.size() * 0.9) - 1)),
                s.get(s.size() - 1));
    }

    @Test
    void records_time_to_first_token_of_resolver_loaded_adapters() throws Exception {
        int names = Integer.getInteger("quiver.bench.names", 20);
        Path adapters = TestNodes.model().resolve("adapters");
        long adapterBytes = Files.size(adapters.resolve("adapter-01").resolve("adapter_model.safetensors"));
        try (TestHub hub = new TestHub()) {
            for (int i = 0; i < names; i++) {
                // distinct content per name (a config byte apart), so none is served from the download cache
                var files = HubSourcedNodeTest.read(adapters.resolve("adapter-0" + (1 + i % 4)),
                        "adapter_config.json", "adapter_model.safetensors");
                files.put("adapter_config.json", (new String(files.get("adapter_config.json"),
                        StandardCharsets.UTF_8) + " ".repeat(i + 1)).getBytes(StandardCharsets.UTF_8));
                hub.push("bench-org/lora-" + i, "main", files);
            }
            Path cache = TestNodes.scratch().resolve("resolver-bench-cache-" + System.nanoTime());
            QuiverNode node = QuiverNode.start(TestNodes.config(
                    "quiver.node.adapter-resolvers = [ { prefix = \"hf://bench-org/\", tenant = \"a\" } ]\n"
                            + "quiver.engine.max-loras = 8\n"
                            + "quiver.sources { cache-dir = \"" + cache + "\", hf.endpoint = \"" + hub.endpoint()
                            + "\", hf.token = \"\", offline = \"false\", progress = off }"));
            try {
                String base = node.baseUrl();
                List<Double> warmup = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    warmup.add(firstChunkMs(base, "quiver-demo"));
                }
                List<Double> baseModel = new ArrayList<>();
                List<Double> first = new ArrayList<>();
                List<Double> second = new ArrayList<>();
                for (int i = 0; i < names; i++) {
                    baseModel.add(firstChunkMs(base, "quiver-demo"));
                    first.add(firstChunkMs(base, "bench-org/lora-" + i));
                    second.add(firstChunkMs(base, "bench-org/lora-" + i));
                }
                String table = String.join("\n",
                        "Time to first SSE chunk (ms), " + names + " names, adapter weights " + adapterBytes
                                + " bytes each, demo model (tiny), one node, in-memory journal, "
                                + Runtime.getRuntime().availableProcessors() + " CPUs",
                        "",
                        "| request | n | min | p50 | p90 | max |",
                        "|---|---|---|---|---|---|",
                        row("base model", baseModel),
                        row("first request of a name (resolver: Hub + download + validate + register + load)",
                                first),
                        row("second request of the same name (resident)", second));
                System.out.println(table);
                Files.writeString(Path.of("target", "resolver-ttft-bench.md"), table + "\n");
            } finally {
                node.stop();
            }
        }
    }
}
