package dev.quiver.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code bench load}'s per-arm figures: requests grouped by the version that served them, with their latencies. */
class BenchArmsTest {
    static final long MS = 1_000_000;

    @Test
    void groups_requests_by_the_version_that_served_them_with_each_arms_latencies() throws Exception {
        LoadSettings s = LoadSettings.parse("--url", "http://127.0.0.1:1", "--rate", "4", "--duration", "10",
                "--adapters", "1", "--base-share", "0", "--base-model", "base", "--seed", "5");
        LoadPlan plan = LoadPlan.build(s, "base");
        List<RequestResult> results = new ArrayList<>();
        int canary = 0;
        for (LoadPlan.Planned p : plan.requests()) {
            long sent = p.offsetNanos();
            boolean v2 = p.index() % 5 == 0;       // every fifth request on the canary, which is slower
            canary += v2 ? 1 : 0;
            long ttft = v2 ? 300 : 100;
            long[] chunks = {sent + ttft * MS, sent + (ttft + 10) * MS};
            results.add(new RequestResult(p.index(), p.model(), p.adapterRank(), p.promptIds().length, p.maxTokens(),
                    p.offsetNanos(), sent, 200, null, chunks, sent + (ttft + 20) * MS, 2,
                    RequestResult.arm(v2 ? "bot@v2:0123456789ab" : "bot@v1:ba9876543210")));
        }
        BenchReport report = new BenchReport(s, plan, results, Instant.parse("2026-12-06T07:00:00Z"), null, "base");
        List<BenchReport.Arm> arms = report.arms();
        assertEquals(List.of("bot@v1", "bot@v2"), arms.stream().map(BenchReport.Arm::servedBy).toList());
        assertEquals(plan.requests().size() - canary, arms.get(0).requests());
        assertEquals(canary, arms.get(1).requests());
        assertEquals(100, arms.get(0).ttft().p50(), 1e-6);
        assertEquals(300, arms.get(1).ttft().p50(), 1e-6);
        assertEquals(10, arms.get(1).itl().p50(), 1e-6);
        assertTrue(report.text().contains("per arm (x-quiver-adapter)"), report.text());
        assertTrue(report.text().lines().anyMatch(l -> l.trim().startsWith("bot@v2") && l.contains("300.0 ms")),
                report.text());
        JsonNode json = new ObjectMapper().readTree(report.json());
        assertEquals("bot@v2", json.at("/arms/1/served_by").asText());
        assertEquals(canary, json.at("/arms/1/requests").asInt());
        assertEquals("bot@v1", json.at("/requests/1/served_by").asText());
    }

    @Test
    void the_arm_of_a_fingerprint_drops_the_digest_and_a_server_without_one_gives_no_arms() {
        assertEquals("bot@v12", RequestResult.arm("bot@v12:0123456789ab"));
        assertEquals("quiver-demo", RequestResult.arm("quiver-demo:0123456789ab"));
        assertNull(RequestResult.arm(null));
    }
}
