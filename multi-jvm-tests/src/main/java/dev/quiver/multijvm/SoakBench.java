package dev.quiver.multijvm;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quiver.bench.Distributions;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * {@code bin/quiver bench soak [--minutes 30] [--adapters 200]}: steady load over many adapters on a real 3-node
 * cluster ({@link LocalCluster}) while a driver keeps changing them and nodes restart, then checks that nothing
 * leaked or drifted.
 * <ul>
 *   <li>Load: {@code --clients} client threads, each sending a completion (every other one streamed) for an adapter
 *       drawn by Zipf(1.0) from the live set, to a node that is in service, then pausing {@code --think-ms}.</li>
 *   <li>Churn, every {@code --churn-seconds}, in turn: register a new adapter, publish a new version of one, roll one
 *       back, pin one (preload 1) or unpin it, retire one of the adapters the churn registered.</li>
 *   <li>Restarts: every {@code --restart-minutes} the next node (3, 2, 1, ...) is taken out of the clients' rotation
 *       (as a balancer would once its readiness turns false), sent {@code SIGTERM}, and started again.</li>
 * </ul>
 * Checks at the end: every client-visible error counted by kind, and whether it is documented (404 for an adapter
 * the churn retired, 429/503 with {@code Retry-After}); each node's live heap after a full GC over the run; no
 * worker with running or waiting sequences or KV in use once the load stopped; every slot still loadable (more
 * distinct adapters than there are slots served one after the other); every adapter's journal contiguous
 * ({@code journal_seq} 1..n) and its state (active version, status, versions, preload) equal to the fold of its
 * events.
 */
public final class SoakBench {

    /** What to run. */
    public record Settings(Duration length, int adapters, int clients, long thinkMs, Duration churnEvery,
                           Duration restartEvery, Path workDir, String keyspacePrefix, PrintStream out) {
    }

    /** One heap sample: minute into the run, node, incarnation, live bytes. */
    public record HeapSample(double minute, int node, int incarnation, long bytes) {
    }

    /** The outcome. {@code errors}: kind → count; {@code undocumented}: the kinds that are not documented ones. */
    public record Report(long requests, long ok, Map<String, Long> errors, Map<String, Long> undocumented,
                         List<String> examples, long churnOps, Map<String, Long> churnErrors,
                         Map<String, Long> churnRefused, int restarts,
                         List<HeapSample> heap, List<String> leaks, List<String> journalProblems, int adaptersChecked) {
        public boolean clean() {
            return undocumented.isEmpty() && churnErrors.isEmpty() && leaks.isEmpty() && journalProblems.isEmpty();
        }
    }

    private static final int SLOTS = 4;

    private SoakBench() {
    }

    public static void main(String[] argv) throws Exception {
        int minutes = 30;
        int adapters = 200;
        int clients = 6;
        long thinkMs = 100;
        int churnSeconds = 3;
        double restartMinutes = 5;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--minutes" -> minutes = Integer.parseInt(argv[++i]);
                case "--adapters" -> adapters = Integer.parseInt(argv[++i]);
                case "--clients" -> clients = Integer.parseInt(argv[++i]);
                case "--think-ms" -> thinkMs = Long.parseLong(argv[++i]);
                case "--churn-seconds" -> churnSeconds = Integer.parseInt(argv[++i]);
                case "--restart-minutes" -> restartMinutes = Double.parseDouble(argv[++i]);
                case "-h", "--help" -> {
                    System.out.println("usage: bin/quiver bench soak [--minutes 30] [--adapters 200] [--clients 6] "
                            + "[--think-ms 100] [--churn-seconds 3] [--restart-minutes 5]");
                    return;
                }
                default -> {
                    System.err.println("quiver: unknown argument '" + argv[i] + "'");
                    System.exit(2);
                }
            }
        }
        Path home = Path.of(System.getProperty("quiver.home", ".")).toAbsolutePath();
        Report r = run(new Settings(Duration.ofMinutes(minutes), adapters, clients, thinkMs,
                Duration.ofSeconds(churnSeconds), Duration.ofMillis((long) (restartMinutes * 60_000)),
                home.resolve(".quiver/bench/soak"), "soak_bench", System.out));
        System.out.println();
        System.out.println(text(r, Instant.now()));
        System.exit(r.clean() ? 0 : 1);
    }

    public static String text(Report r, Instant when) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "quiver bench soak, %s: %d requests, %d ok; errors %s (undocumented %s); "
                        + "%d churn operations, churn errors %s, documented refusals %s; %d restarts%n", when,
                r.requests(), r.ok(), r.errors(), r.undocumented(), r.churnOps(), r.churnErrors(), r.churnRefused(),
                r.restarts()));
        for (String e : r.examples()) {
            b.append("  e.g. ").append(e).append('\n');
        }
        b.append("  live heap after full GC (minute, node#incarnation, MiB):");
        for (HeapSample h : r.heap()) {
            b.append(String.format(Locale.ROOT, " %.1f:%d#%d=%.1f", h.minute(), h.node(), h.incarnation(),
                    h.bytes() / 1048576.0));
        }
        b.append('\n');
        b.append(String.format(Locale.ROOT, "  leaks: %s; journal: %d adapters checked, problems %s%n",
                r.leaks().isEmpty() ? "none" : r.leaks(), r.adaptersChecked(),
                r.journalProblems().isEmpty() ? "none" : r.journalProblems()));
        return b.toString();
    }

    public static Report run(Settings s) throws Exception {
        PrintStream out = s.out();
        try (LocalCluster cluster = new LocalCluster(new LocalCluster.Settings(3, s.workDir(), s.keyspacePrefix(),
                "quiver.engine { max-loras = " + SLOTS + ", max-cpu-loras = 8 }\n"
                        + "quiver.node.routing.deadline = 120s\n", "640m"))) {
            List<String> base = ScaleBench.writeAdapters(cluster.modelDir(), s.workDir().resolve("adapters"),
                    s.adapters() + 40);
            List<String> initial = base.subList(0, s.adapters());
            List<String> spare = base.subList(s.adapters(), base.size());
            out.println("soak: starting Cassandra and 3 nodes under " + s.workDir() + "...");
            cluster.startAll(Duration.ofSeconds(300));
            ExecutorService registering = Executors.newFixedThreadPool(8);
            try {
                List<String> failed = ScaleBench.registerAll(cluster, initial, s.workDir().resolve("adapters"),
                        registering);
                if (!failed.isEmpty()) {
                    throw new IllegalStateException("registering failed: " + failed);
                }
            } finally {
                registering.shutdownNow();
            }
            out.println("soak: " + initial.size() + " adapters registered; running for " + s.length());

            Soak soak = new Soak(cluster, s, new CopyOnWriteArrayList<>(initial), spare);
            return soak.run();
        }
    }

    private static String register(Settings s, String name, String dir) {
        return "{\"name\":\"" + name + "\",\"shared\":true,\"source\":\""
                + s.workDir().resolve("adapters").resolve(dir).toUri() + "\"}";
    }

    private static final class Soak {
        final LocalCluster cluster;
        final Settings s;
        final List<String> live;
        final List<String> spare;
        final Set<String> retired = ConcurrentHashMap.newKeySet();
        final List<String> churned = new CopyOnWriteArrayList<>();
        /** Adapters the churn pinned and has not unpinned yet, oldest first. */
        final List<String> pinned = new CopyOnWriteArrayList<>();
        final Set<Integer> inService = ConcurrentHashMap.newKeySet();
        final Map<String, AtomicLong> errors = new ConcurrentHashMap<>();
        final Map<String, AtomicLong> undocumented = new ConcurrentHashMap<>();
        final Map<String, AtomicLong> churnErrors = new ConcurrentHashMap<>();
        final Map<String, AtomicLong> churnRefused = new ConcurrentHashMap<>();
        final List<String> examples = Collections.synchronizedList(new ArrayList<>());
        final List<HeapSample> heap = Collections.synchronizedList(new ArrayList<>());
        final AtomicLong requests = new AtomicLong();
        final AtomicLong ok = new AtomicLong();
        final AtomicLong churnOps = new AtomicLong();
        final AtomicBoolean stop = new AtomicBoolean();
        final int[] incarnation = {0, 1, 1, 1};
        final long started = System.nanoTime();
        int restarts;

        Soak(LocalCluster cluster, Settings s, List<String> live, List<String> spare) {
            this.cluster = cluster;
            this.s = s;
            this.live = live;
            this.spare = spare;
            inService.addAll(List.of(1, 2, 3));
        }

        Report run() throws Exception {
            ExecutorService pool = Executors.newFixedThreadPool(s.clients() + 1);
            try {
                for (int c = 0; c < s.clients(); c++) {
                    long seed = c;
                    pool.submit(() -> client(seed));
                }
                pool.submit(this::churn);
                sampleHeap();
                long end = started + s.length().toNanos();
                long nextRestart = started + s.restartEvery().toNanos();
                long nextHeap = started + TimeUnit.MINUTES.toNanos(1);
                int victim = 3;
                while (System.nanoTime() < end) {
                    long now = System.nanoTime();
                    if (now >= nextRestart) {
                        restart(victim);
                        victim = victim == 1 ? 3 : victim - 1;
                        nextRestart = System.nanoTime() + s.restartEvery().toNanos();
                    } else if (now >= nextHeap) {
                        sampleHeap();
                        nextHeap = now + TimeUnit.MINUTES.toNanos(1);
                    }
                    LocalCluster.sleep(200);
                }
            } finally {
                stop.set(true);
                pool.shutdown();
                if (!pool.awaitTermination(180, TimeUnit.SECONDS)) {
                    pool.shutdownNow();
                }
            }
            sampleHeap();
            s.out().println("soak: load stopped; checking for leaks and the journals...");
            for (String name : pinned) {
                admin(1, "unpin", "/v1/adapters/" + name + "/preload", "{\"replicas\":0}", 200);
            }
            List<String> leaks = leaks();
            List<String> journal = new ArrayList<>();
            int checked = checkJournals(journal);
            return new Report(requests.get(), ok.get(), counts(errors), counts(undocumented), List.copyOf(examples),
                    churnOps.get(), counts(churnErrors), counts(churnRefused), restarts, List.copyOf(heap), leaks,
                    journal, checked);
        }

        private static Map<String, Long> counts(Map<String, AtomicLong> m) {
            Map<String, Long> out = new TreeMap<>();
            m.forEach((k, v) -> out.put(k, v.get()));
            return out;
        }

        private double minutes() {
            return (System.nanoTime() - started) / 6e10;
        }

        // ---- load ----

        private void client(long seed) {
            SplittableRandom rng = new SplittableRandom(seed);
            Distributions.Zipf zipf = new Distributions.Zipf(Math.max(1, s.adapters()), 1.0);
            long i = 0;
            while (!stop.get()) {
                List<Integer> nodes = new ArrayList<>(inService);
                if (nodes.isEmpty() || live.isEmpty()) {
                    LocalCluster.sleep(100);
                    continue;
                }
                int node = nodes.get(rng.nextInt(nodes.size()));
                String adapter = live.get((zipf.sample(rng) - 1) % live.size());
                boolean stream = (i++ & 1) == 0;
                requests.incrementAndGet();
                String kind;
                try {
                    kind = complete(node, adapter, stream, seed * 1_000_003 + i);
                } catch (RuntimeException e) {
                    kind = "client: " + e;
                }
                if (kind == null) {
                    ok.incrementAndGet();
                } else {
                    boolean documented = kind.startsWith("404") && retired.contains(adapter)
                            || (kind.startsWith("429") || kind.startsWith("503")) && kind.endsWith("retry-after");
                    String key = kind.replaceAll(":.*", "");
                    errors.computeIfAbsent(key, k -> new AtomicLong()).incrementAndGet();
                    if (!documented) {
                        undocumented.computeIfAbsent(key, k -> new AtomicLong()).incrementAndGet();
                        if (examples.size() < 10) {
                            examples.add(String.format(Locale.ROOT, "%.1f min, node %d, %s: %s", minutes(), node,
                                    adapter, kind));
                        }
                    }
                }
                LocalCluster.sleep(s.thinkMs());
            }
        }

        /** Null when the request succeeded, else its kind: "STATUS: detail" (with "retry-after" last if present). */
        private String complete(int node, String adapter, boolean stream, long seed) {
            String body = "{\"model\":\"" + adapter + "\",\"prompt\":\"Soak request " + seed + "\",\"max_tokens\":8,"
                    + "\"temperature\":0,\"ignore_eos\":true,\"stream\":" + stream + "}";
            HttpRequest req = HttpRequest.newBuilder(URI.create(cluster.url(node) + "/v1/completions"))
                    .header("Authorization", "Bearer " + LocalCluster.ADMIN_KEY)
                    .header("Content-Type", "application/json").timeout(Duration.ofSeconds(150))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build();
            try {
                if (!stream) {
                    HttpResponse<String> r = cluster.client().send(req, HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200) {
                        return LocalCluster.parse(r.body()).at("/choices/0/text").isTextual() ? null
                                : "200-without-text: " + r.body();
                    }
                    return failure(r.statusCode(), r.body(), r.headers().firstValue("retry-after").isPresent());
                }
                HttpResponse<Stream<String>> r = cluster.client().send(req, HttpResponse.BodyHandlers.ofLines());
                if (r.statusCode() != 200) {
                    String text = String.join("\n", r.body().toList());
                    return failure(r.statusCode(), text, r.headers().firstValue("retry-after").isPresent());
                }
                boolean done = false;
                String error = null;
                for (String line : (Iterable<String>) r.body()::iterator) {
                    if (line.equals("data: [DONE]")) {
                        done = true;
                    } else if (line.startsWith("data: ") && line.contains("\"error\"")) {
                        error = line;
                    }
                }
                return error != null ? "stream-error: " + error : done ? null : "stream-without-done: ";
            } catch (IOException e) {
                return "io: " + e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "interrupted: ";
            }
        }

        private static String failure(int status, String body, boolean retryAfter) {
            String detail = body.length() > 300 ? body.substring(0, 300) : body;
            return status + ": " + detail + (retryAfter ? " retry-after" : "");
        }

        // ---- churn ----

        private void churn() {
            SplittableRandom rng = new SplittableRandom(99);
            int step = 0;
            while (!stop.get()) {
                LocalCluster.sleep(s.churnEvery().toMillis());
                if (stop.get()) {
                    return;
                }
                int node = anyNode(rng);
                String target = live.get(rng.nextInt(live.size()));
                try {
                    churnStep(step++, node, target, rng);
                } catch (RuntimeException e) {
                    // A node answering badly must not end the churn: counted like any failed call.
                    churnErrors.computeIfAbsent("churn " + e.getClass().getSimpleName(), k -> new AtomicLong())
                            .incrementAndGet();
                    if (examples.size() < 10) {
                        examples.add(String.format(Locale.ROOT, "%.1f min, churn step on node %d: %s", minutes(),
                                node, e));
                    }
                }
            }
        }

        /** The next spare adapter directory a churn registration uses. */
        private int spareNext;
        /** For each adapter, the spare directories (indexes) published to it as new versions. */
        private final Map<String, Set<Integer>> publishedTo = new java.util.HashMap<>();

        private void churnStep(int step, int node, String target, SplittableRandom rng) {
            switch (step % 6) {
                case 0 -> {
                    String name = "churn-" + (step + 1);
                    String dir = spare.get(spareNext++ % spare.size());
                    if (admin(node, "register", "/v1/adapters", register(s, name, dir), 201)) {
                        live.add(name);
                        churned.add(name);
                    }
                }
                case 1 -> {
                    // A spare this adapter has not been given yet: the same files again would rightly be a 409
                    // ("already serves ... as version N"), which is the driver's mistake, not the server's.
                    Set<Integer> given = publishedTo.computeIfAbsent(target, t -> new java.util.HashSet<>());
                    if (given.size() < spare.size()) {
                        int pick = rng.nextInt(spare.size());
                        while (given.contains(pick)) {
                            pick = (pick + 1) % spare.size();
                        }
                        given.add(pick);
                        admin(node, "publish", "/v1/adapters/" + target + "/versions", "{\"source\":\""
                                + s.workDir().resolve("adapters").resolve(spare.get(pick)).toUri() + "\"}", 201);
                    }
                }
                case 2 -> {
                    JsonNode a = cluster.get(node, "/v1/adapters/" + target);
                    if (a.path("versions").size() > 1 && a.path("split").isNull()) {
                        // 409: nothing left to roll back to (an earlier rollback emptied the stack)
                        admin(node, "rollback", "/v1/adapters/" + target + "/rollback", "{}", 200, 409);
                    }
                }
                // 409: not pinned within 30 s (documented), e.g. while every slot is busy with a restart
                case 3 -> {
                    // only adapters the churn will not retire: a retired adapter's pin goes with it
                    if (!target.startsWith("churn-") && admin(node, "preload", "/v1/adapters/" + target + "/preload",
                            "{\"replicas\":1}", 200, 409)) {
                        pinned.add(target);
                    }
                }
                // Unpin the oldest pin: pins must not pile up (each holds a slot on a worker for good).
                case 4 -> {
                    if (!pinned.isEmpty()) {
                        admin(node, "unpin", "/v1/adapters/" + pinned.remove(0) + "/preload", "{\"replicas\":0}",
                                200);
                    }
                }
                default -> {
                    if (!churned.isEmpty()) {
                        String name = churned.remove(0);
                        retired.add(name);
                        live.remove(name);
                        admin(node, "retire", "/v1/adapters/" + name, null, 200);
                    }
                }
            }
        }

        private int anyNode(SplittableRandom rng) {
            List<Integer> nodes = new ArrayList<>(inService);
            return nodes.isEmpty() ? 1 : nodes.get(rng.nextInt(nodes.size()));
        }

        /**
         * One lifecycle call; false (and counted) when it did not answer {@code expected}. {@code documented}: other
         * statuses the API documents for this call, counted apart, not as errors.
         */
        private boolean admin(int node, String op, String path, String json, int expected, int... documented) {
            churnOps.incrementAndGet();
            try {
                HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(cluster.url(node) + path))
                        .header("Authorization", "Bearer " + LocalCluster.ADMIN_KEY)
                        .timeout(Duration.ofSeconds(60));
                b = json == null ? b.DELETE() : b.header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(json));
                HttpResponse<String> r = cluster.client().send(b.build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == expected) {
                    return true;
                }
                boolean ok = (r.statusCode() == 503 || r.statusCode() == 429)
                        && r.headers().firstValue("retry-after").isPresent()
                        || java.util.Arrays.stream(documented).anyMatch(d -> d == r.statusCode());
                if (ok) {
                    churnRefused.computeIfAbsent(op + " " + r.statusCode(), k -> new AtomicLong()).incrementAndGet();
                } else {
                    churnErrors.computeIfAbsent(op + " " + r.statusCode(), k -> new AtomicLong()).incrementAndGet();
                    if (examples.size() < 10) {
                        examples.add(String.format(Locale.ROOT, "%.1f min, %s %s on node %d: %d %s", minutes(), op,
                                path, node, r.statusCode(), r.body()));
                    }
                }
                return false;
            } catch (IOException e) {
                churnErrors.computeIfAbsent(op + " io", k -> new AtomicLong()).incrementAndGet();
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }

        // ---- restarts and heap ----

        private void restart(int node) {
            s.out().printf(Locale.ROOT, "soak: %.1f min: restarting node %d%n", minutes(), node);
            inService.remove(node);
            LocalCluster.sleep(1500); // a balancer takes it out of rotation when its readiness turns false
            cluster.terminate(node);
            if (cluster.awaitExit(node, Duration.ofSeconds(120)) == null) {
                s.out().println("soak: node " + node + " did not stop within 120 s of SIGTERM; killed");
                cluster.kill(node);
            }
            cluster.start(node);
            cluster.awaitReady(node, 3, Duration.ofSeconds(300));
            incarnation[node]++;
            restarts++;
            inService.add(node);
        }

        private void sampleHeap() {
            for (int n = 1; n <= 3; n++) {
                Process p = cluster.process(n);
                if (p == null || !p.isAlive() || !inService.contains(n)) {
                    continue;
                }
                try {
                    heap.add(new HeapSample(minutes(), n, incarnation[n], ScaleBench.liveHeap(p)));
                } catch (IOException | IllegalStateException e) {
                    s.out().println("soak: heap of node " + n + ": " + e);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        // ---- end checks ----

        /** Running/waiting sequences or KV in use with no load, and slots that can no longer take an adapter. */
        private List<String> leaks() {
            List<String> out = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            List<String> found;
            do {
                found = new ArrayList<>();
                for (int n = 1; n <= 3; n++) {
                    for (JsonNode w : cluster.get(n, "/ready").at("/checks/workers")) {
                        if (w.path("running").asInt() != 0 || w.path("waiting").asInt() != 0
                                || w.path("kv_usage").asDouble() != 0) {
                            found.add("node " + n + " sees " + w);
                        }
                    }
                }
                if (!found.isEmpty()) {
                    LocalCluster.sleep(500);
                }
            } while (!found.isEmpty() && System.nanoTime() < deadline);
            out.addAll(found);
            // More distinct adapters than the cluster has slots, one after the other through each node: every slot
            // must be evicted and reloaded; a slot held by a leaked reference fails or stalls this.
            List<String> names = new ArrayList<>(live);
            Collections.shuffle(names, new java.util.Random(5));
            for (int n = 1; n <= 3; n++) {
                for (String name : names.subList(0, Math.min(names.size(), 3 * SLOTS + 2))) {
                    String kind = complete(n, name, false, 1);
                    if (kind != null) {
                        out.add("node " + n + ", " + name + " after the load: " + kind);
                    }
                }
            }
            return out;
        }

        /** Every adapter's journal: {@code journal_seq} 1..n, and its state equal to the fold of its events. */
        private int checkJournals(List<String> problems) {
            List<String> names = new ArrayList<>(live);
            names.addAll(retired);
            for (String name : names) {
                JsonNode events = cluster.get(1, "/v1/adapters/" + name + "/events").path("data");
                int expectSeq = 1;
                int active = 0;
                int versions = 0;
                int preload = 0;
                boolean isRetired = false;
                for (JsonNode e : events) {
                    long seq = e.at("/detail/journal_seq").asLong();
                    if (seq != expectSeq) {
                        problems.add(name + ": journal_seq " + seq + " where " + expectSeq + " was expected");
                        break;
                    }
                    expectSeq++;
                    switch (e.path("type").asText()) {
                        case "Registered" -> {
                            active = 1;
                            versions = 1;
                        }
                        case "VersionPublished" -> {
                            versions = Math.max(versions, e.path("version").asInt());
                            if (e.at("/detail/activated").asBoolean(true)) {
                                active = e.path("version").asInt();
                            }
                        }
                        case "RolledBack", "SplitEnded" -> active = e.path("version").asInt();
                        case "PreloadChanged" -> preload = e.at("/detail/replicas").asInt();
                        case "Retired" -> isRetired = true;
                        default -> {
                        }
                    }
                }
                JsonNode st = cluster.get(1, "/v1/adapters/" + name);
                String want = "active v" + active + ", " + versions + " versions, preload " + preload + ", "
                        + (isRetired ? "retired" : "not retired");
                String got = "active v" + st.path("active_version").asInt() + ", " + st.path("versions").size()
                        + " versions, preload " + st.path("preload_replicas").asInt() + ", "
                        + (st.path("status").asText().equals("retired") ? "retired" : "not retired");
                if (!want.equals(got)) {
                    problems.add(name + ": the journal folds to " + want + " but the catalog says " + got);
                }
            }
            return names.size();
        }
    }
}
