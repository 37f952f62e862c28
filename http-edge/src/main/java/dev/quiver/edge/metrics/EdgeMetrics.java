package dev.quiver.edge.metrics;

import com.typesafe.config.Config;
import kamon.Kamon;
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
 */
public final class EdgeMetrics {
    private static PrometheusReporter reporter;

    private EdgeMetrics() {
    }

    public static synchronized void init(Config config) {
        if (reporter != null) {
            return;
        }
        Kamon.initWithoutAttaching(config);
        reporter = new PrometheusReporter("kamon.prometheus", config);
        Kamon.addReporter("quiver-prometheus", reporter);
    }

    /** The Prometheus exposition text of the last tick ("" before the first). */
    public static synchronized String scrape() {
        return reporter == null ? "" : reporter.scrapeData();
    }

    public static void request(String endpoint, String model, int status, long nanos) {
        Kamon.counter("quiver.http.requests").withTag("endpoint", endpoint).withTag("model", model)
                .withTag("status", Integer.toString(status)).increment();
        Kamon.timer("quiver.request.latency").withTag("endpoint", endpoint).withTag("model", model).record(nanos);
    }

    public static void firstToken(String model, long nanos) {
        Kamon.timer("quiver.time.to.first.token").withTag("model", model).record(nanos);
    }

    public static void interToken(String model, long nanos) {
        Kamon.timer("quiver.inter.token.latency").withTag("model", model).record(nanos);
    }

    public static void tokens(String model, long in, long out) {
        Kamon.counter("quiver.tokens.in").withTag("model", model).increment(in);
        Kamon.counter("quiver.tokens.out").withTag("model", model).increment(out);
    }
}
