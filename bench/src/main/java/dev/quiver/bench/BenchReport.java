package dev.quiver.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The figures of one load run, computed from the per-request results: offered and achieved rate, completions and
 * failures by kind, output tokens per second, TTFT / inter-token / end-to-end latency percentiles, how late requests left the
 * client, per-second series, adapter popularity, and the server's adapter cache hit rate
 * over the run. Rendered as text ({@link #text()}), JSON ({@link #json()}) and HTML ({@link HtmlReport}).
 *
 * <p>Latencies count completed requests only, measured from the moment each was sent. Throughput is output tokens
 * of completed requests over the run's wall time (from the first scheduled arrival to the last response's end).
 */
public final class BenchReport {
    private final LoadSettings settings;
    private final LoadPlan plan;
    private final List<RequestResult> results;
    private final Instant started;
    private final CacheCounters cache;
    private final String baseModel;

    private final int sent;
    private final int completed;
    private final Map<String, Integer> failures = new TreeMap<>();
    private final double wallSeconds;
    private final long outputTokens;
    private final Stats.Summary ttft;
    private final Stats.Summary itl;
    private final Stats.Summary e2e;
    private final Stats.Summary clientWait;
    private final int sentLate;

    public BenchReport(LoadSettings settings, LoadPlan plan, List<RequestResult> results, Instant started,
                       CacheCounters cacheDelta, String baseModel) {
        this.settings = settings;
        this.plan = plan;
        this.results = List.copyOf(results);
        this.started = started;
        this.cache = cacheDelta;
        this.baseModel = baseModel;
        int s = 0;
        int c = 0;
        int late = 0;
        long tokens = 0;
        long end = plan.windowNanos();
        List<Double> t = new ArrayList<>();
        List<Double> gaps = new ArrayList<>();
        List<Double> total = new ArrayList<>();
        List<Double> waits = new ArrayList<>();
        for (RequestResult r : results) {
            if (r.sentNanos() >= 0) {
                s++;
                double wait = (r.sentNanos() - r.scheduledNanos()) / 1e6;
                waits.add(Math.max(0, wait));
                if (wait > 1.0) {
                    late++;
                }
            }
            end = Math.max(end, r.endNanos());
            if (!r.ok()) {
                failures.merge(r.error(), 1, Integer::sum);
                continue;
            }
            c++;
            tokens += r.outputTokens();
            long[] ch = r.chunkNanos();
            if (ch.length > 0) {
                t.add((ch[0] - r.sentNanos()) / 1e6);
            }
            for (int i = 1; i < ch.length; i++) {
                gaps.add((ch[i] - ch[i - 1]) / 1e6);
            }
            total.add((r.endNanos() - r.sentNanos()) / 1e6);
        }
        this.sent = s;
        this.completed = c;
        this.sentLate = late;
        this.outputTokens = tokens;
        this.wallSeconds = end / 1e9;
        this.ttft = Stats.Summary.of(t);
        this.itl = Stats.Summary.of(gaps);
        this.e2e = Stats.Summary.of(total);
        this.clientWait = Stats.Summary.of(waits);
    }

    public LoadSettings settings() {
        return settings;
    }

    public LoadPlan plan() {
        return plan;
    }

    public List<RequestResult> results() {
        return results;
    }

    public Instant started() {
        return started;
    }

    public String baseModel() {
        return baseModel;
    }

    public int planned() {
        return plan.requests().size();
    }

    public int sent() {
        return sent;
    }

    public int completed() {
        return completed;
    }

    public int failed() {
        return results.size() - completed;
    }

    /** Failures by kind, e.g. {@code http 503 overloaded_error} → 3. */
    public Map<String, Integer> failures() {
        return failures;
    }

    public double wallSeconds() {
        return wallSeconds;
    }

    public double offeredRate() {
        return plan.offeredRate();
    }

    /** Completed requests per second of wall time. */
    public double achievedRate() {
        return wallSeconds == 0 ? 0 : completed / wallSeconds;
    }

    public long outputTokens() {
        return outputTokens;
    }

    public double outputTokensPerSecond() {
        return wallSeconds == 0 ? 0 : outputTokens / wallSeconds;
    }

    public Stats.Summary ttftMs() {
        return ttft;
    }

    public Stats.Summary interTokenMs() {
        return itl;
    }

    public Stats.Summary endToEndMs() {
        return e2e;
    }

    public Stats.Summary clientWaitMs() {
        return clientWait;
    }

    /**
     * Requests sent more than 1 ms after their planned arrival: held back by the concurrency cap, or by the client's
     * own threads not getting a CPU in time.
     */
    public int sentLate() {
        return sentLate;
    }

    /** The server's adapter cache counters over the run, or null when it exposed none. */
    public CacheCounters cache() {
        return cache;
    }

    /** Requests sent per adapter rank: index 0 = base model, k = Zipf rank k. */
    public int[] requestsByRank() {
        int[] n = new int[settings.adapterNames().size() + 1];
        for (RequestResult r : results) {
            if (r.sentNanos() >= 0) {
                n[r.adapterRank()]++;
            }
        }
        return n;
    }

    /**
     * The figures of one arm: the requests one model served (an adapter version during a canary or A/B test, or
     * the base model), by the {@code x-quiver-adapter} header of each response.
     */
    public record Arm(String servedBy, int requests, int completed, long outputTokens, Stats.Summary ttft,
                      Stats.Summary itl, Stats.Summary e2e) {
    }

    /** Per arm, in name order; empty when the server named no model (a server without fingerprints). */
    public List<Arm> arms() {
        Map<String, List<RequestResult>> by = new TreeMap<>();
        for (RequestResult r : results) {
            if (r.servedBy() != null) {
                by.computeIfAbsent(r.servedBy(), k -> new ArrayList<>()).add(r);
            }
        }
        List<Arm> out = new ArrayList<>();
        by.forEach((arm, rs) -> {
            int done = 0;
            long tokens = 0;
            List<Double> t = new ArrayList<>();
            List<Double> gaps = new ArrayList<>();
            List<Double> total = new ArrayList<>();
            for (RequestResult r : rs) {
                if (!r.ok()) {
                    continue;
                }
                done++;
                tokens += r.outputTokens();
                long[] ch = r.chunkNanos();
                if (ch.length > 0) {
                    t.add((ch[0] - r.sentNanos()) / 1e6);
                }
                for (int i = 1; i < ch.length; i++) {
                    gaps.add((ch[i] - ch[i - 1]) / 1e6);
                }
                total.add((r.endNanos() - r.sentNanos()) / 1e6);
            }
            out.add(new Arm(arm, rs.size(), done, tokens, Stats.Summary.of(t), Stats.Summary.of(gaps),
                    Stats.Summary.of(total)));
        });
        return out;
    }

    /** Per-second series over the run: sent, completed, failed (by end time) and output tokens. */
    public record Series(double[] sent, double[] completed, double[] failed, double[] outputTokens) {
    }

    public Series series() {
        int bins = Math.max(1, (int) Math.ceil(wallSeconds));
        double[] s = new double[bins];
        double[] c = new double[bins];
        double[] f = new double[bins];
        double[] tok = new double[bins];
        for (RequestResult r : results) {
            if (r.sentNanos() >= 0) {
                s[bin(r.sentNanos(), bins)]++;
            }
            if (r.endNanos() >= 0) {
                (r.ok() ? c : f)[bin(r.endNanos(), bins)]++;
            }
            long[] ch = r.chunkNanos();
            if (r.ok() && ch.length > 0) {
                // NOTE: a chunk may carry more than one token (see SseStream); the request's tokens are spread
                // evenly over its chunks.
                double per = (double) r.outputTokens() / ch.length;
                for (long t : ch) {
                    tok[bin(t, bins)] += per;
                }
            }
        }
        return new Series(s, c, f, tok);
    }

    private static int bin(long nanos, int bins) {
        return (int) Math.max(0, Math.min(bins - 1, nanos / 1_000_000_000L));
    }

    /** The human-readable report. */
    public String text() {
        StringBuilder b = new StringBuilder();
        b.append("==== quiver bench load ====\n");
        line(b, "target", settings.endpoint("/v1/completions").toString());
        line(b, "started", started.toString());
        line(b, "adapters", settings.adapterNames().size() + ", Zipf alpha " + num(settings.zipf())
                + ", base-model share " + num(settings.baseShare()) + (baseModel == null ? "" : " (" + baseModel + ")"));
        line(b, "lengths", "prompt " + settings.promptTokens() + ", output " + settings.outputTokens()
                + " (ignore_eos)");
        line(b, "seed / concurrency cap", settings.seed() + " / " + settings.concurrency());
        line(b, "offered rate", String.format(Locale.ROOT, "%.2f req/s (%d arrivals over %.1f s)", offeredRate(),
                planned(), plan.windowNanos() / 1e9));
        line(b, "achieved rate", String.format(Locale.ROOT, "%.2f req/s completed (wall %.1f s)", achievedRate(),
                wallSeconds));
        line(b, "sent / completed / failed", sent + " / " + completed + " / " + failed());
        for (Map.Entry<String, Integer> e : failures.entrySet()) {
            line(b, "  failed: " + e.getKey(), Integer.toString(e.getValue()));
        }
        line(b, "output tokens", String.format(Locale.ROOT, "%d (%.1f tokens/s)", outputTokens,
                outputTokensPerSecond()));
        latency(b, "TTFT", ttft);
        latency(b, "inter-token latency", itl);
        latency(b, "end-to-end latency", e2e);
        line(b, "sent late (> 1 ms)", sentLate + String.format(Locale.ROOT, " (client wait p50 %.1f / p99 %.1f ms: "
                + "concurrency cap or client CPU)", clientWait.p50(), clientWait.p99()));
        if (cache == null) {
            line(b, "adapter cache", "no counters from the server");
        } else {
            line(b, "adapter cache", String.format(Locale.ROOT, "%d lookups: %d slot hits, %d host hits, %d disk "
                            + "misses (from %s)", cache.lookups(), cache.slotHits(), cache.hostHits(),
                    cache.diskMisses(), cache.source().equals("admin") ? "GET /v1/adapters/NAME" : "GET /metrics"));
            line(b, "adapter cache hit rate", pct(cache.hitRate()) + " (slot " + pct(cache.slotHitRate()) + ")");
        }
        List<Arm> arms = arms();
        if (!arms.isEmpty()) {
            b.append(String.format(Locale.ROOT, "per arm (x-quiver-adapter):%n  %-32s %8s %8s %8s %10s %10s %10s%n",
                    "served by", "requests", "share", "failed", "TTFT p50", "TTFT p99", "ITL p50"));
            int withArm = arms.stream().mapToInt(Arm::requests).sum();
            for (Arm a : arms) {
                b.append(String.format(Locale.ROOT, "  %-32s %8d %8s %8d %10s %10s %10s%n", a.servedBy(),
                        a.requests(), pct((double) a.requests() / withArm), a.requests() - a.completed(),
                        ms(a.ttft().count(), a.ttft().p50()), ms(a.ttft().count(), a.ttft().p99()),
                        ms(a.itl().count(), a.itl().p50())));
            }
        }
        return b.toString();
    }

    private static void latency(StringBuilder b, String name, Stats.Summary s) {
        line(b, name + " (ms)", s.count() == 0 ? "no samples" : String.format(Locale.ROOT,
                "p50 %.1f  p90 %.1f  p99 %.1f  mean %.1f  max %.1f  (n=%d)", s.p50(), s.p90(), s.p99(), s.mean(),
                s.max(), s.count()));
    }

    private static void line(StringBuilder b, String k, String v) {
        b.append(String.format(Locale.ROOT, "%-28s %s%n", k + ":", v));
    }

    private static String ms(int count, double v) {
        return count == 0 ? "-" : String.format(Locale.ROOT, "%.1f ms", v);
    }

    static String pct(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.1f%%", 100 * v);
    }

    static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v)
                : String.format(Locale.ROOT, "%.3g", v);
    }

    /** Summary figures and series as a JSON document, every request included. */
    public String json() {
        ObjectMapper m = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode o = m.createObjectNode();
        ObjectNode cfg = o.putObject("settings");
        cfg.put("url", settings.endpoint("/v1/completions").toString());
        cfg.put("rate", settings.rate());
        cfg.put("duration_s", settings.duration() == null ? null : settings.duration().toMillis() / 1000.0);
        cfg.put("requests", settings.requests());
        cfg.put("adapters", settings.adapterNames().size());
        cfg.put("zipf_alpha", settings.zipf());
        cfg.put("base_share", settings.baseShare());
        cfg.put("base_model", baseModel);
        cfg.put("prompt_tokens", settings.promptTokens().toString());
        cfg.put("output_tokens", settings.outputTokens().toString());
        cfg.put("temperature", settings.temperature());
        cfg.put("concurrency", settings.concurrency());
        cfg.put("seed", settings.seed());
        ObjectNode sum = o.putObject("summary");
        sum.put("started", started.toString());
        sum.put("planned", planned());
        sum.put("sent", sent);
        sum.put("completed", completed);
        sum.put("failed", failed());
        ObjectNode f = sum.putObject("failures");
        failures.forEach(f::put);
        sum.put("offered_rate", offeredRate());
        sum.put("achieved_rate", achievedRate());
        sum.put("wall_s", wallSeconds);
        sum.put("output_tokens", outputTokens);
        sum.put("output_tokens_per_s", outputTokensPerSecond());
        summary(sum.putObject("ttft_ms"), ttft);
        summary(sum.putObject("inter_token_ms"), itl);
        summary(sum.putObject("end_to_end_ms"), e2e);
        summary(sum.putObject("client_wait_ms"), clientWait);
        sum.put("sent_late", sentLate);
        if (cache != null) {
            ObjectNode c = sum.putObject("adapter_cache");
            c.put("source", cache.source());
            c.put("slot_hits", cache.slotHits());
            c.put("host_hits", cache.hostHits());
            c.put("disk_misses", cache.diskMisses());
            c.put("hit_rate", cache.hitRate());
            c.put("slot_hit_rate", cache.slotHitRate());
        }
        Series s = series();
        ObjectNode series = o.putObject("per_second");
        array(series.putArray("sent"), s.sent());
        array(series.putArray("completed"), s.completed());
        array(series.putArray("failed"), s.failed());
        array(series.putArray("output_tokens"), s.outputTokens());
        ArrayNode armsJson = o.putArray("arms");
        for (Arm a : arms()) {
            ObjectNode j = armsJson.addObject();
            j.put("served_by", a.servedBy());
            j.put("requests", a.requests());
            j.put("completed", a.completed());
            j.put("output_tokens", a.outputTokens());
            summary(j.putObject("ttft_ms"), a.ttft());
            summary(j.putObject("inter_token_ms"), a.itl());
            summary(j.putObject("end_to_end_ms"), a.e2e());
        }
        ArrayNode byRank = o.putArray("requests_by_adapter_rank");
        int[] n = requestsByRank();
        for (int k = 0; k < n.length; k++) {
            byRank.addObject().put("rank", k).put("model", k == 0 ? baseModel : settings.adapterNames().get(k - 1))
                    .put("requests", n[k]);
        }
        ArrayNode reqs = o.putArray("requests");
        for (RequestResult r : results) {
            ObjectNode q = reqs.addObject();
            q.put("index", r.index());
            q.put("model", r.model());
            q.put("prompt_tokens", r.promptTokens());
            q.put("max_tokens", r.maxTokens());
            q.put("scheduled_ms", r.scheduledNanos() / 1e6);
            q.put("sent_ms", r.sentNanos() < 0 ? null : r.sentNanos() / 1e6);
            q.put("status", r.status());
            q.put("error", r.error());
            q.put("served_by", r.servedBy());
            q.put("ttft_ms", r.firstChunkNanos() < 0 ? null : (r.firstChunkNanos() - r.sentNanos()) / 1e6);
            q.put("end_to_end_ms", r.endNanos() < 0 || r.sentNanos() < 0 ? null
                    : (r.endNanos() - r.sentNanos()) / 1e6);
            q.put("chunks", r.chunkNanos().length);
            q.put("output_tokens", r.outputTokens());
        }
        try {
            return m.writeValueAsString(o) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void summary(ObjectNode o, Stats.Summary s) {
        o.put("count", s.count());
        if (s.count() > 0) {
            o.put("mean", s.mean());
            o.put("p50", s.p50());
            o.put("p90", s.p90());
            o.put("p99", s.p99());
            o.put("max", s.max());
        }
    }

    private static void array(ArrayNode a, double[] v) {
        for (double d : v) {
            a.add(Math.round(d * 100) / 100.0);
        }
    }

    public String html() {
        return HtmlReport.render(this);
    }

    /** Writes the HTML and/or JSON report where asked (null = not asked). */
    public void write(Path html, Path json) throws IOException {
        if (html != null) {
            LoadGenerator.writeFile(html, html());
        }
        if (json != null) {
            LoadGenerator.writeFile(json, json());
        }
    }

    /** The figures that go in one row of a comparison table, by column name. */
    public Map<String, String> row() {
        Map<String, String> r = new LinkedHashMap<>();
        r.put("offered req/s", String.format(Locale.ROOT, "%.2f", offeredRate()));
        r.put("achieved req/s", String.format(Locale.ROOT, "%.2f", achievedRate()));
        r.put("sent / ok / failed", sent + " / " + completed + " / " + failed());
        r.put("output tok/s", String.format(Locale.ROOT, "%.1f", outputTokensPerSecond()));
        r.put("TTFT p50 / p99 ms", ms(ttft.p50()) + " / " + ms(ttft.p99()));
        r.put("ITL p50 / p99 ms", ms(itl.p50()) + " / " + ms(itl.p99()));
        r.put("E2E p50 / p99 ms", ms(e2e.p50()) + " / " + ms(e2e.p99()));
        r.put("cache hit (slot)", cache == null ? "n/a" : pct(cache.hitRate()) + " (" + pct(cache.slotHitRate()) + ")");
        return r;
    }

    private static String ms(double v) {
        return Double.isNaN(v) ? "n/a" : v >= 100 ? String.format(Locale.ROOT, "%.0f", v)
                : String.format(Locale.ROOT, "%.1f", v);
    }
}
