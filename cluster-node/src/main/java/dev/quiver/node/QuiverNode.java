package dev.quiver.node;

import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.cql.SimpleStatement;
import com.typesafe.config.Config;
import dev.quiver.edge.EdgeServer;
import dev.quiver.edge.EdgeSettings;
import dev.quiver.edge.api.AdapterSource;
import dev.quiver.edge.api.AdapterView;
import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.ModelSpec;
import dev.quiver.edge.api.Role;
import dev.quiver.edge.auth.ApiKeys;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.tokenizer.Tokenizer;
import dev.quiver.gpu.tokenizer.Tokenizers;
import dev.quiver.gpu.worker.Engine;
import dev.quiver.gpu.worker.EngineSettings;
import dev.quiver.gpu.worker.GpuWorker;
import dev.quiver.node.adapters.AdapterRegistry;
import dev.quiver.node.adapters.AdapterResolvers;
import dev.quiver.node.adapters.AdapterStore;
import dev.quiver.node.catalog.AdapterCatalog;
import dev.quiver.node.catalog.CatalogEntry;
import dev.quiver.node.cluster.ClusterMetrics;
import dev.quiver.node.directory.WorkerDirectory;
import dev.quiver.node.entity.AdapterEntity;
import dev.quiver.node.ops.Management;
import dev.quiver.node.ops.MembershipMetrics;
import dev.quiver.node.ops.NodeHealth;
import dev.quiver.node.ops.OpsSettings;
import dev.quiver.node.placement.PlacementPolicy;
import dev.quiver.node.serving.ClusterInferenceService;
import dev.quiver.node.serving.RequestRelay;
import dev.quiver.node.worker.LocalWorker;
import dev.quiver.node.worker.WorkerAgent;
import dev.quiver.node.worker.WorkerLoad;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.audit.AdapterAuditLog;
import dev.quiver.persistence.blob.AdapterBlobStore;
import dev.quiver.persistence.blob.AdapterDirectories;
import dev.quiver.persistence.blob.BlobStore;
import dev.quiver.persistence.blob.LocalBlobStore;
import dev.quiver.persistence.cassandra.CassandraConnection;
import dev.quiver.persistence.cassandra.CassandraPreflight;
import dev.quiver.sources.Sources;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.apache.pekko.persistence.testkit.query.javadsl.PersistenceTestKitReadJournal;
import org.apache.pekko.stream.connectors.cassandra.CassandraSessionSettings;
import org.apache.pekko.stream.connectors.cassandra.javadsl.CassandraSessionRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running Quiver node: a member of a Pekko Cluster (a single node joins itself), with
 * <ul>
 *   <li>Cluster Sharding of the adapter entities ({@link AdapterEntity}), journaled in Cassandra (or in memory);</li>
 *   <li>the worker directory and the adapter catalog (Distributed Data), read locally by routing;</li>
 *   <li>on a node with the {@code worker} role, one engine with its {@link GpuWorker} and {@link WorkerAgent};</li>
 *   <li>the adapter registry (admin and audit API) and the HTTP edge, on every node.</li>
 * </ul>
 * Starting the embedded Cassandra is {@link NodeMain}'s job, not this class's; tests start nodes in-process.
 *
 * <p>Shutdown is Pekko's coordinated shutdown (also run by the JVM's shutdown hook on SIGTERM or Ctrl-C, and when
 * the node is downed): readiness goes false and the worker is published as draining (no node routes to it any more),
 * the edge stops accepting and lets requests in flight finish up to {@code quiver.edge.shutdown-deadline}, as does
 * the worker with the requests other nodes sent it; the node leaves the cluster (its shards move to the other nodes,
 * requests still on its worker resume elsewhere), then the actors stop and the worker closes its engine.
 */
public final class QuiverNode {
    private static final Logger log = LoggerFactory.getLogger(QuiverNode.class);
    /** The tenant of the bootstrap admin key and of adapters registered at start. */
    public static final String DEFAULT_TENANT = "default";
    /** How long the connection check before start may take (connect, login, one query). */
    private static final Duration CASSANDRA_PREFLIGHT_TIMEOUT = Duration.ofSeconds(15);

    private final ActorSystem<Void> system;
    private final NodeSettings settings;
    private final EdgeServer server;
    private final AdapterRegistry registry;
    private final ClusterInferenceService service;
    private final WorkerDirectory directory;
    private final LocalWorker worker;
    private final ModelSpec spec;
    private final String bootstrapKey;
    private final ExecutorService io;

    private QuiverNode(ActorSystem<Void> system, NodeSettings settings, EdgeServer server, AdapterRegistry registry,
                       ClusterInferenceService service, WorkerDirectory directory, LocalWorker worker, ModelSpec spec,
                       String bootstrapKey, ExecutorService io) {
        this.system = system;
        this.settings = settings;
        this.server = server;
        this.registry = registry;
        this.service = service;
        this.directory = directory;
        this.worker = worker;
        this.spec = spec;
        this.bootstrapKey = bootstrapKey;
        this.io = io;
    }

    /** Starts a node from a fully resolved config; returns once it is Up, its model loaded and its port bound. */
    public static QuiverNode start(Config config) {
        Sources sources = ModelSource.sources(config);
        config = ModelSource.materialize(config, sources);
        NodeSettings ns = NodeSettings.fromConfig(config);
        OpsSettings ops = OpsSettings.fromConfig(config);
        PersistenceSettings ps = PersistenceSettings.fromConfig(config);
        if (ns.persistence() == NodeSettings.Persistence.CASSANDRA) {
            if (!ps.cassandra().useEmbedded()) {
                config = CassandraConnection.driverConfig(ps.cassandra(), ps.cassandra().contactPoints())
                        .withFallback(config);
            }
            // One attempt without retries first: a refused login or an untrusted certificate stops the start here
            // with a sentence naming the setting, instead of the journal's driver retrying forever.
            CassandraPreflight.check(config, CASSANDRA_PREFLIGHT_TIMEOUT);
        } else {
            if (!config.getStringList("pekko.cluster.seed-nodes").isEmpty()
                    || ops.formation() == OpsSettings.Formation.BOOTSTRAP) {
                throw new IllegalArgumentException("quiver.node.persistence = in-memory keeps the adapter journal "
                        + "in this process, so it serves a single node: remove pekko.cluster.seed-nodes (and "
                        + "quiver.node.cluster-formation = bootstrap) or use cassandra");
            }
            config = PersistenceTestKitPlugin.config().withFallback(PersistenceTestKitSnapshotPlugin.config())
                    .withFallback(config);
        }
        EdgeSettings es = EdgeSettings.fromConfig(config);
        String bootstrap = null;
        if (es.apiKeys().isEmpty() && ns.bootstrapAdminKey()) {
            byte[] b = new byte[24];
            new SecureRandom().nextBytes(b);
            bootstrap = "sk-quiver-" + HexFormat.of().formatHex(b);
            es = es.withApiKeys(List.of(new ApiKeys.Entry("bootstrap-admin", ApiKeys.sha256Hex(bootstrap),
                    DEFAULT_TENANT, Role.ADMIN)));
        }
        EngineSettings engineSettings = EngineSettings.fromConfig(config);
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "quiver", config);
        ExecutorService io = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "quiver-adapter-io");
            t.setDaemon(true);
            return t;
        });
        Engine engine = null;
        try {
            NodeHealth health = NodeHealth.get(system);
            Management.start(system, ops);
            joinCluster(system, ns.joinTimeout(), ops.formation());
            Cluster cluster = Cluster.get(system);
            boolean workerRole = cluster.selfMember().hasRole("worker");
            health.expectWorker(workerRole);

            ModelSpec spec;
            ModelConfig modelConfig;
            if (workerRole) {
                engine = Engine.start(ns.modelDir(), engineSettings, ns.workerName());
                health.workerLoaded(engine);
                modelConfig = engine.config();
                spec = new ModelSpec(ns.servedModelName(), engine.tokenizer(), engine.maxModelLen(),
                        System.currentTimeMillis() / 1000, "quiver");
            } else {
                modelConfig = ModelConfig.load(ns.modelDir());
                Tokenizer tok = Files.exists(ns.modelDir().resolve("tokenizer.json"))
                        ? Tokenizers.load(ns.modelDir()) : null;
                int maxLen = engineSettings.maxModelLen() > 0
                        ? Math.min(engineSettings.maxModelLen(), modelConfig.maxContext()) : modelConfig.maxContext();
                spec = new ModelSpec(ns.servedModelName(), tok, maxLen, System.currentTimeMillis() / 1000, "quiver");
            }

            boolean durable = ns.persistence() == NodeSettings.Persistence.CASSANDRA;
            CqlSession session = durable ? connect(system, config) : null;
            BlobStore blobs = durable ? AdapterBlobStore.create(session, ps.blob())
                    : new LocalBlobStore(ns.adapterStore().resolve(".local-blobs"));
            AdapterDirectories files = new AdapterDirectories(blobs, ns.adapterStore().resolve(".blobs"));

            AdapterCatalog catalog = AdapterCatalog.start(system);
            ClusterSharding sharding = ClusterSharding.get(system);
            WorkerDirectory[] directoryRef = new WorkerDirectory[1];
            WorkerDirectory directory = WorkerDirectory.start(system,
                    lost -> onNodeLost(directoryRef[0], catalog, sharding, lost));
            directoryRef[0] = directory;
            PlacementPolicy policy = new PlacementPolicy(new PlacementPolicy.Settings(
                    ns.placement().replicateQueueThreshold(), ns.placement().maxReplicas()));
            AdapterEntity.init(system, new AdapterEntity.Deps(directory, catalog, policy,
                    ns.placement().maintainInterval(), ns.placement().placementTimeout(), ps.lifecycle(),
                    Clock.systemUTC(), health::journalOutage));

            LocalWorker local = null;
            if (workerRole) {
                ActorRef<GpuWorker.Command> gpu = system.systemActorOf(GpuWorker.create(engine, ns.workerName()),
                        ns.workerName(), Props.empty());
                WorkerAgent.AdapterEvents events = (adapter, version, workerId, nodeId, reason) ->
                        sharding.entityRefFor(AdapterEntity.ENTITY_KEY, adapter)
                                .tell(new AdapterEntity.WorkerEvicted(workerId, nodeId, version, reason));
                ActorRef<WorkerAgent.Command> agent = system.systemActorOf(WorkerAgent.create(new WorkerAgent.Setup(
                        ns.workerId(), ns.nodeId(), cluster.selfMember().uniqueAddress().toString(), gpu, files, io,
                        directory, events, ns.placement().loadPublishInterval(), ns.placement().placementTimeout(),
                        engineSettings.maxNumSeqs(), ns.placement().hostCopiesApart())),
                        "agent-" + ns.workerName(), Props.empty());
                local = new LocalWorker(ns.workerId(), gpu, agent, engine);
                drainOnShutdown(system, local, es.shutdownDeadline());
            }

            AdapterStore store = new AdapterStore(ns.adapterStore(), ns.allowedAdapterRoots(), modelConfig,
                    engineSettings.maxLoraRank(), ns.maxAdapterFileBytes(), sources);
            AdapterAuditLog audit = new AdapterAuditLog(system, ps.lifecycle().tag(), durable
                    ? org.apache.pekko.persistence.cassandra.query.javadsl.CassandraReadJournal.Identifier()
                    : PersistenceTestKitReadJournal.Identifier());
            AdapterRegistry registry = new AdapterRegistry(system, store, files, audit, catalog, directory,
                    spec.id(), io, durable, () -> storageCheck(session, catalog, io), health::journalOutage);
            if (durable) {
                try {
                    registry.recover().toCompletableFuture().get(120, TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new IllegalStateException("cannot recover the adapters from the journal: " + e, e);
                }
            }
            RequestRelay.Setup relays = new RequestRelay.Setup(directory, catalog, policy,
                    name -> sharding.entityRefFor(AdapterEntity.ENTITY_KEY, name), ns.routing().routeTimeout(),
                    ns.routing().retryBackoff(), ns.routing().deadline(), spec.id(),
                    dev.quiver.node.rollout.BaseModelDigest.of(ns.modelDir()), ns.routing().loadTimeout(),
                    ns.routing().unreachableRouteTimeout());
            AdapterResolvers resolvers = new AdapterResolvers(AdapterResolvers.Settings.fromConfig(config), registry,
                    Clock.systemUTC());
            ClusterInferenceService service = new ClusterInferenceService(system, spec, registry, directory, relays,
                    resolvers.enabled() ? resolvers : null);
            EdgeServer server;
            try {
                server = EdgeServer.start(system, es, service, registry).toCompletableFuture().join();
            } catch (java.util.concurrent.CompletionException e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                throw new IllegalStateException("cannot bind the HTTP edge on " + es.host() + ":" + es.port()
                        + " (quiver.edge.host / port): " + cause.getMessage(), cause);
            }
            EngineMetrics metrics = local == null ? null : new EngineMetrics(local.id());
            Engine metered = engine;
            var metering = system.scheduler().scheduleAtFixedRate(ns.metricsInterval(), ns.metricsInterval(), () -> {
                if (metrics != null && metered.isHealthy()) {
                    try {
                        metered.status().thenAccept(metrics::update);
                    } catch (IllegalStateException stopped) {
                        return; // the engine is stopping with the node
                    }
                }
                ClusterMetrics.adaptersPerWorker(directory.loads().values());
                MembershipMetrics.update(cluster, health);
            }, system.executionContext());
            var keepAlive = system.scheduler().scheduleAtFixedRate(KEEP_ALIVE, KEEP_ALIVE,
                    () -> keepAlive(directory, catalog, sharding), system.executionContext());
            CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "stop-keep-alive",
                    () -> {
                        keepAlive.cancel();
                        return CompletableFuture.completedFuture(org.apache.pekko.Done.getInstance());
                    });
            CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "stop-metering",
                    () -> {
                        metering.cancel();
                        return CompletableFuture.completedFuture(org.apache.pekko.Done.getInstance());
                    });
            CoordinatedShutdown.get(system).addJvmShutdownHook(io::shutdownNow);
            probeJournal(system, health, () -> storageCheck(session, catalog, io), ops.journalProbe());
            health.serving();
            log.info("node {} is up at {} ({}), edge on {}", ns.nodeId(), cluster.selfMember().address(),
                    workerRole ? "worker " + ns.workerId() : "no worker", server.address());
            return new QuiverNode(system, ns, server, registry, service, directory, local, spec, bootstrap, io);
        } catch (RuntimeException e) {
            system.terminate();
            if (engine != null) {
                engine.close();
            }
            io.shutdownNow();
            throw e;
        }
    }

    /** How long the draining load may take to reach every node before shutdown goes on regardless. */
    private static final Duration DRAIN_PUBLISH_TIMEOUT = Duration.ofSeconds(3);
    /** How often shutdown looks whether the worker's last requests have ended. */
    private static final Duration DRAIN_POLL = Duration.ofMillis(100);

    /**
     * The worker's part of coordinated shutdown. First (with readiness going false) its load is published as
     * draining to every node, so that no node routes or places anything more on it while other workers are there.
     * Then, beside the edge's own wait, shutdown waits until the requests already on the worker (whichever node's
     * relay sent them) have ended, up to {@code deadline} ({@code quiver.edge.shutdown-deadline}); what still runs
     * after that is resumed on another worker by its relay when this node leaves (from the tokens it delivered).
     */
    private static void drainOnShutdown(ActorSystem<?> system, LocalWorker worker, Duration deadline) {
        CoordinatedShutdown cs = CoordinatedShutdown.get(system);
        cs.addTask(Management.READINESS_DOWN_PHASE, "quiver-worker-draining", () ->
                org.apache.pekko.actor.typed.javadsl.AskPattern.<WorkerAgent.Command, org.apache.pekko.Done>ask(
                        worker.agent(), r -> new WorkerAgent.Drain(DRAIN_PUBLISH_TIMEOUT, r),
                        DRAIN_PUBLISH_TIMEOUT.plusSeconds(2), system.scheduler())
                        .exceptionally(e -> org.apache.pekko.Done.getInstance()));
        cs.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "quiver-worker-finish-in-flight", () -> {
            CompletableFuture<Integer> left = new CompletableFuture<>();
            awaitWorkerIdle(worker, System.nanoTime() + deadline.toNanos(), left);
            return left.thenApply(n -> {
                if (n > 0) {
                    log.warn("shutdown deadline {} passed with {} request(s) still on worker {}: their relays resume "
                            + "them on another worker", deadline, n, worker.id());
                } else {
                    log.info("worker {} has no requests left", worker.id());
                }
                return org.apache.pekko.Done.getInstance();
            });
        });
    }

    /** Completes {@code left} with 0 once the worker runs and queues nothing, or with what it still has at the end. */
    private static void awaitWorkerIdle(LocalWorker worker, long untilNanos, CompletableFuture<Integer> left) {
        CompletionStage<dev.quiver.gpu.worker.EngineStatus> status;
        try {
            status = worker.status();
        } catch (IllegalStateException stopped) {
            left.complete(0);          // the engine already stopped
            return;
        }
        status.whenComplete((s, err) -> {
            int n = err != null ? 0 : s.running() + s.waiting();
            if (n == 0 || System.nanoTime() >= untilNanos) {
                left.complete(n);
            } else {
                CompletableFuture.delayedExecutor(DRAIN_POLL.toMillis(), TimeUnit.MILLISECONDS)
                        .execute(() -> awaitWorkerIdle(worker, untilNanos, left));
            }
        });
    }

    /**
     * Joins the seed nodes of {@code pekko.cluster.seed-nodes} (Pekko does that on its own), or the cluster that
     * Cluster Bootstrap finds (started by {@link Management}), or, with neither, forms a cluster of this node alone;
     * waits until this node is Up.
     */
    private static void joinCluster(ActorSystem<?> system, Duration timeout, OpsSettings.Formation formation) {
        Cluster cluster = Cluster.get(system);
        boolean bootstrap = formation == OpsSettings.Formation.BOOTSTRAP;
        if (!bootstrap && system.settings().config().getStringList("pekko.cluster.seed-nodes").isEmpty()) {
            cluster.manager().tell(Join.create(cluster.selfMember().address()));
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (cluster.selfMember().status() != MemberStatus.up()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("this node did not join the cluster within " + timeout.toSeconds()
                        + " s (quiver.node.join-timeout; " + (bootstrap ? "Cluster Bootstrap found too few contact "
                        + "points? see pekko.management.cluster.bootstrap.contact-point-discovery" : "seed nodes "
                        + system.settings().config().getStringList("pekko.cluster.seed-nodes") + " not reachable?")
                        + ")");
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while joining the cluster", e);
            }
        }
    }

    /**
     * A member was removed: the oldest Up member tells the entity of every adapter its workers held (by their last
     * published loads and by the catalog's persisted residents) that the node is lost, so each persists
     * {@code EvictedFrom(node-lost)} and re-places what its preload needs.
     */
    private static void onNodeLost(WorkerDirectory directory, AdapterCatalog catalog, ClusterSharding sharding,
                                   WorkerDirectory.NodeLost lost) {
        if (directory == null || !directory.isCoordinator()) {
            return;
        }
        Set<String> workers = new LinkedHashSet<>();
        Map<String, String> nodeOf = new LinkedHashMap<>();
        Set<String> adapters = new LinkedHashSet<>();
        for (WorkerLoad l : lost.workers()) {
            workers.add(l.workerId());
            nodeOf.put(l.workerId(), l.nodeId());
            Stream.concat(l.resident().stream(), l.pinned().stream()).map(WorkerAgent::adapterOf)
                    .filter(java.util.Objects::nonNull).forEach(adapters::add);
        }
        for (CatalogEntry e : catalog.all()) {
            e.state().residents().stream().filter(r -> workers.contains(r.worker())).findAny()
                    .ifPresent(r -> adapters.add(e.name()));
        }
        // NOTE: sent now and again a few seconds later: a message sent the moment the member is removed can go to
        // the shard region of the dead node before this node's region has noticed, and be lost. NodeLost is
        // idempotent (an eviction already journaled is rejected), and entity maintenance is the last safety net.
        Runnable tell = () -> {
            for (String worker : workers) {
                List<String> one = List.of(worker);
                for (String adapter : adapters) {
                    sharding.entityRefFor(AdapterEntity.ENTITY_KEY, adapter)
                            .tell(new AdapterEntity.NodeLost(one, nodeOf.get(worker)));
                }
            }
        };
        tell.run();
        CompletableFuture.delayedExecutor(5, TimeUnit.SECONDS).execute(tell);
        log.info("node lost ({}): told {} adapters that workers {} are gone", lost.address(), adapters.size(),
                workers);
    }

    /** How often the coordinator wakes the entities that must act without traffic. */
    private static final Duration KEEP_ALIVE = Duration.ofSeconds(5);

    /**
     * Entities are started by messages, and one whose shard moved (a node joined or left) stays stopped until the
     * next: so every {@link #KEEP_ALIVE} the oldest Up member sends {@code Maintain} to each adapter that must act
     * without traffic, one with a preload (its replicas must be placed again on new or surviving workers) or with a
     * resident on a worker that is gone (its {@code node-lost} must be journaled).
     */
    private static void keepAlive(WorkerDirectory directory, AdapterCatalog catalog, ClusterSharding sharding) {
        if (!directory.isCoordinator()) {
            return;
        }
        for (CatalogEntry e : catalog.all()) {
            boolean preload = e.active() && e.state().preloadReplicas() > 0;
            boolean lost = e.state().residents().stream().anyMatch(r -> directory.isGone(r.worker()));
            if (preload || lost) {
                sharding.entityRefFor(AdapterEntity.ENTITY_KEY, e.name()).tell(new AdapterEntity.Maintain());
            }
        }
    }

    /**
     * Probes the journal once now (so readiness does not lag the start) and then every {@code interval}, telling
     * {@link NodeHealth} the outcome; stops with the node.
     */
    private static void probeJournal(ActorSystem<?> system, NodeHealth health,
                                     java.util.function.Supplier<CompletionStage<AdapterRegistry.StorageCheck>> check,
                                     Duration interval) {
        java.util.function.Consumer<AdapterRegistry.StorageCheck> record = c ->
                health.journalProbed(c.ok() ? null : String.valueOf(c.detail()));
        try {
            record.accept(check.get().toCompletableFuture().get(10, TimeUnit.SECONDS));
        } catch (Exception e) {
            health.journalProbed(e.toString());
        }
        var probing = system.scheduler().scheduleWithFixedDelay(interval, interval,
                () -> {
                    try {
                        check.get().thenAccept(record);
                    } catch (RuntimeException stopping) {
                        health.journalProbed(stopping.toString()); // the io pool is closing with the node
                    }
                }, system.executionContext());
        CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate(),
                "stop-journal-probe", () -> {
                    probing.cancel();
                    return CompletableFuture.completedFuture(org.apache.pekko.Done.getInstance());
                });
    }

    private static CqlSession connect(ActorSystem<?> system, Config config) {
        try {
            return CassandraSessionRegistry.get(system).sessionFor(CassandraSessionSettings.create())
                    .underlying().toCompletableFuture().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("cannot connect to Cassandra at "
                    + config.getStringList("datastax-java-driver.basic.contact-points") + ": " + e, e);
        }
    }

    /** For {@code /ready}: Cassandra answers a bounded query (3-4 s), or the lifecycle is in memory. */
    private static CompletionStage<AdapterRegistry.StorageCheck> storageCheck(CqlSession session,
                                                                              AdapterCatalog catalog,
                                                                              ExecutorService io) {
        if (session == null) {
            return CompletableFuture.completedFuture(new AdapterRegistry.StorageCheck(true,
                    "not configured: adapter lifecycle and audit trail are in memory (quiver.node.persistence = "
                            + "in-memory) and are lost when the node stops"));
        }
        return CompletableFuture.supplyAsync(() -> {
            try {
                var row = session.execute(SimpleStatement.newInstance(
                        "SELECT release_version FROM system.local").setTimeout(Duration.ofSeconds(3))).one();
                Map<String, Object> d = new LinkedHashMap<>();
                d.put("reachable", true);
                d.put("release_version", row == null ? null : row.getString(0));
                d.put("adapters", catalog.all().size());
                return new AdapterRegistry.StorageCheck(true, d);
            } catch (RuntimeException e) {
                return new AdapterRegistry.StorageCheck(false, Map.of("reachable", false, "error",
                        String.valueOf(e.getMessage())));
            }
        }, io).completeOnTimeout(new AdapterRegistry.StorageCheck(false, Map.of("reachable", false, "error",
                "no answer in 4 s")), 4, TimeUnit.SECONDS);
    }

    /**
     * Registers every adapter directory under {@code dir} (each subdirectory with an adapter_config.json) as a
     * shared adapter of the default tenant, named after the subdirectory; its path must be an allowed root. An
     * adapter the journal already holds keeps its versions (a retired one stays retired).
     */
    public List<AdapterView> registerAll(Path dir) throws IOException {
        Caller operator = new Caller(DEFAULT_TENANT, Role.ADMIN, "startup");
        List<AdapterView> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) {
                if (!Files.isRegularFile(p.resolve("adapter_config.json"))) {
                    continue;
                }
                String name = p.getFileName().toString();
                AdapterView existing = null;
                try {
                    existing = registry.get(operator, name).toCompletableFuture().join();
                } catch (java.util.concurrent.CompletionException notRegistered) {
                    // not registered yet
                }
                if (existing != null) {
                    if ("active".equals(existing.status())) {
                        out.add(existing);
                    }
                } else {
                    out.add(registry.register(operator, name, AdapterSource.ofUri(p.toAbsolutePath().toUri()
                            .toString()), true).toCompletableFuture().join());
                }
            }
        }
        return out;
    }

    public AdapterRegistry registry() {
        return registry;
    }

    /** What the edge calls to generate (the same path as HTTP requests, without the HTTP). */
    public ClusterInferenceService service() {
        return service;
    }

    public WorkerDirectory directory() {
        return directory;
    }

    public NodeSettings settings() {
        return settings;
    }

    public InetSocketAddress address() {
        return server.address();
    }

    public String baseUrl() {
        return "http://" + address().getHostString() + ":" + address().getPort();
    }

    public ModelSpec model() {
        return spec;
    }

    /** This node's worker, or null on a node without the {@code worker} role. */
    public LocalWorker worker() {
        return worker;
    }

    /** The admin key generated at start when none was configured, else null. */
    public String bootstrapKey() {
        return bootstrapKey;
    }

    public ActorSystem<Void> system() {
        return system;
    }

    /** Graceful stop: drain the edge, leave the cluster, stop the actors (the worker closes its engine). */
    public void stop() {
        CoordinatedShutdown.get(system).run(CoordinatedShutdown.unknownReason());
        try {
            system.getWhenTerminated().toCompletableFuture().get(server.shutdownDeadline().plus(Duration
                    .ofSeconds(30)).toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.warn("node did not stop cleanly: {}", e.toString());
        }
        io.shutdownNow();
    }
}
