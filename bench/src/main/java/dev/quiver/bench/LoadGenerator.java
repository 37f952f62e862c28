package dev.quiver.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code bin/quiver bench load}: an open-loop HTTP load generator for an OpenAI-compatible server. It sends the
 * requests of a {@link LoadPlan} (Poisson arrivals, Zipf adapter popularity, seeded lengths) to
 * {@code POST /v1/completions} with {@code stream: true}, times each response's chunks as they arrive
 * ({@link SseStream}), reads the server's adapter cache counters before and after ({@link CacheCounters}), and
 * returns a {@link BenchReport} (text, JSON, HTML).
 *
 * <p>Bounded: arrivals stop at {@code --duration} or {@code --requests}; requests still running
 * {@code --drain-timeout} after the last arrival are cancelled (their streams closed) and counted. Every request
 * goes to the one server given by {@code --url}. A request that finds {@code --concurrency} requests in flight
 * waits on the client; the wait is reported, and latencies are measured from the moment it was sent.
 */
public final class LoadGenerator {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final LoadSettings settings;
    private final PrintStream progress;
    private final HttpClient http;
    private final Set<InputStream> open = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean cancelling = new AtomicBoolean();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger finished = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private long zero;

    public LoadGenerator(LoadSettings settings, PrintStream progress) {
        this.settings = settings;
        this.progress = settings.quiet() ? null : progress;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
    }

    public static void main(String[] args) {
        LoadSettings s;
        try {
            if (args.length == 1 && (args[0].equals("-h") || args[0].equals("--help"))) {
                System.out.println(LoadSettings.USAGE);
                return;
            }
            s = LoadSettings.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("quiver: " + e.getMessage());
            System.err.println(LoadSettings.USAGE);
            System.exit(2);
            return;
        }
        try {
            BenchReport report = new LoadGenerator(s, System.err).run();
            System.out.print(report.text());
            report.write(s.html(), s.json());
            if (s.html() != null) {
                System.out.println("HTML report: " + s.html().toAbsolutePath());
            }
            if (s.json() != null) {
                System.out.println("JSON report: " + s.json().toAbsolutePath());
            }
            System.exit(report.completed() == 0 && !report.results().isEmpty() ? 1 : 0);
        } catch (IllegalStateException | IOException e) {
            System.err.println("quiver: " + e.getMessage());
            System.exit(1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            System.exit(130);
        }
    }

    /** Runs the whole benchmark: plan, counters before, load, drain, counters after. */
    public BenchReport run() throws InterruptedException, IOException {
        String base = settings.baseShare() > 0 ? baseModel() : settings.baseModel();
        LoadPlan plan = LoadPlan.build(settings, base);
        CacheCounters.Reader counters = new CacheCounters.Reader(http, settings);
        CacheCounters before = counters.read();
        Instant started = Instant.now();
        if (progress != null) {
            progress.printf("quiver bench: %d requests over %.1f s (offered %.2f req/s) to %s, %d adapters, "
                            + "concurrency cap %d%n", plan.requests().size(), plan.windowNanos() / 1e9,
                    plan.offeredRate(), settings.url(), settings.adapterNames().size(), settings.concurrency());
        }
        List<RequestResult> results = load(plan);
        CacheCounters after = counters.readSettled();
        CacheCounters delta = before == null || after == null ? null : after.minus(before);
        return new BenchReport(settings, plan, results, started, delta, base);
    }

    private List<RequestResult> load(LoadPlan plan) throws InterruptedException {
        ExecutorService pool = Executors.newFixedThreadPool(settings.concurrency(), r -> {
            Thread t = new Thread(r, "bench-request");
            t.setDaemon(true);
            return t;
        });
        List<Future<RequestResult>> futures = new ArrayList<>();
        zero = System.nanoTime() + Duration.ofMillis(50).toNanos();
        long nextProgress = Duration.ofSeconds(10).toNanos();
        for (LoadPlan.Planned p : plan.requests()) {
            long wait;
            while ((wait = zero + p.offsetNanos() - System.nanoTime()) > 0) {
                long untilProgress = zero + nextProgress - System.nanoTime();
                if (untilProgress <= 0) {
                    report(nextProgress, futures.size());
                    nextProgress += Duration.ofSeconds(10).toNanos();
                    continue;
                }
                LockSupport.parkNanos(Math.min(wait, untilProgress));
                if (Thread.interrupted()) {
                    throw new InterruptedException();
                }
            }
            futures.add(pool.submit(() -> send(p)));
        }
        pool.shutdown();
        long drainEnd = System.nanoTime() + settings.drain().toNanos();
        while (!pool.awaitTermination(Math.max(1, Math.min(drainEnd - System.nanoTime(),
                zero + nextProgress - System.nanoTime())), TimeUnit.NANOSECONDS)) {
            if (System.nanoTime() >= drainEnd) {
                if (progress != null) {
                    progress.printf("quiver bench: drain timeout: cancelling %d requests in flight%n", inFlight.get());
                }
                cancelling.set(true);
                for (InputStream in : open) {
                    try {
                        in.close();
                    } catch (IOException ignored) {
                        // closing is best effort; the interrupt below ends the read either way
                    }
                }
                pool.shutdownNow();
                pool.awaitTermination(30, TimeUnit.SECONDS);
                break;
            }
            if (System.nanoTime() >= zero + nextProgress) {
                report(nextProgress, futures.size());
                nextProgress += Duration.ofSeconds(10).toNanos();
            }
        }
        List<RequestResult> out = new ArrayList<>();
        for (int i = 0; i < futures.size(); i++) {
            Future<RequestResult> f = futures.get(i);
            LoadPlan.Planned p = plan.requests().get(i);
            if (f.isDone() && !f.isCancelled()) {
                try {
                    out.add(f.get());
                    continue;
                } catch (java.util.concurrent.ExecutionException e) {
                    out.add(failure(p, -1, 0, "client error: " + e.getCause()));
                    continue;
                }
            }
            // never started (cancelled at the drain deadline while waiting for the concurrency cap)
            out.add(failure(p, -1, 0, "cancelled at drain"));
        }
        return out;
    }

    private void report(long atNanos, int sent) {
        if (progress != null) {
            progress.printf("quiver bench: t=%3.0fs sent %d, finished %d (%d failed), in flight %d%n", atNanos / 1e9,
                    sent, finished.get(), failed.get(), inFlight.get());
        }
    }

    /** Sends one request and reads its stream to the end; never throws. */
    private RequestResult send(LoadPlan.Planned p) {
        long sent = System.nanoTime() - zero;
        inFlight.incrementAndGet();
        RequestResult r;
        try {
            r = exchange(p, sent);
        } catch (RuntimeException e) {
            r = failure(p, sent, 0, "client error: " + e);
        } finally {
            inFlight.decrementAndGet();
        }
        finished.incrementAndGet();
        if (!r.ok()) {
            failed.incrementAndGet();
        }
        return r;
    }

    private RequestResult exchange(LoadPlan.Planned p, long sent) {
        HttpRequest.Builder b = HttpRequest.newBuilder(settings.endpoint("/v1/completions"))
                .timeout(settings.timeout()).header("Content-Type", "application/json")
                .header("Accept", "text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofString(body(p)));
        if (settings.apiKey() != null) {
            b.header("Authorization", "Bearer " + settings.apiKey());
        }
        InputStream in = null;
        try {
            HttpResponse<InputStream> resp = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            in = resp.body();
            open.add(in);
            if (resp.statusCode() != 200) {
                byte[] head = in.readNBytes(8192);
                return failure(p, sent, resp.statusCode(), "http " + resp.statusCode() + errorType(head));
            }
            SseStream sse = new SseStream();
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = reader.readLine()) != null; ) {
                    sse.line(line, System.nanoTime() - zero);
                }
            }
            long end = System.nanoTime() - zero;
            SseStream.Result res = sse.finish();
            String error = res.error() != null ? "stream error: " + res.error()
                    : !res.done() ? (cancelling.get() ? "cancelled at drain" : "incomplete stream") : null;
            return new RequestResult(p.index(), p.model(), p.adapterRank(), p.promptIds().length, p.maxTokens(),
                    p.offsetNanos(), sent, 200, error, res.chunkNanos(), end, res.outputTokens(),
                    RequestResult.arm(resp.headers().firstValue("x-quiver-adapter").orElse(null)));
        } catch (HttpTimeoutException e) {
            return failure(p, sent, 0, "timeout");
        } catch (IOException e) {
            return failure(p, sent, 0, cancelling.get() ? "cancelled at drain" : "io: " + e.getClass().getSimpleName());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return failure(p, sent, 0, "cancelled at drain");
        } finally {
            if (in != null) {
                open.remove(in);
            }
        }
    }

    private RequestResult failure(LoadPlan.Planned p, long sent, int status, String error) {
        long end = sent < 0 ? -1 : System.nanoTime() - zero;
        return new RequestResult(p.index(), p.model(), p.adapterRank(), p.promptIds().length, p.maxTokens(),
                p.offsetNanos(), sent, status, error, new long[0], end, 0);
    }

    private static String errorType(byte[] body) {
        try {
            JsonNode e = JSON.readTree(body).path("error");
            String type = e.path("type").asText("");
            return type.isEmpty() ? "" : " " + type;
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    private String body(LoadPlan.Planned p) {
        ObjectNode o = JSON.createObjectNode();
        o.put("model", p.model());
        ArrayNode ids = o.putArray("prompt");
        for (int id : p.promptIds()) {
            ids.add(id);
        }
        o.put("max_tokens", p.maxTokens());
        o.put("temperature", settings.temperature());
        o.put("seed", settings.seed() + p.index());
        o.put("ignore_eos", true);
        // one user per request: a traffic split spreads them over its versions by weight
        o.put("user", "bench-" + settings.seed() + "-" + p.index());
        o.put("stream", true);
        o.putObject("stream_options").put("include_usage", true);
        return o.toString();
    }

    /** The base model's name: --base-model, else the first model without a parent in GET /v1/models. */
    private String baseModel() throws InterruptedException {
        if (settings.baseModel() != null) {
            return settings.baseModel();
        }
        HttpRequest.Builder b = HttpRequest.newBuilder(settings.endpoint("/v1/models"))
                .timeout(Duration.ofSeconds(10)).GET();
        if (settings.apiKey() != null) {
            b.header("Authorization", "Bearer " + settings.apiKey());
        }
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new IllegalStateException("GET /v1/models answered " + r.statusCode() + " (check --api-key), "
                        + "or give --base-model");
            }
            for (JsonNode m : JSON.readTree(r.body()).path("data")) {
                JsonNode parent = m.get("parent");
                if (parent == null || parent.isNull()) {
                    return m.path("id").asText();
                }
            }
            throw new IllegalStateException("GET /v1/models lists no base model; give --base-model");
        } catch (IOException e) {
            throw new IllegalStateException("cannot reach " + settings.endpoint("/v1/models") + ": " + e.getMessage());
        }
    }

    /** Writes {@code text} to {@code file}, making its directory. */
    static void writeFile(Path file, String text) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) {
            Files.createDirectories(dir);
        }
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }
}
