package dev.quiver.multijvm;

import static dev.quiver.multijvm.LocalCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Unreachable nodes on a real 3-node cluster (Cassandra and three node JVMs on loopback, {@link LocalCluster}):
 * a node that stops answering ({@code SIGSTOP}) and a 2|1 network partition (Artery's test transport, see
 * {@link Blackholes}). The split-brain resolver waits {@value #STABLE_AFTER_S} s here, far longer than any bound
 * asserted before it acts: what is asserted before the removal happens on unreachability alone.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class UnreachableIT {
    static final int ADAPTERS = 6;
    static final int STABLE_AFTER_S = 30;
    static final int MAX_TOKENS = 300;
    static final String VICTIM_WORKER = "node-3/worker-0";
    static final Duration START = Duration.ofSeconds(240);

    LocalCluster cluster;
    Path work;

    @BeforeAll
    void start() {
        work = Path.of("target", "multi-jvm", "unreachable").toAbsolutePath();
        cluster = new LocalCluster(new LocalCluster.Settings(3, work, "unreachable_it", String.join("\n",
                "pekko.cluster.split-brain-resolver.stable-after = " + STABLE_AFTER_S + "s",
                "quiver.node.routing.deadline = 120s",
                "# one worker per adapter: the test knows which adapters node 3 holds",
                "quiver.node.placement.max-replicas = 1",
                LocalCluster.PARTITIONABLE), "640m"));
        cluster.startAll(START);
        for (int a = 1; a <= ADAPTERS; a++) {
            HttpResponse<String> r = cluster.post(1, "/v1/adapters", "{\"name\":\"un-" + a + "\",\"shared\":true,"
                    + "\"source\":\"" + cluster.modelDir().resolve("adapters/adapter-0" + a).toUri() + "\"}");
            assertEquals(201, r.statusCode(), r.body());
        }
        for (int a = 1; a <= ADAPTERS; a++) {
            assertEquals(200, complete(1, "un-" + a).statusCode());
        }
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    /** One streamed completion as the client saw it, with the arrival time of each chunk. */
    record Streamed(int status, List<String> tokens, List<Double> logprobs, String finish, String error,
                    Set<String> fingerprints, List<Long> arrivals) {
        long longestGapMs() {
            long gap = 0;
            for (int i = 1; i < arrivals.size(); i++) {
                gap = Math.max(gap, arrivals.get(i) - arrivals.get(i - 1));
            }
            return gap / 1_000_000;
        }
    }

    Streamed stream(int node, String adapter, int seed, List<Long> arrivals) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(cluster.url(node) + "/v1/completions"))
                .header("Authorization", "Bearer " + LocalCluster.ADMIN_KEY).header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(180)).POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + adapter
                        + "\",\"prompt\":\"Far beyond the hills, request " + seed + "\",\"max_tokens\":" + MAX_TOKENS
                        + ",\"temperature\":0.9,\"top_p\":0.95,\"seed\":" + seed + ",\"ignore_eos\":true,"
                        + "\"logprobs\":0,\"stream\":true}")).build();
        List<String> tokens = new ArrayList<>();
        List<Double> logprobs = new ArrayList<>();
        Set<String> fingerprints = new TreeSet<>();
        String finish = null;
        String error = null;
        boolean done = false;
        try {
            HttpResponse<InputStream> r = cluster.client().send(req, HttpResponse.BodyHandlers.ofInputStream());
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (!line.startsWith("data: ")) {
                        continue;
                    }
                    String data = line.substring(6);
                    if (data.equals("[DONE]")) {
                        done = true;
                        continue;
                    }
                    JsonNode chunk = LocalCluster.parse(data);
                    if (chunk.has("error")) {
                        error = chunk.get("error").toString();
                        continue;
                    }
                    arrivals.add(System.nanoTime());
                    fingerprints.add(chunk.path("system_fingerprint").asText("(none)"));
                    JsonNode c = chunk.path("choices").path(0);
                    c.at("/logprobs/tokens").forEach(t -> tokens.add(t.asText()));
                    c.at("/logprobs/token_logprobs").forEach(lp -> logprobs.add(lp.asDouble()));
                    if (c.hasNonNull("finish_reason")) {
                        finish = c.path("finish_reason").asText();
                    }
                }
            }
            if (r.statusCode() == 200 && !done) {
                error = (error == null ? "" : error + "; ") + "stream ended without [DONE]";
            }
            return new Streamed(r.statusCode(), tokens, logprobs, finish, error, fingerprints, arrivals);
        } catch (IOException e) {
            return new Streamed(-1, tokens, logprobs, finish, e.toString(), fingerprints, arrivals);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Streamed(-1, tokens, logprobs, finish, "interrupted", fingerprints, arrivals);
        }
    }

    HttpResponse<String> complete(int node, String adapter) {
        return cluster.post(node, "/v1/completions", "{\"model\":\"" + adapter + "\",\"prompt\":\"Hi\","
                + "\"max_tokens\":4,\"ignore_eos\":true}");
    }

    /** A completion with a client timeout (a request to a node that cannot answer gives up). */
    int completeWithin(int node, String adapter, Duration timeout) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(cluster.url(node) + "/v1/completions"))
                .header("Authorization", "Bearer " + LocalCluster.ADMIN_KEY).header("Content-Type", "application/json")
                .timeout(timeout).POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + adapter
                        + "\",\"prompt\":\"Hi\",\"max_tokens\":2,\"ignore_eos\":true}")).build();
        try {
            return cluster.client().send(req, HttpResponse.BodyHandlers.ofString()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    List<String> residentOn(String worker) {
        List<String> out = new ArrayList<>();
        for (int a = 1; a <= ADAPTERS; a++) {
            for (JsonNode w : cluster.get(1, "/v1/adapters/un-" + a).path("resident_on")) {
                if (w.asText().equals(worker)) {
                    out.add("un-" + a);
                }
            }
        }
        return out;
    }

    boolean nodeLostJournaled(String adapter, String worker) {
        for (JsonNode e : cluster.get(1, "/v1/adapters/" + adapter + "/events").path("data")) {
            if (e.path("type").asText().equals("EvictedFrom") && e.at("/detail/reason").asText().equals("node-lost")
                    && e.at("/detail/worker").asText().equals(worker)) {
                return true;
            }
        }
        return false;
    }

    void assertJournalsContiguous() {
        for (int a = 1; a <= ADAPTERS; a++) {
            JsonNode events = cluster.get(1, "/v1/adapters/un-" + a + "/events").path("data");
            assertTrue(events.size() > 0, "un-" + a + " has events");
            for (int k = 0; k < events.size(); k++) {
                assertEquals(k + 1, events.get(k).at("/detail/journal_seq").asInt(), "un-" + a + " event " + k
                        + " of " + events);
            }
        }
    }

    /** The worker that runs a request now, as node 1 sees the published loads (only one request runs), or null. */
    String busyWorker() {
        for (JsonNode w : cluster.get(1, "/ready").at("/checks/workers")) {
            if (w.path("running").asInt() + w.path("waiting").asInt() > 0) {
                return w.path("name").asText();
            }
        }
        return null;
    }

    @Test
    @Order(1)
    void a_stream_resumes_elsewhere_as_soon_as_its_node_is_unreachable_and_the_node_coming_back_breaks_nothing()
            throws Exception {
        // A stream through node 1 whose worker is on node 2 or 3 (placement decides where; an adapter that node 1's
        // own worker serves is skipped).
        String adapter = null;
        int victim = 0;
        CompletableFuture<Streamed> disturbed = null;
        List<Long> arrivals = null;
        for (int a = 1; a <= ADAPTERS && victim == 0; a++) {
            String candidate = "un-" + a;
            List<Long> times = java.util.Collections.synchronizedList(new ArrayList<>());
            CompletableFuture<Streamed> s = CompletableFuture.supplyAsync(() -> stream(1, candidate, 42, times));
            await(Duration.ofSeconds(60), () -> times.size() >= 5 || s.isDone(), "the stream has its first tokens");
            String[] worker = new String[1];
            await(Duration.ofSeconds(10), () -> (worker[0] = busyWorker()) != null || s.isDone(),
                    "a worker runs the stream");
            if (worker[0] != null && !s.isDone() && !worker[0].startsWith("node-1/")) {
                adapter = candidate;
                victim = Integer.parseInt(worker[0].substring("node-".length(), worker[0].indexOf('/')));
                disturbed = s;
                arrivals = times;
            } else {
                s.get(120, TimeUnit.SECONDS);
            }
        }
        assertTrue(victim > 0, "a stream through node 1 ran on node 2's or node 3's worker");
        assertFalse(disturbed.isDone(), "the stream still runs when its node is frozen");
        double resumedBefore = cluster.metric(1, "quiver_requests_resumed_unreachable_total");
        long frozenAt = System.nanoTime();
        cluster.freeze(victim);
        Streamed got;
        try {
            got = disturbed.get(90, TimeUnit.SECONDS);
        } finally {
            cluster.thaw(victim);
        }
        long frozenMs = (System.nanoTime() - frozenAt) / 1_000_000;

        // the same request undisturbed, for the tokens (sampling is counter-based: any worker draws the same)
        Streamed reference = stream(1, adapter, 42, new ArrayList<>());
        assertEquals(200, reference.status(), String.valueOf(reference.error()));
        assertNull(reference.error());
        assertEquals(MAX_TOKENS, reference.tokens().size());

        assertEquals(200, got.status(), String.valueOf(got.error()));
        assertNull(got.error());
        assertEquals(reference.tokens(), got.tokens(), "the resumed stream has exactly the undisturbed tokens");
        assertEquals(reference.logprobs(), got.logprobs());
        assertEquals("length", got.finish());
        assertEquals(reference.fingerprints(), got.fingerprints(), "every chunk names the same adapter version");
        int frozen = victim;
        // Kamon publishes counters to /metrics on its own tick: poll
        await(Duration.ofSeconds(30),
                () -> cluster.metric(1, "quiver_requests_resumed_unreachable_total") > resumedBefore,
                "node 1's relay resumed the stream because node " + frozen + " became unreachable");
        long stall = got.longestGapMs();
        assertTrue(stall < 8_000, "the stream stalled " + stall + " ms (bound 8 s; the resolver would remove the "
                + "node only after " + STABLE_AFTER_S + " s)");
        assertTrue(frozenMs < STABLE_AFTER_S * 1000L, "the stream completed before the node could be removed ("
                + frozenMs + " ms)");

        // Back reachable, the node was never downed: still a member, it serves, and its worker let go of the
        // abandoned attempt (the relay's cancel reached it once it was reachable again).
        int v = victim;
        await(Duration.ofSeconds(60), () -> cluster.get(1, "/ready").at("/checks/cluster/unreachable").isEmpty()
                && cluster.get(v, "/ready").at("/checks/cluster/unreachable").isEmpty(), "node " + v + " and node 1 "
                + "see each other reachable again");
        cluster.awaitReady(1, 3, Duration.ofSeconds(60));
        assertTrue(cluster.process(victim).isAlive(), "node " + victim + " was not downed");
        await(Duration.ofSeconds(60), () -> busyWorker() == null, "no worker runs anything");
        for (int a = 1; a <= ADAPTERS; a++) {
            assertEquals(200, complete(victim, "un-" + a).statusCode(), "node " + victim + " serves un-" + a);
            assertEquals(200, complete(1, "un-" + a).statusCode(), "node 1 serves un-" + a);
        }
        assertJournalsContiguous();
        String report = "SIGSTOP of node " + victim + " mid-stream (" + adapter + ", " + arrivals.size() + " chunks): "
                + "stream stalled " + stall + " ms, completed " + frozenMs + " ms after the freeze, token-identical";
        System.out.println("UnreachableIT: " + report);
        Files.createDirectories(work);
        Files.writeString(work.resolve("unreachable-measurement.txt"), report + "\n");
    }

    @Test
    @Order(2)
    void a_partition_downs_the_minority_while_the_majority_serves_its_adapters_with_contiguous_journals()
            throws Exception {
        List<String> onVictim = new ArrayList<>(residentOn(VICTIM_WORKER));
        if (onVictim.isEmpty()) {
            HttpResponse<String> pin = cluster.post(1, "/v1/adapters/un-1/preload", "{\"replicas\":3}");
            assertEquals(200, pin.statusCode(), pin.body());
            await(Duration.ofSeconds(60), () -> residentOn(VICTIM_WORKER).contains("un-1"), "un-1 on node 3");
            onVictim.add("un-1");
        }
        long cutAt = System.nanoTime();
        cluster.partition(Set.of(3));

        // The majority serves node 3's adapters long before the resolver acts, though their entities' shards may be
        // on node 3 (out of reach until then).
        Map<String, Long> servedAgainMs = new LinkedHashMap<>();
        for (String adapter : onVictim) {
            await(Duration.ofSeconds(60), () -> completeWithin(1, adapter, Duration.ofSeconds(5)) == 200,
                    adapter + " served by the majority");
            servedAgainMs.put(adapter, (System.nanoTime() - cutAt) / 1_000_000);
        }
        long worstServed = servedAgainMs.values().stream().mapToLong(Long::longValue).max().orElseThrow();
        assertTrue(worstServed < 15_000, "node 3's adapters served by the majority within 15 s, before the "
                + "resolver's " + STABLE_AFTER_S + " s: " + servedAgainMs);

        // The minority downs itself and stops; the majority removes it and journals its adapters as lost.
        Integer exit = cluster.awaitExit(3, Duration.ofSeconds(STABLE_AFTER_S + 60));
        long minorityExitMs = (System.nanoTime() - cutAt) / 1_000_000;
        assertNotNull(exit, "the minority node stopped itself");
        assertEquals(3, exit, "a downed node exits with status 3 (NodeMain, docs/CLUSTER.md)");
        String minorityLog = Files.readString(cluster.log(3));
        assertTrue(minorityLog.contains("SBR took decision DownReachable") && minorityLog.contains("including myself"),
                "the minority's split-brain resolver downed its own side (node 3's log)");
        cluster.awaitReady(1, 2, Duration.ofSeconds(60));
        cluster.awaitReady(2, 2, Duration.ofSeconds(60));
        for (String adapter : onVictim) {
            await(Duration.ofSeconds(60), () -> nodeLostJournaled(adapter, VICTIM_WORKER),
                    "EvictedFrom(" + VICTIM_WORKER + ", node-lost) of " + adapter + " journaled by the majority");
        }
        for (int a = 1; a <= ADAPTERS; a++) {
            assertEquals(200, complete(2, "un-" + a).statusCode(), "the majority serves un-" + a);
        }
        assertJournalsContiguous();

        // Healed, a new incarnation of node 3 joins and serves every adapter. Its start does not depend on the
        // shards of the adapters: the catalog it reads from the majority already holds their state (the majority
        // journaled node 3's placements lost), so no entity is asked.
        cluster.heal();
        long restartAt = System.nanoTime();
        cluster.start(3);
        cluster.awaitReady(3, 3, START);
        long rejoinMs = (System.nanoTime() - restartAt) / 1_000_000;
        for (int a = 1; a <= ADAPTERS; a++) {
            assertEquals(200, complete(3, "un-" + a).statusCode(), "the rejoined node 3 serves un-" + a);
        }
        assertJournalsContiguous();
        String report = "2|1 partition (node 3 cut off): node 3's adapters served by the majority after (ms) "
                + servedAgainMs + "; minority exited " + exit + " after " + minorityExitMs + " ms; healed, its new "
                + "incarnation ready in a cluster of 3 after " + rejoinMs + " ms and served every adapter";
        System.out.println("UnreachableIT: " + report);
        Files.writeString(work.resolve("partition-measurement.txt"), report + "\n");
    }
}
