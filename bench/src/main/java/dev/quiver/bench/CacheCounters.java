package dev.quiver.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;

/**
 * The server's cumulative adapter cache counters (summed over its workers): lookups that found the adapter in a
 * compute slot, in host memory, or only on disk. Read before and after a run; the difference is the run's hit rate.
 *
 * <p>Two sources. {@code GET /v1/adapters/NAME} (admin key) reads the counters every worker last published to the
 * cluster (a few times a second).
 * {@code GET /metrics} (open) is Kamon's Prometheus text, which lags the engine by up to one Kamon tick plus the
 * node's metrics interval, so after a run it is polled until the counters stop moving.
 */
public record CacheCounters(long slotHits, long hostHits, long diskMisses, String source) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public long lookups() {
        return slotHits + hostHits + diskMisses;
    }

    public CacheCounters minus(CacheCounters before) {
        return new CacheCounters(slotHits - before.slotHits, hostHits - before.hostHits,
                diskMisses - before.diskMisses, source);
    }

    /** Hits in any warm tier (slot or host) over lookups; NaN with no lookups. */
    public double hitRate() {
        return lookups() == 0 ? Double.NaN : (double) (slotHits + hostHits) / lookups();
    }

    /** Hits in a compute slot over lookups; NaN with no lookups. */
    public double slotHitRate() {
        return lookups() == 0 ? Double.NaN : (double) slotHits / lookups();
    }

    /** Reads the counters from the server at {@code settings.url()}. */
    static final class Reader {
        private final HttpClient http;
        private final LoadSettings settings;
        private final String adapter;
        private boolean useMetrics;

        Reader(HttpClient http, LoadSettings settings) {
            this.http = http;
            this.settings = settings;
            this.adapter = settings.adapterNames().isEmpty() ? null : settings.adapterNames().get(0);
            this.useMetrics = adapter == null || settings.apiKey() == null;
        }

        /** The counters now, or null when the server gives neither source. */
        CacheCounters read() throws InterruptedException {
            if (!useMetrics) {
                CacheCounters c = fromAdmin();
                if (c != null) {
                    return c;
                }
                useMetrics = true;
            }
            return fromMetrics();
        }

        /**
         * After the run: polled until unchanged, for 1 s on the admin view (workers publish their counters to the
         * cluster a few times a second) and 3 s on /metrics (Kamon's tick plus the node's metrics interval), at
         * most 20 s.
         */
        CacheCounters readSettled() throws InterruptedException {
            CacheCounters c = read();
            if (c == null) {
                return null;
            }
            Duration stable = c.source().equals("metrics") ? Duration.ofSeconds(3) : Duration.ofSeconds(1);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            long stableSince = System.nanoTime();
            while (System.nanoTime() < deadline) {
                Thread.sleep(250);
                CacheCounters next = read();
                if (next == null) {
                    return c;
                }
                if (next.lookups() != c.lookups()) {
                    stableSince = System.nanoTime();
                    c = next;
                } else if (System.nanoTime() - stableSince >= stable.toNanos()) {
                    return next;
                }
            }
            return c;
        }

        private CacheCounters fromAdmin() throws InterruptedException {
            String body = get(settings.endpoint("/v1/adapters/" + adapter));
            if (body == null) {
                return null;
            }
            try {
                JsonNode cache = JSON.readTree(body).path("cache");
                long slot = 0;
                long host = 0;
                long disk = 0;
                boolean any = false;
                for (Iterator<Map.Entry<String, JsonNode>> it = cache.fields(); it.hasNext(); ) {
                    JsonNode w = it.next().getValue();
                    if (w.isObject() && w.has("slot_hits")) {
                        slot += w.path("slot_hits").asLong();
                        host += w.path("host_hits").asLong();
                        disk += w.path("disk_misses").asLong();
                        any = true;
                    }
                }
                return any ? new CacheCounters(slot, host, disk, "admin") : null;
            } catch (IOException e) {
                return null;
            }
        }

        private CacheCounters fromMetrics() throws InterruptedException {
            String body = get(settings.endpoint("/metrics"));
            return body == null ? null : parseMetrics(body);
        }

        private String get(URI uri) throws InterruptedException {
            HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET();
            if (settings.apiKey() != null) {
                b.header("Authorization", "Bearer " + settings.apiKey());
            }
            try {
                HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
                return r.statusCode() == 200 ? r.body() : null;
            } catch (IOException e) {
                return null;
            }
        }
    }

    /**
     * Sums {@code quiver_adapter_cache_hits_total{tier="slot"|"host"}} and
     * {@code quiver_adapter_cache_misses_total{tier="disk"}} over all label sets of a Prometheus text page (series
     * without a tier label are not lookups and are skipped). A page without them (no lookup counted yet) reads as
     * zeros.
     */
    static CacheCounters parseMetrics(String text) {
        long slot = 0;
        long host = 0;
        long disk = 0;
        for (String line : text.split("\n")) {
            if (line.startsWith("#")) {
                continue;
            }
            int nameEnd = line.indexOf('{');
            if (nameEnd < 0) {
                nameEnd = line.indexOf(' ');
            }
            String name = nameEnd < 0 ? line : line.substring(0, nameEnd);
            boolean hits = name.equals("quiver_adapter_cache_hits_total");
            boolean misses = name.equals("quiver_adapter_cache_misses_total");
            if (!hits && !misses) {
                continue;
            }
            int brace = line.lastIndexOf('}');
            String[] rest = line.substring(brace >= 0 ? brace + 1 : line.indexOf(' ') + 1).trim().split("\\s+");
            long v;
            try {
                v = Math.round(Double.parseDouble(rest[0]));
            } catch (NumberFormatException e) {
                continue;
            }
            if (misses && line.contains("tier=\"disk\"")) {
                disk += v;
            } else if (line.contains("tier=\"slot\"")) {
                slot += v;
            } else if (line.contains("tier=\"host\"")) {
                host += v;
            }
        }
        return new CacheCounters(slot, host, disk, "metrics");
    }
}
