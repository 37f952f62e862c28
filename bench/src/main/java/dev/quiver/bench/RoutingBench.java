package dev.quiver.bench;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.quiver.edge.api.AdapterSource;
import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.Generation;
import dev.quiver.edge.api.GenerationListener;
import dev.quiver.edge.api.Role;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.worker.GpuWorker;
import dev.quiver.node.QuiverNode;
import dev.quiver.node.catalog.CatalogEntry;
import dev.quiver.node.entity.AdapterEntity;
import dev.quiver.node.worker.WorkerAgent;
import dev.quiver.node.worker.WorkerLoad;
import dev.quiver.persistence.LocalResources;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.cassandra.EmbeddedCassandra;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;

/**
 * {@code bin/quiver bench routing [--nodes 3] [--requests 3000] [--concurrency 32] [--duration 10]}: what routing
 * through the cluster adds to a request, measured with the {@code noop} engine backend (the worker answers at
 * once, so only routing and messaging are timed). It starts an embedded Cassandra and {@code --nodes} nodes in
 * this JVM on loopback (each its own actor system, talking over Artery TCP like separate hosts would), registers
 * one adapter, places it, and then, from every node in turn, times one-token requests:
 * <ol>
 *   <li>direct: a {@code Generate} to the worker's agent, reply to an actor on the same node (the floor);</li>
 *   <li>routed: the edge's service call (relay → route from the local catalog → worker → relay → listener);</li>
 *   <li>entity route: the ask of the adapter's entity for a route (what a request that needs a placement adds);
 *       one of the nodes is the entity's own;</li>
 *   <li>throughput: routed requests through node 1 with {@code --concurrency} in flight for {@code --duration}
 *       seconds.</li>
 * </ol>
 * HTTP parsing and SSE are not included (see {@code bench load} for the whole path).
 */
public final class RoutingBench {
    private static final Caller CALLER = new Caller("default", Role.ADMIN, "bench");
    private static final SamplingParams ONE_TOKEN = new SamplingParams(1, 0f, 1f, -1, 0L, List.of(), -1, true);
    private static final int[] PROMPT = {1, 40, 41, 42};

    private RoutingBench() {
    }

    public static void main(String[] argv) throws Exception {
        int nodes = 3;
        int requests = 3000;
        int concurrency = 32;
        int duration = 10;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--nodes" -> nodes = Integer.parseInt(argv[++i]);
                case "--requests" -> requests = Integer.parseInt(argv[++i]);
                case "--concurrency" -> concurrency = Integer.parseInt(argv[++i]);
                case "--duration" -> duration = Integer.parseInt(argv[++i]);
                case "-h", "--help" -> {
                    System.out.println("usage: bin/quiver bench routing [--nodes 3] [--requests 3000] "
                            + "[--concurrency 32] [--duration 10]");
                    return;
                }
                default -> {
                    System.err.println("quiver: unknown argument '" + argv[i] + "'");
                    System.exit(2);
                }
            }
        }
        Path work = Files.createTempDirectory("quiver-routing-bench-");
        Path model = work.resolve("model");
        ModelMaker.writeDemo(model, 512, ModelMaker.Shape::tiny, DType.F32, 1, 1);
        System.out.println("quiver bench routing: starting Cassandra and " + nodes + " nodes (noop backend)...");
        PersistenceSettings.Embedded embedded = PersistenceSettings.fromConfig(ConfigFactory.defaultReference())
                .cassandra().embedded().at(work.resolve("cassandra"), LocalResources.freePort(), LocalResources.freePort());
        List<QuiverNode> cluster = new ArrayList<>();
        try (EmbeddedCassandra cassandra = EmbeddedCassandra.start(embedded, EmbeddedCassandra.Mode.ATTACHED)) {
            int seed = LocalResources.freePort();
            for (int i = 1; i <= nodes; i++) {
                cluster.add(QuiverNode.start(config(i, i == 1 ? seed : LocalResources.freePort(), seed, work, model,
                        cassandra.endpoint().toString())));
            }
            run(cluster, model, requests, concurrency, duration);
        } finally {
            for (int i = cluster.size() - 1; i >= 0; i--) {
                cluster.get(i).stop();
            }
        }
        System.exit(0);
    }

    private static void run(List<QuiverNode> cluster, Path model, int requests, int concurrency, int duration)
            throws Exception {
        QuiverNode first = cluster.get(0);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (cluster.stream().anyMatch(n -> n.directory().routable().size() < cluster.size())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the workers did not all become routable");
            }
            Thread.sleep(50);
        }
        first.registry().register(CALLER, "bench", AdapterSource.ofUri(model.resolve("adapters/adapter-01").toUri()
                .toString()), true).toCompletableFuture().get(60, TimeUnit.SECONDS);
        for (int i = 0; i < 200; i++) {
            routed(first, "warm-" + i).get(30, TimeUnit.SECONDS);
        }
        CatalogEntry entry = first.registry().usable(CALLER, "bench").orElseThrow();
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (entry.holders().isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the adapter was not placed");
            }
            Thread.sleep(50);
            entry = first.registry().usable(CALLER, "bench").orElseThrow();
        }
        String holder = entry.holders().get(0);
        int version = entry.state().currentVersion();
        String digest = entry.current().digest().hex();
        int n = cluster.size();
        List<Map<String, CompletableFuture<GpuWorker.Event>>> pending = new ArrayList<>();
        List<ActorRef<GpuWorker.Event>> replies = new ArrayList<>();
        List<WorkerLoad> loads = new ArrayList<>();
        for (QuiverNode node : cluster) {
            Map<String, CompletableFuture<GpuWorker.Event>> p = new ConcurrentHashMap<>();
            pending.add(p);
            replies.add(node.system().systemActorOf(Behaviors.receive(GpuWorker.Event.class)
                    .onMessage(GpuWorker.Event.class, e -> {
                        if (e instanceof GpuWorker.Finished || e instanceof GpuWorker.Failed) {
                            CompletableFuture<GpuWorker.Event> f = p.remove(e.requestId());
                            if (f != null) {
                                f.complete(e);
                            }
                        }
                        return Behaviors.same();
                    }).build(), "bench-replies", Props.empty()));
            loads.add(node.directory().load(holder).orElseThrow());
        }
        ClusterSharding[] shardings = cluster.stream().map(x -> ClusterSharding.get(x.system()))
                .toArray(ClusterSharding[]::new);

        // warm the JIT on every path before timing
        for (int i = 0; i < requests / 2; i++) {
            for (int k = 0; k < n; k++) {
                direct(loads.get(k), pending.get(k), replies.get(k), version, digest, "wd-" + k + "-" + i)
                        .get(30, TimeUnit.SECONDS);
                routed(cluster.get(k), "wr-" + k + "-" + i).get(30, TimeUnit.SECONDS);
                entityRoute(shardings[k], "we-" + k + "-" + i).get(30, TimeUnit.SECONDS);
            }
        }
        long[][] direct = new long[n][requests];
        long[][] routed = new long[n][requests];
        long[][] entity = new long[n][requests];
        for (int i = 0; i < requests; i++) {
            for (int k = 0; k < n; k++) {
                long t0 = System.nanoTime();
                direct(loads.get(k), pending.get(k), replies.get(k), version, digest, "d-" + k + "-" + i)
                        .get(30, TimeUnit.SECONDS);
                long t1 = System.nanoTime();
                routed(cluster.get(k), "r-" + k + "-" + i).get(30, TimeUnit.SECONDS);
                long t2 = System.nanoTime();
                entityRoute(shardings[k], "e-" + k + "-" + i).get(30, TimeUnit.SECONDS);
                direct[k][i] = t1 - t0;
                routed[k][i] = t2 - t1;
                entity[k][i] = System.nanoTime() - t2;
            }
        }
        // throughput: routed requests through node 1, `concurrency` in flight
        Semaphore slots = new Semaphore(concurrency);
        AtomicLong done = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        long start = System.nanoTime();
        long end = start + TimeUnit.SECONDS.toNanos(duration);
        int c = 0;
        while (System.nanoTime() < end) {
            slots.acquire();
            routed(first, "t-" + c++).whenComplete((ok, err) -> {
                if (err == null) {
                    done.incrementAndGet();
                } else {
                    failed.incrementAndGet();
                }
                slots.release();
            });
        }
        slots.acquire(concurrency);
        double seconds = (System.nanoTime() - start) / 1e9;

        System.out.println();
        System.out.printf("quiver bench routing, %s: %d nodes in one JVM on loopback, noop backend, adapter on %s; "
                + "%d sequential one-token requests per path and node (after %d warm-up)%n", Instant.now(), n,
                holder, requests, requests / 2);
        System.out.println();
        System.out.println("| from | path | p50 ms | p90 ms | p99 ms |");
        System.out.println("|---|---|---|---|---|");
        for (int k = 0; k < n; k++) {
            String from = "node " + (k + 1) + (holder.startsWith("n" + (k + 1) + "/") ? " (holds the worker)" : "");
            row(from, "direct: Generate to the worker's agent", direct[k]);
            row(from, "routed: service call, relay, local route, worker", routed[k]);
            long[] added = new long[requests];
            for (int i = 0; i < requests; i++) {
                added[i] = routed[k][i] - direct[k][i];
            }
            row(from, "added by routing (routed - direct, paired)", added);
            row(from, "entity route ask (a request that needs a placement)", entity[k]);
        }
        System.out.println();
        System.out.printf("throughput: %d routed requests through node 1 completed in %.1f s = %.0f requests/s, "
                + "%d failed (%d in flight)%n", done.get(), seconds, done.get() / seconds, failed.get(), concurrency);
    }

    private static CompletableFuture<GpuWorker.Event> direct(WorkerLoad load,
            Map<String, CompletableFuture<GpuWorker.Event>> pending, ActorRef<GpuWorker.Event> replies, int version,
            String digest, String id) {
        CompletableFuture<GpuWorker.Event> f = new CompletableFuture<>();
        pending.put(id, f);
        load.agent().tell(new WorkerAgent.Generate(id, "bench", version, digest, PROMPT, ONE_TOKEN, null, replies));
        return f;
    }

    private static CompletableFuture<Void> routed(QuiverNode node, String id) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        node.service().generate(CALLER, new Generation(id, "bench", PROMPT, ONE_TOKEN), new GenerationListener() {
            @Override
            public void onAccepted(int promptTokens) {
            }

            @Override
            public void onTokens(int[] tokenIds, String text, List<TokenLogprob> logprobs) {
            }

            @Override
            public void onFinished(String reason, int promptTokens, int completionTokens) {
                f.complete(null);
            }

            @Override
            public void onFailed(ServiceError error) {
                f.completeExceptionally(new IllegalStateException(error.message()));
            }
        });
        return f;
    }

    private static CompletableFuture<AdapterEntity.RouteReply> entityRoute(ClusterSharding sharding, String id) {
        return sharding.entityRefFor(AdapterEntity.ENTITY_KEY, "bench").<AdapterEntity.RouteReply>ask(
                r -> new AdapterEntity.Route(id, List.of(), r), Duration.ofSeconds(10)).toCompletableFuture();
    }

    private static void row(String from, String name, long[] nanos) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        System.out.printf("| %s | %s | %.3f | %.3f | %.3f |%n", from, name, pct(s, 0.5), pct(s, 0.9), pct(s, 0.99));
    }

    private static double pct(long[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(q * sorted.length))] / 1e6;
    }

    private static Config config(int i, int port, int seedPort, Path work, Path model, String cassandra) {
        return ConfigFactory.parseString("""
                quiver.node {
                  model-dir = "%s"
                  node-id = "n%d"
                  adapter-store = "%s"
                  allowed-adapter-roots = ["%s"]
                  persistence = cassandra
                  bootstrap-admin-key = off
                }
                quiver.engine { backend = noop, max-num-seqs = 256, max-waiting = 4096 }
                quiver.persistence.cassandra.contact-points = ["%s"]
                quiver.edge.port = 0
                pekko.remote.artery.canonical.port = %d
                pekko.cluster.seed-nodes = ["pekko://quiver@127.0.0.1:%d"]
                pekko.loglevel = WARNING
                """.formatted(model, i, work.resolve("n" + i), work, cassandra, port, seedPort))
                .withFallback(ConfigFactory.defaultReference()).resolve();
    }
}
