package dev.quiver.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The report's figures, JSON and HTML from synthetic results with known timings. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BenchReportTest {
    static final long MS = 1_000_000;
    BenchReport report;
    LoadPlan plan;

    @BeforeAll
    void build() {
        LoadSettings s = LoadSettings.parse("--url", "http://127.0.0.1:1", "--rate", "4", "--duration", "10",
                "--adapters", "5", "--base-share", "0.2", "--base-model", "base", "--seed", "5");
        plan = LoadPlan.build(s, "base");
        List<RequestResult> results = new ArrayList<>();
        for (LoadPlan.Planned p : plan.requests()) {
            long sent = p.offsetNanos() + 2 * MS;
            if (p.index() % 10 == 9) {
                results.add(new RequestResult(p.index(), p.model(), p.adapterRank(), p.promptIds().length,
                        p.maxTokens(), p.offsetNanos(), sent, 503, "http 503 overloaded_error", new long[0],
                        sent + 5 * MS, 0));
                continue;
            }
            // first chunk 100 ms after sending, then 4 chunks 20 ms apart; 5 tokens
            long[] chunks = {sent + 100 * MS, sent + 120 * MS, sent + 140 * MS, sent + 160 * MS, sent + 180 * MS};
            results.add(new RequestResult(p.index(), p.model(), p.adapterRank(), p.promptIds().length, p.maxTokens(),
                    p.offsetNanos(), sent, 200, null, chunks, sent + 200 * MS, 5));
        }
        report = new BenchReport(s, plan, results, Instant.parse("2026-11-23T12:00:00Z"),
                new CacheCounters(30, 5, 5, "admin"), "base");
    }

    @Test
    void counts_add_up_and_latencies_are_the_known_ones() {
        int n = plan.requests().size();
        int failed = n / 10;
        assertEquals(n, report.sent());
        assertEquals(n - failed, report.completed());
        assertEquals(failed, report.failures().get("http 503 overloaded_error"));
        assertEquals(5L * (n - failed), report.outputTokens());
        assertEquals(100, report.ttftMs().p50(), 1e-6);
        assertEquals(100, report.ttftMs().p99(), 1e-6);
        assertEquals(20, report.interTokenMs().p99(), 1e-6);
        assertEquals(4 * (n - failed), report.interTokenMs().count());
        assertEquals(200, report.endToEndMs().p50(), 1e-6);
        assertEquals(2, report.clientWaitMs().p50(), 1e-6);
        assertEquals(n - failed, sum(report.series().completed()), 1e-9);
        assertEquals(failed, sum(report.series().failed()), 1e-9);
        assertEquals(report.outputTokens(), sum(report.series().outputTokens()), 1e-6);
        assertEquals(n, java.util.Arrays.stream(report.requestsByRank()).sum());
        assertEquals(35.0 / 40, report.cache().hitRate(), 1e-12);
        String text = report.text();
        assertTrue(text.contains("sent / completed / failed:   " + n + " / " + (n - failed) + " / " + failed), text);
        assertTrue(text.contains("adapter cache hit rate:      87.5% (slot 75.0%)"), text);
    }

    @Test
    void json_report_carries_summary_series_and_every_request() throws Exception {
        JsonNode j = new ObjectMapper().readTree(report.json());
        assertEquals(report.completed(), j.at("/summary/completed").asInt());
        assertEquals(100, j.at("/summary/ttft_ms/p50").asDouble(), 1e-6);
        assertEquals(plan.requests().size(), j.path("requests").size());
        assertEquals(6, j.path("requests_by_adapter_rank").size());
        assertEquals(report.series().sent().length, j.at("/per_second/sent").size());
    }

    @Test
    void html_report_is_self_contained_with_every_chart_and_series() {
        String html = report.html();
        for (String id : List.of("chart-ttft", "chart-itl", "chart-e2e", "chart-throughput", "chart-requests",
                "chart-adapters")) {
            assertTrue(html.contains("<svg id=\"" + id + "\""), id);
        }
        assertEquals(Math.min(400, report.completed()), points(html, "ttft"));
        assertEquals(Math.min(400, report.interTokenMs().count()), points(html, "itl"));
        assertEquals(report.series().outputTokens().length, points(html, "output-tokens"));
        assertEquals(report.series().sent().length, points(html, "completed"));
        assertEquals(5, points(html, "requests"));
        assertEquals(5, points(html, "zipf-expected"));
        assertTrue(html.contains("http 503 overloaded_error"));
        for (String external : List.of("<script", "src=", "href=", "url(", "@import", "<link")) {
            assertFalse(html.contains(external), "no external resource: " + external);
        }
        assertTrue(html.startsWith("<!DOCTYPE html>") && html.trim().endsWith("</html>"));
    }

    private static int points(String html, String series) {
        Matcher m = Pattern.compile("data-series=\"" + series + "\" data-points=\"(\\d+)\"").matcher(html);
        assertTrue(m.find(), "series " + series);
        return Integer.parseInt(m.group(1));
    }

    private static double sum(double[] v) {
        double s = 0;
        for (double d : v) {
            s += d;
        }
        return s;
    }
}
