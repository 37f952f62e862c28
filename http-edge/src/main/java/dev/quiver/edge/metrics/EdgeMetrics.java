package dev.quiver.edge.metrics;

import com.typesafe.config.Config;
import kamon.Kamon;
import kamon.tag.TagSet;
import kamon.prometheus.PrometheusReporter;

/**
 * Kamon instruments of the edge, and the Prometheus text that {@code GET /metrics} serves. Kamon is one per JVM:
 * {@link #init} starts it once (without instrumentation agents, modules or Kamon's own HTTP server) and registers
 * one in-process {@link PrometheusReporter} whose {@code scrapeData()} the route returns. Kamon hands reporters a
 * snapshot every {@code kamon.metric.tick-interval}, so /metrics lags by up to one tick.
 *
 * <p>Metric names (Prometheus spelling): {@code quiver_http_requests_total{endpoint,model,status}},
 * {@code quiver_request_latency_seconds}, {@code quiver_time_to_first_token_seconds},
 * {@code quiver_inter_token_latency_seconds}, {@code quiver_tokens_in_total}, {@code quiver_tokens_out_total}; the
 * node adds the engine's (batch size, queue depth, KV use, adapter cache tiers, loads, evictions).
 *
 * <p>Histograms are labelled by model only for the first {@code quiver.edge.metrics.max-model-histograms} distinct
 * models (adapters) this JVM records; later ones share the label {@value #OTHER}. Counters keep every model's label.
 */
public final class EdgeMetrics {
    /** The model (or adapter) label of histograms past the limit. */
    public static final String OTHER = "_other";

    private static PrometheusReporter reporter;
    private static volatile int maxModelHistograms = 100;
    private static final java.util.Set<String> HISTOGRAM_MODELS = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private EdgeMetrics() {
    }

    public static synchronized void init(Config config) {
        if (reporter != null) {
            return;
        }
        if (config.hasPath("quiver.edge.metrics.max-model-histograms")) {
            maxModelHistograms = config.getInt("quiver.edge.metrics.max-model-histograms");
        }
        Kamon.initWithoutAttaching(config);
        reporter = new PrometheusReporter("kamon.prometheus", config);
        Kamon.addReporter("quiver-prometheus", reporter);
    }

    /** The Prometheus exposition text of the last tick ("" before the first). */
    public static synchronized String scrape() {
        return reporter == null ? "" : reporter.scrapeData();
    }

    /**
     * The label a histogram records {@code model} under: the model itself while fewer than the limit of distinct
     * models have a histogram label (or it already has one), else {@value #OTHER}.
     */
    static String histogramLabel(String model) {
        if (HISTOGRAM_MODELS.contains(model)) {
            return model;
        }
        // NOTE: two threads may both pass the size check and overshoot the limit by a few; the bound stays.
        if (HISTOGRAM_MODELS.size() < maxModelHistograms) {
            HISTOGRAM_MODELS.add(model);
            return model;
        }
        return OTHER;
    }

    /** For tests: forget which models have a histogram label and set the limit. */
    static void resetHistogramLabels(int limit) {
        HISTOGRAM_MODELS.clear();
        maxModelHistograms = limit;
    }

    public static void request(String endpoint, String model, int status, long nanos) {
        Kamon.counter("quiver.http.requests").withTags(TagSet.of("endpoint", endpoint).withTag("model", model)
                .withTag("status", Integer.toString(status))).increment();
        Kamon.timer("quiver.request.latency").withTags(TagSet.of("endpoint", endpoint).withTag("model",
                histogramLabel(model))).record(nanos);
    }

    public static void firstToken(String model, long nanos) {
        Kamon.timer("quiver.time.to.first.token").withTag("model", histogramLabel(model)).record(nanos);
    }

    public static void interToken(String model, long nanos) {
        Kamon.timer("quiver.inter.token.latency").withTag("model", histogramLabel(model)).record(nanos);
    }

    public static void tokens(String model, long in, long out) {
        Kamon.counter("quiver.tokens.in").withTag("model", model).increment(in);
        Kamon.counter("quiver.tokens.out").withTag("model", model).increment(out);
    }

    // ---- per served version: labels adapter (the adapter's name, or the base model's) and version (N, or "base") ----

    /** The labels of a served model: the adapter and its version, or the base model and {@code base}. */
    private static String[] labels(dev.quiver.edge.api.Served s) {
        return s.adapter() == null ? new String[] {s.baseModel(), "base"}
                : new String[] {s.adapter(), Integer.toString(s.version())};
    }

    /** {@link #labels}, with the adapter past the histogram limit as {@value #OTHER} (and its version "_other"). */
    private static String[] histogramLabels(dev.quiver.edge.api.Served s) {
        String[] l = labels(s);
        return histogramLabel(l[0]).equals(OTHER) ? new String[] {OTHER, OTHER} : l;
    }

    /**
     * The tags {@code adapter} and {@code version} of {@link #labels}. Multi-tag series take one {@link TagSet}: each
     * chained {@code withTag} would register a series of its own (with fewer tags, staying at zero) on /metrics.
     */
    private static TagSet version(String[] l) {
        return TagSet.of("adapter", l[0]).withTag("version", l[1]);
    }

    /**
     * One request ended ({@code outcome}: ok | error) on the version that served it:
     * {@code quiver_version_requests_total{adapter,version,outcome}}, {@code quiver_version_tokens_in_total} and
     * {@code _out_total}; a request served by the base model in place of its adapter also counts in
     * {@code quiver_fallback_requests_total{adapter}} (the adapter asked for).
     */
    public static void versionRequest(dev.quiver.edge.api.Served s, String outcome, long in, long out) {
        if (s == null) {
            return;
        }
        String[] l = labels(s);
        Kamon.counter("quiver.version.requests").withTags(version(l).withTag("outcome", outcome)).increment();
        Kamon.counter("quiver.version.tokens.in").withTags(version(l)).increment(in);
        Kamon.counter("quiver.version.tokens.out").withTags(version(l)).increment(out);
        if (s.isFallback()) {
            String from = s.fallbackFrom();
            int at = from.lastIndexOf("@v");
            Kamon.counter("quiver.fallback.requests").withTags(TagSet.of("adapter", at > 0 ? from.substring(0, at)
                    : from).withTag("outcome", outcome)).increment();
        }
    }

    /** {@code quiver_version_time_to_first_token_seconds{adapter,version}}. */
    public static void versionFirstToken(dev.quiver.edge.api.Served s, long nanos) {
        if (s != null) {
            String[] l = histogramLabels(s);
            Kamon.timer("quiver.version.time.to.first.token").withTags(version(l)).record(nanos);
        }
    }

    /** {@code quiver_version_inter_token_latency_seconds{adapter,version}}. */
    public static void versionInterToken(dev.quiver.edge.api.Served s, long nanos) {
        if (s != null) {
            String[] l = histogramLabels(s);
            Kamon.timer("quiver.version.inter.token.latency").withTags(version(l)).record(nanos);
        }
    }
}
