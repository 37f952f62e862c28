package dev.quiver.multijvm;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * {@code bin/quiver bench failover [--rounds 5] [--adapters 3]}: how long a {@code kill -9} of a node interrupts
 * service, on a real 3-node cluster on loopback ({@link LocalCluster}, the nodes' default failure detector and
 * split-brain-resolver settings). Each round registers {@code --adapters} new adapters and places them (at least
 * one on node 3), starts a long streamed request for an adapter node 3 holds, kills node 3, and measures:
 * <ul>
 *   <li>served again: from the kill until a new request for each adapter node 3 held succeeds (the slowest);</li>
 *   <li>stream stall: the longest gap between two tokens of the request that was running on node 3, which is
 *       resumed on another worker as soon as node 1 sees node 3 unreachable;</li>
 *   <li>downed: from the kill until node 1 no longer lists node 3 as a member (watched while the probes run).</li>
 * </ul>
 * Then node 3 is started again (a new incarnation) for the next round. Prints one row per round (and the kill's
 * time, to read the nodes' logs against), the medians and the maxima.
 */
public final class FailoverBench {
    private FailoverBench() {
    }

    private record Round(long servedAgainMs, long stallMs, long downedMs, int victims) {
    }

    public static void main(String[] argv) throws Exception {
        int rounds = 5;
        int adapters = 3;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--rounds" -> rounds = Integer.parseInt(argv[++i]);
                case "--adapters" -> adapters = Integer.parseInt(argv[++i]);
                case "-h", "--help" -> {
                    System.out.println("usage: bin/quiver bench failover [--rounds 5] [--adapters 3]");
                    return;
                }
                default -> {
                    System.err.println("quiver: unknown argument '" + argv[i] + "'");
                    System.exit(2);
                }
            }
        }
        Path home = Path.of(System.getProperty("quiver.home", ".")).toAbsolutePath();
        Path work = home.resolve(".quiver/bench/failover");
        List<Round> results = new ArrayList<>();
        try (LocalCluster cluster = new LocalCluster(new LocalCluster.Settings(3, work, "failover_bench", "",
                "640m"))) {
            System.out.println("quiver bench failover: starting Cassandra and 3 nodes under " + work + "...");
            cluster.startAll(Duration.ofSeconds(240));
            for (int r = 1; r <= rounds; r++) {
                Round round = round(cluster, r, adapters);
                results.add(round);
                System.out.printf("round %d: %d adapters on node 3; served again after %d ms, stream stalled %d ms, "
                        + "node downed after %d ms%n", r, round.victims(), round.servedAgainMs(), round.stallMs(),
                        round.downedMs());
                cluster.start(3);
                cluster.awaitReady(3, 3, Duration.ofSeconds(240));
            }
        }
        System.out.println();
        System.out.printf("quiver bench failover, %s, %d rounds: median served again %d ms, median stream stall "
                + "%d ms, median downed %d ms%n", Instant.now(), rounds,
                median(results.stream().map(Round::servedAgainMs).toList()),
                median(results.stream().map(Round::stallMs).toList()),
                median(results.stream().map(Round::downedMs).toList()));
        System.out.printf("max served again %d ms, max stream stall %d ms, max downed %d ms%n",
                max(results.stream().map(Round::servedAgainMs).toList()),
                max(results.stream().map(Round::stallMs).toList()),
                max(results.stream().map(Round::downedMs).toList()));
        System.exit(0);
    }

    private static Round round(LocalCluster cluster, int r, int adapters) throws Exception {
        List<String> names = new ArrayList<>();
        for (int a = 1; a <= adapters; a++) {
            String name = "fb-" + r + "-" + a;
            names.add(name);
            HttpResponse<String> reg = cluster.post(1, "/v1/adapters", "{\"name\":\"" + name + "\",\"shared\":true,"
                    + "\"source\":\"" + cluster.modelDir().resolve("adapters/adapter-0" + (1 + (a - 1) % 6)).toUri()
                    + "\"}");
            check(reg, 201);
            check(complete(cluster, name, 4, Duration.ofSeconds(60)), 200);
        }
        List<String> victims = holdersOn(cluster, names, "node-3/worker-0");
        if (victims.isEmpty()) {
            check(cluster.post(1, "/v1/adapters/" + names.get(0) + "/preload", "{\"replicas\":3}"), 200);
            victims = holdersOn(cluster, names, "node-3/worker-0");
        }
        if (victims.isEmpty()) {
            throw new IllegalStateException("round " + r + ": node 3 holds none of " + names);
        }
        String streamed = victims.get(0);
        List<Long> tokenTimes = Collections.synchronizedList(new ArrayList<>());
        CompletableFuture<Void> stream = CompletableFuture.runAsync(() -> stream(cluster, streamed, tokenTimes));
        long waitStart = System.nanoTime();
        while (tokenTimes.size() < 5 && System.nanoTime() - waitStart < 30_000_000_000L) {
            Thread.sleep(20);
        }
        long killedAt = System.nanoTime();
        System.out.printf("round %d: kill -9 of node 3 at %s%n", r, Instant.now());
        cluster.kill(3);
        // NOTE: the removal is watched beside the served-again probes, not after them: measured after, it could
        // never read less than the served-again time.
        CompletableFuture<Long> downedAfter = CompletableFuture.supplyAsync(() -> {
            while (true) {
                try {
                    if (cluster.get(1, "/ready").at("/checks/cluster/members").size() == 2) {
                        return System.nanoTime() - killedAt;
                    }
                } catch (RuntimeException notReadyNow) {
                    // /ready answers 503 while node 1 is not ready: not removed yet as far as this probe knows
                }
                LocalCluster.sleep(100);
            }
        });
        long servedAgain = 0;
        for (String v : victims) {
            while (complete(cluster, v, 2, Duration.ofSeconds(2)).statusCode() != 200) {
                Thread.sleep(100);
            }
            servedAgain = System.nanoTime() - killedAt;
        }
        long downed = downedAfter.get(120, java.util.concurrent.TimeUnit.SECONDS);
        stream.get(180, java.util.concurrent.TimeUnit.SECONDS);
        long stall = 0;
        for (int i = 1; i < tokenTimes.size(); i++) {
            stall = Math.max(stall, tokenTimes.get(i) - tokenTimes.get(i - 1));
        }
        return new Round(servedAgain / 1_000_000, stall / 1_000_000, downed / 1_000_000, victims.size());
    }

    private static List<String> holdersOn(LocalCluster cluster, List<String> names, String worker) {
        List<String> out = new ArrayList<>();
        for (String n : names) {
            for (JsonNode w : cluster.get(1, "/v1/adapters/" + n).path("resident_on")) {
                if (w.asText().equals(worker)) {
                    out.add(n);
                }
            }
        }
        return out;
    }

    /** A long streamed request through node 1; records when each token arrives. */
    private static void stream(LocalCluster cluster, String adapter, List<Long> tokenTimes) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(cluster.url(1) + "/v1/completions"))
                .header("Authorization", "Bearer " + LocalCluster.ADMIN_KEY).header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(180)).POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + adapter
                        + "\",\"prompt\":\"Tell me a long story\",\"max_tokens\":400,\"temperature\":0.8,\"seed\":7,"
                        + "\"ignore_eos\":true,\"stream\":true}")).build();
        try {
            HttpResponse<InputStream> r = cluster.client().send(req, HttpResponse.BodyHandlers.ofInputStream());
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.startsWith("data: {")) {
                        tokenTimes.add(System.nanoTime());
                    }
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static HttpResponse<String> complete(LocalCluster cluster, String adapter, int maxTokens,
                                                 Duration timeout) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(cluster.url(1) + "/v1/completions"))
                .header("Authorization", "Bearer " + LocalCluster.ADMIN_KEY).header("Content-Type", "application/json")
                .timeout(timeout).POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + adapter + "\","
                        + "\"prompt\":\"Hi\",\"max_tokens\":" + maxTokens + ",\"ignore_eos\":true}")).build();
        try {
            return cluster.client().send(req, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            return new FailedResponse(req);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new FailedResponse(req);
        }
    }

    private static void check(HttpResponse<String> r, int status) {
        if (r.statusCode() != status) {
            throw new IllegalStateException(r.request().uri() + ": " + r.statusCode() + " " + r.body());
        }
    }

    private static long max(List<Long> values) {
        return values.stream().mapToLong(Long::longValue).max().orElse(0);
    }

    private static long median(List<Long> values) {
        List<Long> s = new ArrayList<>(values);
        Collections.sort(s);
        return s.get(s.size() / 2);
    }

    /** A request that got no HTTP answer (timed out or the connection failed). */
    private record FailedResponse(HttpRequest request) implements HttpResponse<String> {
        @Override
        public int statusCode() {
            return -1;
        }

        @Override
        public java.util.Optional<HttpResponse<String>> previousResponse() {
            return java.util.Optional.empty();
        }

        @Override
        public java.net.http.HttpHeaders headers() {
            return java.net.http.HttpHeaders.of(java.util.Map.of(), (a, b) -> true);
        }

        @Override
        public String body() {
            return "";
        }

        @Override
        public java.util.Optional<javax.net.ssl.SSLSession> sslSession() {
            return java.util.Optional.empty();
        }

        @Override
        public URI uri() {
            return request.uri();
        }

        @Override
        public HttpClient.Version version() {
            return HttpClient.Version.HTTP_1_1;
        }
    }
}
