package dev.quiver.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.node.QuiverNode;
import dev.quiver.node.TestNodes;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The load generator over a real socket against a node started in this JVM over the 4-adapter demo model. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LoadGeneratorEndToEndTest {
    QuiverNode node;

    @BeforeAll
    void start() {
        node = TestNodes.startWithDemoAdapters("");
    }

    @AfterAll
    void stop() {
        node.stop();
    }

    @Test
    void a_short_run_at_a_low_rate_accounts_for_every_request_token_and_cache_lookup(@TempDir Path dir)
            throws Exception {
        Path html = dir.resolve("report.html");
        Path json = dir.resolve("report.json");
        LoadSettings s = LoadSettings.parse("--url", node.baseUrl(), "--api-key", TestNodes.ADMIN_A,
                "--rate", "6", "--duration", "2", "--adapters", "4", "--zipf", "1.0", "--base-share", "0.25",
                "--prompt-tokens", "uniform:4:16", "--output-tokens", "uniform:4:8", "--concurrency", "8",
                "--seed", "3", "--html", html.toString(), "--json", json.toString());
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        BenchReport r = new LoadGenerator(s, new PrintStream(progress, true, StandardCharsets.UTF_8)).run();
        r.write(s.html(), s.json());

        assertEquals("quiver-demo", r.baseModel(), "discovered from /v1/models");
        int planned = r.planned();
        assertTrue(planned >= 3, "a 2 s window at 6 req/s plans a few requests: " + planned);
        assertEquals(planned, r.results().size());
        assertEquals(planned, r.sent());
        assertEquals(0, r.failed(), r.text());
        assertEquals(planned, r.completed());
        int adapterRequests = 0;
        long expectedTokens = 0;
        for (RequestResult q : r.results()) {
            assertEquals(200, q.status());
            assertEquals(q.maxTokens(), q.outputTokens(), "ignore_eos: every request generates max_tokens");
            assertTrue(q.chunkNanos().length >= 1 && q.chunkNanos().length <= q.maxTokens());
            assertTrue(q.sentNanos() >= q.scheduledNanos() && q.firstChunkNanos() > q.sentNanos()
                    && q.endNanos() >= q.chunkNanos()[q.chunkNanos().length - 1]);
            expectedTokens += q.maxTokens();
            adapterRequests += q.adapterRank() > 0 ? 1 : 0;
        }
        assertEquals(expectedTokens, r.outputTokens());
        assertEquals(planned, r.ttftMs().count());
        assertEquals(planned, r.endToEndMs().count());
        assertEquals(planned, java.util.Arrays.stream(r.requestsByRank()).sum());
        assertEquals("admin", r.cache().source());
        assertEquals(adapterRequests, r.cache().lookups(), "one cache lookup per adapter request");
        assertTrue(r.achievedRate() > 0 && r.outputTokensPerSecond() > 0);

        String text = r.text();
        assertTrue(text.contains("sent / completed / failed:   " + planned + " / " + planned + " / 0"), text);
        String page = Files.readString(html);
        assertTrue(page.contains("<svg id=\"chart-ttft\"") && page.contains("<svg id=\"chart-throughput\""));
        assertTrue(Files.readString(json).contains("\"completed\" : " + planned));
    }
}
