package dev.quiver.node;

import com.typesafe.config.Config;
import dev.quiver.edge.EdgeServer;
import dev.quiver.edge.EdgeSettings;
import dev.quiver.edge.api.AdapterSource;
import dev.quiver.edge.api.AdapterView;
import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.ModelSpec;
import dev.quiver.edge.api.Role;
import dev.quiver.edge.auth.ApiKeys;
import com.datastax.oss.driver.api.core.CqlSession;
import dev.quiver.gpu.worker.Engine;
import dev.quiver.gpu.worker.EngineSettings;
import dev.quiver.gpu.worker.GpuWorker;
import dev.quiver.node.adapters.AdapterCatalog;
import dev.quiver.node.adapters.AdapterRegistry;
import dev.quiver.node.adapters.AdapterStore;
import dev.quiver.node.adapters.JournaledAdapterRegistry;
import dev.quiver.node.audit.InMemoryAuditLog;
import dev.quiver.node.local.LocalInferenceService;
import dev.quiver.node.local.LocalWorker;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.audit.AdapterAuditLog;
import dev.quiver.persistence.blob.AdapterBlobStore;
import dev.quiver.persistence.blob.AdapterDirectories;
import dev.quiver.persistence.cassandra.CassandraConnection;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.connectors.cassandra.CassandraSessionSettings;
import org.apache.pekko.stream.connectors.cassandra.javadsl.CassandraSessionRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running single-node Quiver: the actor system, one engine and its {@link GpuWorker}, the adapter registry
 * with its store and audit trail, and the HTTP edge. With {@code quiver.node.persistence = cassandra} the registry is
 * the {@link JournaledAdapterRegistry} (events in the Cassandra journal named by the {@code datastax-java-driver}
 * section, files in the blob store), recovered from the journal before the edge opens; with {@code in-memory} it is
 * the {@link AdapterRegistry}. Starting the embedded Cassandra is {@link NodeMain}'s job, not this class's. {@link NodeMain} starts one from the command line;
 * tests start them in-process.
 *
 * <p>Shutdown is Pekko's coordinated shutdown (also run by the JVM's shutdown hook on Ctrl-C): the edge stops
 * accepting and lets requests in flight finish up to {@code quiver.edge.shutdown-deadline}, then the actors stop
 * and the worker closes its engine.
 */
public final class QuiverNode {
    private static final Logger log = LoggerFactory.getLogger(QuiverNode.class);
    /** The tenant of the bootstrap admin key and of adapters registered at start. */
    public static final String DEFAULT_TENANT = "default";

    private final ActorSystem<Void> system;
    private final EdgeServer server;
    private final AdapterCatalog registry;
    private final LocalWorker worker;
    private final ModelSpec spec;
    private final String bootstrapKey;
    private final ExecutorService io;

    private QuiverNode(ActorSystem<Void> system, EdgeServer server, AdapterCatalog registry, LocalWorker worker,
                       ModelSpec spec, String bootstrapKey, ExecutorService io) {
        this.system = system;
        this.server = server;
        this.registry = registry;
        this.worker = worker;
        this.spec = spec;
        this.bootstrapKey = bootstrapKey;
        this.io = io;
    }

    /** Starts a node from a fully resolved config; returns once the model is loaded and the port is bound. */
    public static QuiverNode start(Config config) {
        NodeSettings ns = NodeSettings.fromConfig(config);
        if (ns.persistence() == NodeSettings.Persistence.CASSANDRA) {
            PersistenceSettings ps = PersistenceSettings.fromConfig(config);
            if (!ps.cassandra().useEmbedded()) {
                config = CassandraConnection.driverConfig(ps.cassandra().contactPoints(),
                        ps.cassandra().localDatacenter()).withFallback(config);
            }
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
        ExecutorService io = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "quiver-adapter-io");
            t.setDaemon(true);
            return t;
        });
        try {
            Engine engine = Engine.start(ns.modelDir(), engineSettings, ns.workerName());
            ActorRef<GpuWorker.Command> ref = system.systemActorOf(GpuWorker.create(engine, ns.workerName()),
                    ns.workerName(), Props.empty());
            LocalWorker worker = new LocalWorker(ns.workerName(), ref, engine, system);
            ModelSpec spec = new ModelSpec(ns.servedModelName(), engine.tokenizer(), engine.maxModelLen(),
                    System.currentTimeMillis() / 1000, "quiver");
            AdapterStore store = new AdapterStore(ns.adapterStore(), ns.allowedAdapterRoots(), engine.config(),
                    engineSettings.maxLoraRank(), ns.maxAdapterFileBytes());
            AdapterCatalog registry = ns.persistence() == NodeSettings.Persistence.CASSANDRA
                    ? journaled(system, config, ns, store, worker, spec.id(), io)
                    : new AdapterRegistry(store, new InMemoryAuditLog(), worker, spec.id(), io);
            LocalInferenceService service = new LocalInferenceService(spec, worker, registry);
            EdgeServer server = EdgeServer.start(system, es, service, registry).toCompletableFuture().join();
            EngineMetrics metrics = new EngineMetrics(ns.workerName());
            system.scheduler().scheduleAtFixedRate(ns.metricsInterval(), ns.metricsInterval(),
                    () -> engine.status().thenAccept(metrics::update), system.executionContext());
            CoordinatedShutdown.get(system).addJvmShutdownHook(io::shutdownNow);
            return new QuiverNode(system, server, registry, worker, spec, bootstrap, io);
        } catch (RuntimeException e) {
            system.terminate();
            io.shutdownNow();
            throw e;
        }
    }

    /**
     * The Cassandra-backed registry: connects (blocking, bounded), creates the blob tables when auto-create is on,
     * and replays every adapter from the journal before returning.
     */
    private static JournaledAdapterRegistry journaled(ActorSystem<Void> system, Config config, NodeSettings ns,
                                                      AdapterStore store, LocalWorker worker, String baseModel,
                                                      ExecutorService io) {
        PersistenceSettings ps = PersistenceSettings.fromConfig(config);
        CqlSession session;
        try {
            session = CassandraSessionRegistry.get(system).sessionFor(CassandraSessionSettings.create())
                    .underlying().toCompletableFuture().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("cannot connect to Cassandra at "
                    + config.getStringList("datastax-java-driver.basic.contact-points") + ": " + e, e);
        }
        AdapterDirectories blobs = new AdapterDirectories(AdapterBlobStore.create(session, ps.blob()),
                ns.adapterStore().resolve(".blobs"));
        JournaledAdapterRegistry registry = new JournaledAdapterRegistry(system, store, blobs,
                new AdapterAuditLog(system, ps.lifecycle().tag()), session, worker, baseModel, ns.nodeId(),
                ps.lifecycle(), io);
        try {
            registry.recover().toCompletableFuture().get(120, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("cannot recover the adapter registry from Cassandra: " + e, e);
        }
        return registry;
    }

    /**
     * Registers every adapter directory under {@code dir} (each subdirectory with an adapter_config.json) as a
     * shared adapter of the default tenant, named after the subdirectory; its path must be an allowed root.
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
                    // recovered from the journal: keep its versions as they are (a retired one stays retired)
                    if ("active".equals(existing.status())) {
                        out.add(existing);
                    }
                } else {
                    out.add(registry.register(operator, p.getFileName().toString(),
                            AdapterSource.ofUri(p.toAbsolutePath().toUri().toString()), true)
                            .toCompletableFuture().join());
                }
            }
        }
        return out;
    }

    public AdapterCatalog registry() {
        return registry;
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

    /** Graceful stop: drain the edge, stop the actors (the worker closes its engine), wait for the end. */
    public void stop() {
        CoordinatedShutdown.get(system).run(CoordinatedShutdown.unknownReason());
        try {
            system.getWhenTerminated().toCompletableFuture().get(server.shutdownDeadline().plus(Duration
                    .ofSeconds(30)).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.warn("node did not stop cleanly: {}", e.toString());
        }
        io.shutdownNow();
    }
}
