package dev.quiver.multijvm;

import static dev.quiver.multijvm.LocalCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A rolling restart of a real 3-node cluster under load: Cassandra and three node JVMs on loopback that form their
 * cluster through Cluster Bootstrap (so any node, the first included, can leave and join again), each restarted in
 * turn with {@code SIGTERM} (coordinated shutdown) while clients stream completions without pause.
 *
 * <p>The clients stand in for a load balancer: they send each request to a node whose management {@code /ready}
 * answered 200 at its last poll (every {@value #READY_POLL_MS} ms), and send a request that a node did not take at
 * all (connection refused, or 503 before the stream began) to another one, as a balancer does. Every request uses
 * greedy decoding, so each must stream exactly the tokens of the same request in an undisturbed run.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RollingRestartIT {
    static final int NODES = 3;
    static final int ADAPTERS = 6;
    /** Distinct requests (adapter x prompt); request i is variant i % VARIANTS. */
    static final int VARIANTS = 12;
    static final int MAX_TOKENS = 40;
    /** Streams in flight at any time. */
    static final int CONCURRENCY = 4;
    /** The most requests the load sends, whatever happens (it stops earlier, when the last node is back). */
    static final int MAX_REQUESTS = 2000;
    /** The most times one request is sent to another node because a node did not take it. */
    static final int MAX_REFUSALS = 10;
    static final long READY_POLL_MS = 150;
    static final Duration START = Duration.ofSeconds(240);

    LocalCluster cluster;
    ExecutorService pool;
    Path work;
    /** The nodes whose management /ready said 200 at the last poll. */
    volatile List<Integer> ready = List.of();
    final AtomicBoolean polling = new AtomicBoolean(true);

    @BeforeAll
    void start() {
        work = Path.of("target", "multi-jvm", "rolling-restart").toAbsolutePath();
        pool = Executors.newFixedThreadPool(CONCURRENCY + 2);
        cluster = new LocalCluster(new LocalCluster.Settings(NODES, work, "rolling_it", """
                # a balancer polling /ready every 150 ms has stopped sending long before the edge refuses
                quiver.node.shutdown.readiness-grace = 2s
                # streams in flight, on the edge and on the worker, get this long to finish
                quiver.edge.shutdown-deadline = 90s
                pekko.coordinated-shutdown.phases.service-requests-done.timeout = 120s
                quiver.node.routing.deadline = 120s
                """, "512m", LocalCluster.Formation.BOOTSTRAP));
        for (int i = 1; i <= NODES; i++) {
            cluster.start(i);
        }
        for (int i = 1; i <= NODES; i++) {
            cluster.awaitReady(i, NODES, START);
        }
        for (int a = 1; a <= ADAPTERS; a++) {
            HttpResponse<String> r = cluster.post(1, "/v1/adapters", "{\"name\":\"ft-" + a + "\",\"shared\":true,"
                    + "\"source\":\"" + cluster.modelDir().resolve("adapters/adapter-0" + a).toUri() + "\"}");
            assertEquals(201, r.statusCode(), r.body());
        }
        pool.submit(this::pollReadiness);
    }

    @AfterAll
    void stop() {
        polling.set(false);
        if (pool != null) {
            pool.shutdownNow();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    /** Keeps {@link #ready} current, like a load balancer's health checks. */
    void pollReadiness() {
        while (polling.get()) {
            List<Integer> now = new ArrayList<>();
            for (int i = 1; i <= NODES; i++) {
                try {
                    HttpResponse<String> r = cluster.client().send(HttpRequest.newBuilder(URI.create(
                            cluster.managementUrl(i) + "/ready")).timeout(Duration.ofSeconds(1)).build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() == 200) {
                        now.add(i);
                    }
                } catch (IOException e) {
                    // not answering: not ready
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            ready = List.copyOf(now);
            try {
                Thread.sleep(READY_POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** A ready node for request {@code i}, waiting (bounded) while none is. */
    int pickNode(int i) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            List<Integer> r = ready;
            if (!r.isEmpty()) {
                return r.get(Math.floorMod(i, r.size()));
            }
            LocalCluster.sleep(50);
        }
        throw new AssertionError("no node was ready for 60 s");
    }

    static String adapter(int variant) {
        return "ft-" + (1 + variant % ADAPTERS);
    }

    static String body(int variant) {
        return "{\"model\":\"" + adapter(variant) + "\",\"prompt\":\"Once upon a time, story " + variant + "\","
                + "\"max_tokens\":" + MAX_TOKENS + ",\"temperature\":0,\"ignore_eos\":true,\"logprobs\":0,"
                + "\"stream\":true}";
    }

    /** One request as the client saw it, with the node that finally took it and how often it was refused. */
    record Sent(int index, int node, int refusals, SseCompletion result) {
    }

    Sent send(int i) {
        int refusals = 0;
        while (true) {
            int node = pickNode(i + refusals);
            SseCompletion r = SseCompletion.run(cluster.client(), cluster.url(node), LocalCluster.ADMIN_KEY,
                    body(i % VARIANTS), Duration.ofSeconds(180));
            if (!r.refused() || refusals >= MAX_REFUSALS) {
                return new Sent(i, node, refusals, r);
            }
            refusals++;
            LocalCluster.sleep(READY_POLL_MS);
        }
    }

    /** Sends requests from {@code CONCURRENCY} clients back to back until {@code stop} or {@code count} requests. */
    List<Sent> load(AtomicBoolean stop, int count) throws Exception {
        AtomicInteger next = new AtomicInteger();
        List<Sent> out = new CopyOnWriteArrayList<>();
        List<Future<?>> clients = new ArrayList<>();
        for (int c = 0; c < CONCURRENCY; c++) {
            clients.add(pool.submit(() -> {
                int i;
                while (!stop.get() && (i = next.getAndIncrement()) < count) {
                    out.add(send(i));
                }
            }));
        }
        for (Future<?> f : clients) {
            f.get(30, TimeUnit.MINUTES);
        }
        List<Sent> sorted = new ArrayList<>(out);
        sorted.sort((a, b) -> Integer.compare(a.index(), b.index()));
        return sorted;
    }

    /** Whether every node other than {@code node} lists {@code node}'s worker as draining in its /ready. */
    boolean othersSeeDraining(int node) {
        String worker = "node-" + node + "/worker-0";
        for (int other = 1; other <= NODES; other++) {
            if (other == node) {
                continue;
            }
            boolean seen = false;
            for (JsonNode w : cluster.get(other, "/ready").at("/checks/workers")) {
                if (w.path("name").asText().equals(worker)) {
                    seen = w.path("draining").asBoolean() && !w.path("ready").asBoolean();
                }
            }
            if (!seen) {
                return false;
            }
        }
        return true;
    }

    @Test
    void each_node_restarted_in_turn_under_load_fails_no_request_and_changes_no_token() throws Exception {
        // the undisturbed run: each variant twice, with the same concurrency; also places the adapters
        List<Sent> reference = load(new AtomicBoolean(), 2 * VARIANTS);
        Map<Integer, List<String>> want = new ConcurrentHashMap<>();
        Map<Integer, String> wantText = new ConcurrentHashMap<>();
        long baselineGap = 0;
        long baselineFirst = 0;
        for (Sent s : reference) {
            assertTrue(s.result().ok(), "undisturbed request " + s.index() + ": " + s.result());
            assertEquals(MAX_TOKENS, s.result().tokens().size(), "undisturbed request " + s.index());
            int v = s.index() % VARIANTS;
            List<String> prev = want.putIfAbsent(v, s.result().tokens());
            assertTrue(prev == null || prev.equals(s.result().tokens()), "greedy output of variant " + v
                    + " is the same every time when nothing is disturbed");
            wantText.putIfAbsent(v, s.result().text());
            baselineGap = Math.max(baselineGap, s.result().maxGapMs());
            baselineFirst = Math.max(baselineFirst, s.result().firstTokenMs());
        }

        AtomicBoolean stop = new AtomicBoolean();
        Future<List<Sent>> loaded = pool.submit(() -> load(stop, MAX_REQUESTS));
        LocalCluster.sleep(3000); // the load is running on every node
        List<String> steps = new ArrayList<>();
        long rollStart = System.nanoTime();
        try {
            for (int node = 1; node <= NODES; node++) {
                long t0 = System.nanoTime();
                cluster.terminate(node);
                int n = node;
                await(Duration.ofSeconds(10), () -> othersSeeDraining(n), "the other nodes route nothing more to "
                        + "node " + node + "'s worker (draining in their /ready)");
                long drainSeenMs = (System.nanoTime() - t0) / 1_000_000;
                // adapters are served throughout: every one answers through a ready node while this one drains
                for (int a = 1; a <= ADAPTERS; a++) {
                    int via = pickNode(node + a);
                    HttpResponse<String> r = cluster.post(via, "/v1/completions", "{\"model\":\"ft-" + a + "\","
                            + "\"prompt\":\"ping\",\"max_tokens\":2}");
                    assertEquals(200, r.statusCode(), "ft-" + a + " through node " + via + " while node " + node
                            + " shuts down: " + r.body());
                }
                Integer exit = cluster.awaitExit(node, Duration.ofSeconds(180));
                assertNotNull(exit, "node " + node + " exits after SIGTERM; see " + cluster.log(node));
                long exitedMs = (System.nanoTime() - t0) / 1_000_000;
                cluster.start(node);
                for (int i = 1; i <= NODES; i++) {
                    cluster.awaitReady(i, NODES, START);
                }
                long backMs = (System.nanoTime() - t0) / 1_000_000;
                steps.add("node " + node + ": draining seen by the others after " + drainSeenMs + " ms, exited ("
                        + exit + ") after " + exitedMs + " ms, ready again in a cluster of " + NODES + " after "
                        + backMs + " ms");
            }
        } finally {
            stop.set(true);
        }
        long rollMs = (System.nanoTime() - rollStart) / 1_000_000;
        List<Sent> disturbed = loaded.get(10, TimeUnit.MINUTES);

        List<String> problems = new ArrayList<>();
        long worstGap = 0;
        long worstFirst = 0;
        int refusals = 0;
        for (Sent s : disturbed) {
            SseCompletion r = s.result();
            int v = s.index() % VARIANTS;
            refusals += s.refusals();
            if (!r.ok()) {
                problems.add("request " + s.index() + " via node " + s.node() + ": status " + r.status() + ", "
                        + r.error());
            } else if (!want.get(v).equals(r.tokens()) || !wantText.get(v).equals(r.text())
                    || !"length".equals(r.finish())) {
                problems.add("request " + s.index() + " via node " + s.node() + ": " + r.tokens().size()
                        + " tokens, differs from the undisturbed run at token "
                        + FailoverIT.firstDifference(want.get(v), r.tokens()));
            }
            worstGap = Math.max(worstGap, r.maxGapMs());
            worstFirst = Math.max(worstFirst, r.firstTokenMs());
        }
        String report = "rolling restart of " + NODES + " nodes (SIGTERM, start again, one at a time) under "
                + CONCURRENCY + " concurrent greedy streams of " + MAX_TOKENS + " tokens: " + rollMs + " ms in all; "
                + disturbed.size() + " requests, " + problems.size() + " failed or differing, " + refusals
                + " sent again by the client's balancer because a node did not take them; the slowest stream's stall "
                + "(longest wait between two tokens) " + worstGap + " ms (undisturbed run: " + baselineGap + " ms), "
                + "longest time to first token " + worstFirst + " ms (undisturbed run, adapters loaded cold: "
                + baselineFirst + " ms)\n  " + String.join("\n  ", steps);
        System.out.println("RollingRestartIT: " + report);
        Files.writeString(work.resolve("rolling-restart-measurement.txt"), Instant.now() + " " + report + "\n");

        assertTrue(disturbed.size() >= 3 * CONCURRENCY, "the load ran through the restarts: " + disturbed.size());
        assertTrue(problems.isEmpty(), problems.size() + " of " + disturbed.size() + " requests: " + problems);

        // the journal is contiguous: every adapter's events are numbered 1..n without gaps or repeats
        for (int a = 1; a <= ADAPTERS; a++) {
            JsonNode events = cluster.get(1, "/v1/adapters/ft-" + a + "/events").path("data");
            assertTrue(events.size() > 0, "ft-" + a + " has events");
            for (int k = 0; k < events.size(); k++) {
                assertEquals(k + 1, events.get(k).at("/detail/journal_seq").asInt(), "ft-" + a + " event " + k
                        + " of " + events);
            }
        }
        List<Integer> distinctNodes = new ArrayList<>(disturbed.stream().map(Sent::node).distinct().toList());
        Collections.sort(distinctNodes);
        assertEquals(List.of(1, 2, 3), distinctNodes, "the clients used every node");
    }
}
