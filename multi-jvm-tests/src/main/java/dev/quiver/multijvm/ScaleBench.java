package dev.quiver.multijvm;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quiver.bench.BenchReport;
import dev.quiver.bench.CacheCounters;
import dev.quiver.bench.LoadGenerator;
import dev.quiver.bench.LoadSettings;
import dev.quiver.bench.Stats;
import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelMaker;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code bin/quiver bench scale [--adapters 2000] [--hot 5] [--rate 100] [--concurrency 12] [--duration 30]
 * [--host-copies N] [--node-heap 1280m] [--catalog-buckets N]}: many
 * adapters over a real 3-node cluster on loopback ({@link LocalCluster}). It writes {@code --adapters} distinct PEFT
 * adapters (rank 4 on q/v, distinct weights), then measures:
 * <ul>
 *   <li>registration: every adapter registered over HTTP (round robin over the nodes, 8 at a time, retried on 503 as a client would), adapters/s;</li>
 *   <li>convergence: from the last registration until every node's catalog lists all of them;</li>
 *   <li>listing: {@code /v1/models} and {@code /v1/adapters} latency, whole and one page of 100;</li>
 *   <li>memory: live heap of each node (after a full GC, {@code jcmd GC.class_histogram}) before and after, per
 *       adapter;</li>
 *   <li>gossip: each node's idle CPU use (from /proc) with no adapters and with all of them;</li>
 *   <li>restart, after the serving arms: node 3 stopped (SIGTERM) and started again: until it is ready, until its
 *       catalog lists all (before the arms, its aftermath fell into them: see the NOTE in {@link #run});</li>
 *   <li>serving: the same closed-ish load (Poisson arrivals at {@code --rate}, at most {@code --concurrency} in
 *       flight, fixed lengths) under Zipf(1.0) over all adapters and over the {@code --hot} most popular only, in
 *       the same run: output tokens/s and TTFT of each, and their ratio. Over all adapters three times: cold (most
 *       adapters are on no worker yet, so a request may wait for a placement, a fetch from the blob store and a
 *       load); warm, right after one request to every adapter placed each on a worker (as S-LoRA's experiment
 *       starts with every adapter in host memory), while the nodes still gossip that burst of placements; and
 *       warm again, after the second hot arm: the steady state. The hot adapters twice too: first, with the nodes'
 *       JIT still cold, and again between the warm arms; the ratios use the better of the two. Per arm it prints each process's CPU and each
 *       node's routing and cache counters; {@code QUIVER_JAVA_OPTS=-Dquiver.bench.profile=DIR} also records a
 *       Flight Recorder profile of every node per arm. The default rate saturates every arm on a 2-core machine
 *       (the throughput ratio compares capacities): 40 requests/s of 16 tokens offered at most ~611 output
 *       tokens/s, which the warm and hot arms both reached, and the ratio read 1.00 where it is 0.69 saturated.</li>
 * </ul>
 * Each worker keeps {@code --host-copies} validated adapters in host memory ({@code quiver.engine.max-cpu-loras};
 * default: all of them, about 120 KB each for this model) and 8 in compute slots. Node JVMs get {@code --node-heap}
 * (default 1280m: the host tier's default byte budget is a quarter of the heap, which then holds all 2,000; at 768m
 * a node holding 2,000 copies ran out of old generation and was downed during a profiled run).
 * {@code --catalog-buckets} sets {@code quiver.node.catalog-buckets} on every node (default: the node's default).
 */
public final class ScaleBench {

    /** What to run. {@code idleWindow}: how long each idle-CPU sample lasts (0 skips the gossip measurement). */
    public record Settings(int adapters, int hot, double rate, int concurrency, Duration duration, Duration idleWindow,
                           Path workDir, String keyspacePrefix, PrintStream out, int hostCopies, boolean warmArm,
                           String nodeHeap, int catalogBuckets) {
        /**
         * 32 host copies per worker (fewer than the adapters: evictions happen), no warm arm, 768 MiB nodes, the
         * catalog's default keys.
         */
        public Settings(int adapters, int hot, double rate, int concurrency, Duration duration, Duration idleWindow,
                        Path workDir, String keyspacePrefix, PrintStream out) {
            this(adapters, hot, rate, concurrency, duration, idleWindow, workDir, keyspacePrefix, out, 32, false,
                    "768m", 0);
        }
    }

    /** The load of one arm. */
    public record Serving(String arm, int adapters, int completed, int failed, java.util.Map<String, Integer> failures,
                          double outputTokensPerSecond, Stats.Summary ttftMs, CacheCounters cache) {
    }

    /** What was measured; times in ms, heap in bytes, CPU as a fraction of one core. */
    public record Report(int adapters, int registered, List<String> registrationErrors, long registerMs,
                         long convergeMs, List<List<String>> listedByNode, Stats.Summary modelsMs,
                         Stats.Summary adaptersMs, Stats.Summary pageMs, int modelsBytes, long[] heapBefore,
                         long[] heapAfter, double[] idleCpuBefore, double[] idleCpuAfter, long restartReadyMs,
                         long restartListedMs, List<String> listedAfterRestart, Serving all, Serving hot,
                         Serving allWarm, long warmUpMs, Serving hotAgain, Serving allWarmAgain) {
        public double registrationsPerSecond() {
            return registered * 1000.0 / Math.max(1, registerMs);
        }

        public double bytesPerAdapter() {
            double sum = 0;
            for (int i = 0; i < heapAfter.length; i++) {
                sum += heapAfter[i] - heapBefore[i];
            }
            return sum / heapAfter.length / Math.max(1, adapters);
        }

        /**
         * Output tokens/s over the hot adapters: the better of the two hot arms when there are two (the first runs
         * with the nodes' JIT cold, which would flatter the ratios below).
         */
        public double hotTokensPerSecond() {
            return Math.max(hot.outputTokensPerSecond(), hotAgain == null ? 0 : hotAgain.outputTokensPerSecond());
        }

        /** Over all adapters, cold, against over the hot ones. */
        public double throughputRatio() {
            return all.outputTokensPerSecond() / hotTokensPerSecond();
        }

        /** Over all adapters once each was placed, against over the hot ones; NaN without the warm arm. */
        public double warmThroughputRatio() {
            return allWarm == null ? Double.NaN : allWarm.outputTokensPerSecond() / hotTokensPerSecond();
        }

        /**
         * The second warm arm (after the second hot one, minutes after the warm-up's placements) against over the
         * hot ones; NaN without it.
         */
        public double warmAgainThroughputRatio() {
            return allWarmAgain == null ? Double.NaN : allWarmAgain.outputTokensPerSecond() / hotTokensPerSecond();
        }
    }

    private ScaleBench() {
    }

    public static void main(String[] argv) throws Exception {
        int adapters = 2000;
        int hot = 5;
        double rate = 100;
        int concurrency = 12;
        int duration = 30;
        int hostCopies = -1;
        String nodeHeap = "1280m";
        int catalogBuckets = 0;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--adapters" -> adapters = Integer.parseInt(argv[++i]);
                case "--hot" -> hot = Integer.parseInt(argv[++i]);
                case "--rate" -> rate = Double.parseDouble(argv[++i]);
                case "--concurrency" -> concurrency = Integer.parseInt(argv[++i]);
                case "--duration" -> duration = Integer.parseInt(argv[++i]);
                case "--host-copies" -> hostCopies = Integer.parseInt(argv[++i]);
                case "--node-heap" -> nodeHeap = argv[++i];
                case "--catalog-buckets" -> catalogBuckets = Integer.parseInt(argv[++i]);
                case "-h", "--help" -> {
                    System.out.println("usage: bin/quiver bench scale [--adapters 2000] [--hot 5] [--rate 100] "
                            + "[--concurrency 12] [--duration 30] [--host-copies ADAPTERS] [--node-heap 1280m] "
                            + "[--catalog-buckets N]");
                    return;
                }
                default -> {
                    System.err.println("quiver: unknown argument '" + argv[i] + "'");
                    System.exit(2);
                }
            }
        }
        Path home = Path.of(System.getProperty("quiver.home", ".")).toAbsolutePath();
        Report r = run(new Settings(adapters, hot, rate, concurrency, Duration.ofSeconds(duration),
                Duration.ofSeconds(20), home.resolve(".quiver/bench/scale"), "scale_bench", System.out,
                hostCopies < 0 ? adapters : hostCopies, true, nodeHeap, catalogBuckets));
        System.out.println();
        System.out.println(text(r, Instant.now()));
    }

    /** The report as the lines docs/BENCHMARKS.md records. */
    public static String text(Report r, Instant when) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "quiver bench scale, %s, %d adapters over 3 nodes%n", when, r.adapters()));
        b.append(String.format(Locale.ROOT, "  registration: %d ok in %d ms (%.1f adapters/s), %d errors%n",
                r.registered(), r.registerMs(), r.registrationsPerSecond(), r.registrationErrors().size()));
        b.append(String.format(Locale.ROOT, "  every node lists all: %d ms after the last registration%n",
                r.convergeMs()));
        b.append(String.format(Locale.ROOT, "  GET /v1/models (%d bytes): p50 %.1f ms, p99 %.1f ms; /v1/adapters: "
                        + "p50 %.1f ms, p99 %.1f ms; /v1/adapters?limit=100: p50 %.1f ms, p99 %.1f ms%n",
                r.modelsBytes(), r.modelsMs().p50(), r.modelsMs().p99(), r.adaptersMs().p50(), r.adaptersMs().p99(),
                r.pageMs().p50(), r.pageMs().p99()));
        for (int i = 0; i < r.heapAfter().length; i++) {
            b.append(String.format(Locale.ROOT, "  node %d: live heap %.1f MiB -> %.1f MiB; idle CPU %.1f%% -> "
                            + "%.1f%% of a core%n", i + 1, r.heapBefore()[i] / 1048576.0, r.heapAfter()[i] / 1048576.0,
                    100 * r.idleCpuBefore()[i], 100 * r.idleCpuAfter()[i]));
        }
        b.append(String.format(Locale.ROOT, "  heap per registered adapter: %.0f bytes per node%n",
                r.bytesPerAdapter()));
        b.append(String.format(Locale.ROOT, "  node 3 restarted: ready after %d ms, lists all after %d ms%n",
                r.restartReadyMs(), r.restartListedMs()));
        List<Serving> arms = new ArrayList<>(List.of(r.hot(), r.all()));
        if (r.allWarm() != null) {
            b.append(String.format(Locale.ROOT, "  warm-up: one request to each adapter in %d ms%n", r.warmUpMs()));
            arms.add(r.allWarm());
        }
        if (r.hotAgain() != null) {
            arms.add(r.hotAgain());
        }
        if (r.allWarmAgain() != null) {
            arms.add(r.allWarmAgain());
        }
        for (Serving s : arms) {
            b.append(String.format(Locale.ROOT, "  load over %d adapters (%s, Zipf 1.0): %d completed, %d failed %s, "
                            + "%.1f output tokens/s, TTFT p50 %.0f ms, p99 %.0f ms; cache %s%n", s.adapters(), s.arm(),
                    s.completed(), s.failed(), s.failures(), s.outputTokensPerSecond(), s.ttftMs().p50(),
                    s.ttftMs().p99(), s.cache() == null ? "not reported" : String.format(Locale.ROOT,
                            "%d lookups: %d slot hits, %d host hits, %d disk misses (%s)", s.cache().lookups(),
                            s.cache().slotHits(), s.cache().hostHits(), s.cache().diskMisses(), s.cache().source())));
        }
        b.append(String.format(Locale.ROOT, "  throughput over %d adapters / over %d (%.1f tokens/s, the better hot "
                        + "arm): cold %.3f", r.all().adapters(), r.hot().adapters(), r.hotTokensPerSecond(),
                r.throughputRatio()));
        b.append(r.allWarm() == null ? "" : String.format(Locale.ROOT, ", warm %.3f", r.warmThroughputRatio()));
        b.append(r.allWarmAgain() == null ? "\n" : String.format(Locale.ROOT, ", warm again %.3f%n",
                r.warmAgainThroughputRatio()));
        return b.toString();
    }

    public static Report run(Settings s) throws Exception {
        PrintStream out = s.out();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try (LocalCluster cluster = new LocalCluster(new LocalCluster.Settings(3, s.workDir(), s.keyspacePrefix(), """
                quiver.engine { max-loras = 8, max-cpu-loras = %d }
                %s
                """.formatted(Math.max(8, s.hostCopies()), s.catalogBuckets() > 0
                ? "quiver.node.catalog-buckets = " + s.catalogBuckets() : ""), s.nodeHeap()))) {
            List<String> names = writeAdapters(cluster.modelDir(), s.workDir().resolve("adapters"), s.adapters());
            out.println("scale: starting Cassandra and 3 nodes under " + s.workDir() + "...");
            cluster.startAll(Duration.ofSeconds(300));
            long[] heapBefore = new long[3];
            double[] idleBefore = new double[3];
            for (int i = 1; i <= 3; i++) {
                heapBefore[i - 1] = liveHeap(cluster.process(i));
            }
            idleCpu(cluster, s.idleWindow(), idleBefore);

            out.println("scale: registering " + names.size() + " adapters...");
            long t0 = System.nanoTime();
            List<String> errors = registerAll(cluster, names, s.workDir().resolve("adapters"), pool);
            AtomicInteger ok = new AtomicInteger(names.size() - errors.size());
            long registerMs = elapsedMs(t0);
            out.printf("scale: %d registered in %d ms, %d errors%n", ok.get(), registerMs, errors.size());

            long t1 = System.nanoTime();
            List<List<String>> listed = new ArrayList<>();
            for (int i = 1; i <= 3; i++) {
                listed.add(awaitListed(cluster, i, ok.get(), Duration.ofMinutes(5)));
            }
            long convergeMs = elapsedMs(t1);

            Stats.Summary modelsMs = latency(cluster, "/v1/models", 30);
            Stats.Summary adaptersMs = latency(cluster, "/v1/adapters", 30);
            Stats.Summary pageMs = latency(cluster, "/v1/adapters?limit=100&after=" + names.get(names.size() / 2), 30);
            int modelsBytes = fetch(cluster, 1, "/v1/models").body().getBytes(StandardCharsets.UTF_8).length;

            long[] heapAfter = new long[3];
            double[] idleAfter = new double[3];
            for (int i = 1; i <= 3; i++) {
                heapAfter[i - 1] = liveHeap(cluster.process(i));
            }
            idleCpu(cluster, s.idleWindow(), idleAfter);

            out.println("scale: load over the " + s.hot() + " hot adapters...");
            Serving hot = load(cluster, "hot", names.subList(0, s.hot()), s);
            out.println("scale: load over all " + names.size() + " adapters...");
            List<String> registered = names.stream().filter(n -> errors.stream().noneMatch(
                    e -> e.startsWith(n + ":"))).toList();
            Serving all = load(cluster, "cold", registered, s);
            Serving allWarm = null;
            Serving hotAgain = null;
            Serving allWarmAgain = null;
            long warmUpMs = 0;
            if (s.warmArm()) {
                out.println("scale: one request to each of the " + registered.size() + " adapters...");
                long t3 = System.nanoTime();
                touchEach(cluster, registered, s.concurrency());
                warmUpMs = elapsedMs(t3);
                out.println("scale: load over all " + registered.size() + " adapters, warm...");
                allWarm = load(cluster, "warm", registered, s);
                out.println("scale: load over the " + s.hot() + " hot adapters again...");
                hotAgain = load(cluster, "hot-again", names.subList(0, s.hot()), s);
                // NOTE: the first warm arm starts right after the warm-up's burst of placements, whose catalog
                // writes the nodes are still gossiping; this one, minutes later, is the steady state S-LoRA
                // measures (every adapter in host memory, nothing placed in the meantime).
                out.println("scale: load over all " + registered.size() + " adapters, warm again...");
                allWarmAgain = load(cluster, "warm-again", registered, s);
            }
            // NOTE: last, after the serving arms. Run before them, the restart's aftermath fell into the warm arm a
            // few minutes later: Distributed Data gossiped the 2,000-entry catalog between the nodes through the
            // whole arm with no catalog write behind it (most likely the pruning of node 3's old incarnation), and
            // the warm ratio read 0.57-0.69 instead of 0.81 (docs/BENCHMARKS.md, "Where the warm arm's time goes").
            out.println("scale: restarting node 3...");
            cluster.terminate(3);
            if (cluster.awaitExit(3, Duration.ofSeconds(90)) == null) {
                cluster.kill(3);
            }
            long t2 = System.nanoTime();
            cluster.start(3);
            cluster.awaitReady(3, 3, Duration.ofSeconds(300));
            long readyMs = elapsedMs(t2);
            List<String> afterRestart = awaitListed(cluster, 3, ok.get(), Duration.ofMinutes(5));
            long listedMs = elapsedMs(t2);
            return new Report(names.size(), ok.get(), List.copyOf(errors), registerMs, convergeMs, listed, modelsMs,
                    adaptersMs, pageMs, modelsBytes, heapBefore, heapAfter, idleBefore, idleAfter, readyMs, listedMs,
                    afterRestart, all, hot, allWarm, warmUpMs, hotAgain, allWarmAgain);
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Registers each name as a shared adapter from {@code dir/NAME} over HTTP, round robin over the nodes, as many at
     * a time as {@code pool} has threads, the way a careful client does: a 503 or 429 is retried after its
     * {@code Retry-After} (at most 5 tries), and a 409 on a retry (the earlier try did register it) counts as done.
     * The failures ("name: status body").
     */
    static List<String> registerAll(LocalCluster cluster, List<String> names, Path dir, ExecutorService pool)
            throws Exception {
        List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        List<CompletableFuture<Void>> regs = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            int n = i;
            regs.add(CompletableFuture.runAsync(() -> {
                String body = "{\"name\":\"" + names.get(n) + "\",\"shared\":true,\"source\":\""
                        + dir.resolve(names.get(n)).toUri() + "\"}";
                for (int attempt = 1; ; attempt++) {
                    HttpResponse<String> r = cluster.post(1 + (n + attempt - 1) % cluster.size(), "/v1/adapters",
                            body);
                    int status = r.statusCode();
                    if (status == 201 || status == 409 && attempt > 1) {
                        return;
                    }
                    if ((status == 503 || status == 429) && attempt < 5) {
                        long wait = r.headers().firstValue("retry-after").map(Long::parseLong).orElse(2L);
                        LocalCluster.sleep(Math.min(10, Math.max(1, wait)) * 1000);
                        continue;
                    }
                    errors.add(names.get(n) + ": " + status + " " + r.body());
                    return;
                }
            }, pool));
        }
        CompletableFuture.allOf(regs.toArray(CompletableFuture[]::new)).get(30, TimeUnit.MINUTES);
        return List.copyOf(errors);
    }

    /** {@code n} distinct rank-4 q/v adapters named {@code scale-0001..}, written once and reused by later runs. */
    static List<String> writeAdapters(Path modelDir, Path dir, int n) throws IOException {
        ModelConfig base = ModelConfig.load(modelDir);
        List<String> names = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            String name = String.format(Locale.ROOT, "scale-%04d", i);
            Path d = dir.resolve(name);
            if (!Files.isRegularFile(d.resolve("adapter_model.safetensors"))) {
                Files.createDirectories(d);
                ModelMaker.writeAdapter(d, base, new ModelMaker.AdapterSpec(name, 4, 8,
                        List.of(LoraModule.Q, LoraModule.V), false), DType.F32, 1000L + i);
            }
            names.add(name);
        }
        return names;
    }

    /** Pages through node {@code i}'s {@code /v1/adapters} until it lists {@code expected} names; the names. */
    static List<String> awaitListed(LocalCluster cluster, int node, int expected, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<String> names = List.of();
        while (System.nanoTime() < deadline) {
            names = listAll(cluster, node);
            if (names.size() >= expected) {
                return names;
            }
            LocalCluster.sleep(250);
        }
        throw new IllegalStateException("node " + node + " lists " + names.size() + " adapters, not " + expected
                + ", after " + timeout);
    }

    /** Every adapter name node {@code i} lists, following {@code last_id} page by page (100 at a time). */
    static List<String> listAll(LocalCluster cluster, int node) {
        List<String> out = new ArrayList<>();
        String after = null;
        for (int guard = 0; guard < 10_000; guard++) {
            JsonNode page = cluster.get(node, "/v1/adapters?limit=100" + (after == null ? "" : "&after=" + after));
            for (JsonNode a : page.path("data")) {
                out.add(a.path("name").asText());
            }
            if (!page.path("has_more").asBoolean()) {
                return out;
            }
            after = page.path("last_id").asText();
        }
        throw new IllegalStateException("more than 10,000 pages");
    }

    private static Stats.Summary latency(LocalCluster cluster, String path, int calls) {
        List<Double> ms = new ArrayList<>();
        for (int k = 0; k < calls; k++) {
            long t = System.nanoTime();
            HttpResponse<String> r = fetch(cluster, 1 + k % 3, path);
            if (r.statusCode() != 200) {
                throw new IllegalStateException(path + ": " + r.statusCode() + " " + r.body());
            }
            ms.add((System.nanoTime() - t) / 1e6);
        }
        return Stats.Summary.of(ms);
    }

    private static HttpResponse<String> fetch(LocalCluster cluster, int node, String path) {
        try {
            return cluster.client().send(HttpRequest.newBuilder(URI.create(cluster.url(node) + path))
                    .header("Authorization", "Bearer " + LocalCluster.ADMIN_KEY).timeout(Duration.ofSeconds(60))
                    .build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static Serving load(LocalCluster cluster, String arm, List<String> adapters, Settings s)
            throws IOException, InterruptedException {
        LoadSettings ls = LoadSettings.parse("--url", cluster.url(1), "--api-key", LocalCluster.ADMIN_KEY,
                "--rate", Double.toString(s.rate()), "--duration", Long.toString(s.duration().toSeconds()),
                "--adapter-names", String.join(",", adapters), "--zipf", "1.0", "--base-share", "0",
                "--prompt-tokens", "fixed:32", "--output-tokens", "fixed:16", "--temperature", "0",
                "--concurrency", Integer.toString(s.concurrency()), "--seed", "7", "--quiet");
        Map<String, Double>[] before = nodeCounters(cluster);
        long[] cpuBefore = processTicks(cluster);
        List<String> jfr = startProfiles(cluster, arm, s);
        long t = System.nanoTime();
        java.time.LocalTime start = java.time.LocalTime.now(java.time.ZoneOffset.UTC).withNano(0);
        BenchReport r = new LoadGenerator(ls, s.out()).run();
        double seconds = (System.nanoTime() - t) / 1e9;
        stopProfiles(cluster, jfr);
        long[] cpuAfter = processTicks(cluster);
        Map<String, Double>[] after = nodeCounters(cluster);
        // the arm's UTC times, to find it in the nodes' logs
        StringBuilder diag = new StringBuilder("scale: " + arm + " arm (" + start + "-"
                + java.time.LocalTime.now(java.time.ZoneOffset.UTC).withNano(0) + " UTC), CPU in cores over "
                + Math.round(seconds) + " s:");
        for (int i = 0; i < cpuAfter.length; i++) {
            diag.append(String.format(Locale.ROOT, " %s %.2f", i < 3 ? "node" + (i + 1) : i == 3 ? "cassandra"
                    : "bench", (cpuAfter[i] - cpuBefore[i]) / 100.0 / seconds));
        }
        s.out().println(diag);
        for (int i = 0; i < after.length; i++) {
            StringBuilder line = new StringBuilder("scale: " + arm + " arm, node " + (i + 1) + ":");
            for (Map.Entry<String, Double> e : after[i].entrySet()) {
                double d = e.getValue() - before[i].getOrDefault(e.getKey(), 0.0);
                if (d != 0) {
                    // counters are whole; the latency sums are seconds, kept to the millisecond
                    line.append(String.format(Locale.ROOT, d == Math.rint(d) ? " %s=%.0f" : " %s=%.3f", e.getKey(),
                            d));
                }
            }
            s.out().println(line);
        }
        return new Serving(arm, adapters.size(), r.completed(), r.failed(), r.failures(), r.outputTokensPerSecond(),
                r.ttftMs(), r.cache());
    }

    /** The counters worth comparing between arms, in node {@code i}'s {@code /metrics} (Prometheus text). */
    private static final java.util.regex.Pattern COUNTER = java.util.regex.Pattern.compile(
            "^(quiver_routing_decisions_total|quiver_engine_generated_tokens_total|quiver_engine_preemptions_total"
                    + "|quiver_adapter_cache_(?:hits|misses)_total|quiver_adapter_evictions_total"
                    + "|quiver_placement_latency_seconds_(?:count|sum)|quiver_routing_entity_ask_seconds_(?:count|sum)"
                    + "|quiver_adapter_fetch_seconds_(?:count|sum)"
                    + "|quiver_requests_resumed_total|quiver_replicated_writes_total)"
                    + "(\\{[^}]*})?\\s+(\\S+)$");

    /** Each node's counters named by {@link #COUNTER}, keyed by series (name and tags). */
    @SuppressWarnings("unchecked")
    private static Map<String, Double>[] nodeCounters(LocalCluster cluster) {
        Map<String, Double>[] out = new Map[cluster.size()];
        for (int i = 1; i <= cluster.size(); i++) {
            Map<String, Double> m = new java.util.TreeMap<>();
            HttpResponse<String> r = fetch(cluster, i, "/metrics");
            for (String line : r.body().split("\n")) {
                java.util.regex.Matcher x = COUNTER.matcher(line);
                if (x.matches()) {
                    String tags = x.group(2) == null ? "" : x.group(2).replaceAll("(worker|outcome|tier|result|map)=", "")
                            .replace("\"", "");
                    m.merge(x.group(1).replace("quiver_", "").replace("_total", "") + tags,
                            Double.parseDouble(x.group(3)), Double::sum);
                }
            }
            out[i - 1] = m;
        }
        return out;
    }

    /** CPU ticks (1/100 s) of the three nodes, Cassandra and this process. */
    private static long[] processTicks(LocalCluster cluster) throws IOException {
        long[] t = new long[5];
        for (int i = 1; i <= 3; i++) {
            t[i - 1] = cpuTicks(cluster.process(i).pid());
        }
        t[3] = cpuTicks(cluster.cassandraPid());
        t[4] = cpuTicks(ProcessHandle.current().pid());
        return t;
    }

    /**
     * With {@code -Dquiver.bench.profile=DIR}: a Flight Recorder profile of each node for the arm, written to
     * {@code DIR/ARM-nodeN.jfr}; the recording names to stop. Without it, none.
     */
    private static List<String> startProfiles(LocalCluster cluster, String arm, Settings s)
            throws IOException, InterruptedException {
        String dir = System.getProperty("quiver.bench.profile");
        if (dir == null) {
            return List.of();
        }
        Files.createDirectories(Path.of(dir));
        List<String> names = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            jcmd(cluster.process(i), "JFR.start", "name=" + arm, "settings=profile",
                    "filename=" + Path.of(dir, arm + "-node" + i + ".jfr").toAbsolutePath());
            names.add(arm);
        }
        return names;
    }

    private static void stopProfiles(LocalCluster cluster, List<String> names)
            throws IOException, InterruptedException {
        for (int i = 1; i <= names.size(); i++) {
            try {
                jcmd(cluster.process(i), "JFR.stop", "name=" + names.get(i - 1));
            } catch (IllegalStateException e) {
                // a node that died during the arm has no recording to stop; the arm's figures say what happened
                System.err.println("scale: node " + i + ": " + e.getMessage().lines().findFirst().orElse(""));
            }
        }
    }

    private static String jcmd(Process p, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                Long.toString(p.pid())));
        cmd.addAll(List.of(args));
        Process j = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String text = new String(j.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!j.waitFor(120, TimeUnit.SECONDS) || j.exitValue() != 0) {
            throw new IllegalStateException("jcmd " + String.join(" ", args) + " failed: " + text);
        }
        return text;
    }

    /**
     * One single-token completion for each adapter, {@code concurrency} at a time, round robin over the nodes: each
     * adapter is placed on a worker and loaded there. A failure is reported, not retried (the measured arm that
     * follows meets that adapter cold).
     */
    private static void touchEach(LocalCluster cluster, List<String> adapters, int concurrency)
            throws InterruptedException {
        ExecutorService touch = Executors.newFixedThreadPool(concurrency);
        AtomicInteger failed = new AtomicInteger();
        try {
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (int i = 0; i < adapters.size(); i++) {
                int n = i;
                all.add(CompletableFuture.runAsync(() -> {
                    String body = "{\"model\":\"" + adapters.get(n) + "\",\"prompt\":\"warm\",\"max_tokens\":1}";
                    try {
                        if (cluster.post(1 + n % cluster.size(), "/v1/completions", body).statusCode() != 200) {
                            failed.incrementAndGet();
                        }
                    } catch (RuntimeException e) {
                        failed.incrementAndGet();
                    }
                }, touch));
            }
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(30, TimeUnit.MINUTES);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("warm-up did not finish: " + e, e);
        } finally {
            touch.shutdownNow();
        }
        if (failed.get() > 0) {
            System.out.println("scale: warm-up: " + failed.get() + " of " + adapters.size() + " requests failed");
        }
    }

    /**
     * The node's live heap in bytes: {@code jcmd PID GC.class_histogram} runs a full GC first and ends with the
     * total of every live object.
     */
    static long liveHeap(Process p) throws IOException, InterruptedException {
        String text = jcmd(p, "GC.class_histogram");
        for (String line : text.split("\n")) {
            String t = line.trim();
            if (t.startsWith("Total")) {
                String[] f = t.split("\\s+");
                return Long.parseLong(f[2]);
            }
        }
        throw new IllegalStateException("no Total line in jcmd output: " + text);
    }

    /** Each node's CPU use over {@code window} (user + system ticks from /proc), as a fraction of one core. */
    private static void idleCpu(LocalCluster cluster, Duration window, double[] into) throws IOException {
        if (window.isZero()) {
            return;
        }
        long[] before = new long[3];
        for (int i = 1; i <= 3; i++) {
            before[i - 1] = cpuTicks(cluster.process(i).pid());
        }
        long t = System.nanoTime();
        LocalCluster.sleep(window.toMillis());
        double seconds = (System.nanoTime() - t) / 1e9;
        for (int i = 1; i <= 3; i++) {
            into[i - 1] = (cpuTicks(cluster.process(i).pid()) - before[i - 1]) / 100.0 / seconds;
        }
    }

    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    private static long elapsedMs(long t0) {
        return (System.nanoTime() - t0) / 1_000_000;
    }
}
