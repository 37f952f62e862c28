package dev.quiver.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.quiver.edge.api.AdapterView;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.cassandra.CassandraConnection;
import dev.quiver.persistence.cassandra.CassandraEndpoint;
import dev.quiver.persistence.cassandra.CassandraStartException;
import dev.quiver.persistence.cassandra.EmbeddedCassandra;
import java.nio.file.Files;
import org.apache.pekko.actor.CoordinatedShutdown;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code bin/quiver node|serve --config FILE [--model-dir DIR] [--port N] [--register-adapters DIR] [--demo]}: starts
 * a Quiver node (a cluster member; with no seed nodes configured, a cluster of its own) and runs until Ctrl-C or
 * until the cluster downs it. With {@code quiver.node.persistence = cassandra} (the default) and no
 * {@code quiver.persistence.cassandra.contact-points}, it first starts the embedded Cassandra (data under
 * {@code .quiver/cassandra}), or reuses the one already running there, and stops it at exit when it started it.
 * The exit status is 0 after a normal stop and 3 when the cluster downed this node (restart it to rejoin).
 *
 * <ul>
 *   <li>{@code --config FILE}: HOCON (e.g. conf/quiver.conf) over the modules' reference.conf defaults.</li>
 *   <li>{@code --model-dir}, {@code --port}: override {@code quiver.node.model-dir} / {@code quiver.edge.port}. The
 *       model may be {@code hf://ORG/REPO[@REVISION][/SUBDIR]}: fetched at start into the download cache
 *       ({@code quiver.sources}, module sources) with a progress bar per file.</li>
 *   <li>{@code --register-adapters DIR}: register each adapter directory under DIR as a shared adapter at start
 *       (DIR becomes an allowed adapter root).</li>
 *   <li>{@code --demo}: print the URL, the API key and a ready-to-paste curl (used by {@code bin/quiver up}).</li>
 * </ul>
 */
public final class NodeMain {
    private NodeMain() {
    }

    /** The JDK's system property for the parallelism of {@link java.util.concurrent.ForkJoinPool#commonPool()}. */
    static final String COMMON_POOL_PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";

    /**
     * Gives the common pool at least two threads, unless its parallelism was set explicitly. Must run before
     * anything touches the common pool or {@code CompletableFuture}.
     */
    // NOTE: every CompletionStage from Pekko's Java API (asks, entity.toStrict, stream materialisations) is Scala's
    // FutureConvertersImpl.CF, which runs even thenApply/thenCompose/whenComplete asynchronously on
    // CompletableFuture's default executor. With 2 CPUs or fewer the common pool's parallelism is 1, and then that
    // executor starts a new thread per task: a node on a 2-vCPU machine started about 55 threads a second under
    // load (JFR, bench scale, node 1), one or more per HTTP request.
    static void atLeastTwoCommonPoolThreads() {
        if (System.getProperty(COMMON_POOL_PARALLELISM) == null) {
            System.setProperty(COMMON_POOL_PARALLELISM,
                    Integer.toString(Math.max(2, Runtime.getRuntime().availableProcessors() - 1)));
        }
    }

    public static void main(String[] args) throws Exception {
        atLeastTwoCommonPoolThreads();
        Path configFile = null;
        String modelDir = null;
        Integer port = null;
        Path register = null;
        boolean demo = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--config" -> configFile = Path.of(value(args, ++i, "--config"));
                case "--model-dir" -> modelDir = value(args, ++i, "--model-dir");
                case "--port" -> port = Integer.parseInt(value(args, ++i, "--port"));
                case "--register-adapters" -> register = Path.of(value(args, ++i, "--register-adapters"))
                        .toAbsolutePath().normalize();
                case "--demo" -> demo = true;
                case "-h", "--help" -> {
                    System.out.println("usage: bin/quiver node|serve --config FILE [--model-dir DIR|hf://ORG/REPO[@REV]] [--port N] "
                            + "[--register-adapters DIR] [--demo]");
                    return;
                }
                default -> fail("unknown argument '" + args[i] + "'");
            }
        }
        Config overrides = ConfigFactory.empty();
        if (modelDir != null) {
            overrides = overrides.withValue("quiver.node.model-dir", ConfigValueFactory.fromAnyRef(modelDir));
        }
        if (port != null) {
            overrides = overrides.withValue("quiver.edge.port", ConfigValueFactory.fromAnyRef(port));
        }
        Config file = ConfigFactory.empty();
        if (configFile != null) {
            if (!Files.isRegularFile(configFile)) {
                fail("config file " + configFile + " not found");
            }
            file = ConfigFactory.parseFile(configFile.toFile());
        }
        Config base = overrides.withFallback(file).withFallback(ConfigFactory.defaultApplication())
                .withFallback(ConfigFactory.defaultReference());
        if (register != null) {
            List<String> roots = new ArrayList<>(base.resolve().getStringList("quiver.node.allowed-adapter-roots"));
            roots.add(register.toString());
            base = ConfigFactory.empty().withValue("quiver.node.allowed-adapter-roots",
                    ConfigValueFactory.fromIterable(roots)).withFallback(base);
        }
        Config config = ConfigFactory.systemProperties().withFallback(base).resolve();
        EmbeddedCassandra cassandra = null;
        QuiverNode node;
        try {
            NodeSettings ns = NodeSettings.fromConfig(config);
            if (ns.persistence() == NodeSettings.Persistence.CASSANDRA) {
                PersistenceSettings ps = PersistenceSettings.fromConfig(config);
                if (ps.cassandra().useEmbedded()) {
                    cassandra = startOrReuse(ps.cassandra().embedded());
                    CassandraEndpoint endpoint = cassandra != null ? cassandra.endpoint()
                            : EmbeddedCassandra.status(ps.cassandra().embedded()).endpoint().orElseThrow();
                    config = CassandraConnection.driverConfig(ps.cassandra(), List.of(endpoint.toString()))
                            .withFallback(config);
                }
            }
            node = QuiverNode.start(config);
        } catch (IllegalArgumentException | IllegalStateException | CassandraStartException e) {
            if (cassandra != null) {
                cassandra.close();
            }
            fail(e.getMessage());
            return;
        }
        List<AdapterView> registered = register == null ? List.of() : node.registerAll(register);
        String url = node.baseUrl();
        System.out.println();
        System.out.println("Quiver is up: " + url + "   (base model '" + node.model().id() + "'"
                + (registered.isEmpty() ? "" : ", adapters " + registered.stream().map(AdapterView::name).toList())
                + ")");
        if (node.bootstrapKey() != null) {
            System.out.println("  API key (admin, tenant '" + QuiverNode.DEFAULT_TENANT + "', generated for this run): "
                    + node.bootstrapKey());
        }
        if (demo) {
            String model = registered.isEmpty() ? node.model().id() : registered.get(0).name();
            String key = node.bootstrapKey() != null ? node.bootstrapKey() : "$QUIVER_API_KEY";
            System.out.println("  Try:");
            System.out.println("    curl -s " + url + "/v1/completions -H 'Authorization: Bearer " + key + "' "
                    + "-H 'Content-Type: application/json' -d '{\"model\": \"" + model + "\", \"prompt\": "
                    + "\"Hello\", \"max_tokens\": 16, \"seed\": 1}'");
            System.out.println("  Docs: docs/HTTP.md. Ctrl-C stops the node.");
        }
        System.out.println();
        System.out.flush();
        node.system().getWhenTerminated().toCompletableFuture().join();
        if (cassandra != null) {
            // NOTE: on Ctrl-C the launcher's own shutdown hook stops it too (close is idempotent); this covers a node
            // stopped from inside the process.
            cassandra.close();
        }
        boolean downed = CoordinatedShutdown.get(node.system()).getShutdownReason()
                .filter(r -> r instanceof CoordinatedShutdown.ClusterDowningReason$).isPresent();
        if (downed) {
            System.err.println("quiver: the cluster downed this node (it was unreachable); it has stopped. Start it "
                    + "again to rejoin as a new incarnation.");
        }
        System.exit(downed ? 3 : 0);
    }

    /**
     * The embedded Cassandra for this node: null when one already runs from the same data directory (started by
     * {@code bin/quiver cassandra start} or another node; it is reused and left running), else one started here,
     * attached to this process: stopped when the node stops, and by its parent-pid watch if this JVM is killed.
     */
    private static EmbeddedCassandra startOrReuse(PersistenceSettings.Embedded settings) {
        EmbeddedCassandra.Status status = EmbeddedCassandra.status(settings);
        switch (status.state()) {
            case UP -> {
                System.out.println("quiver: using the Cassandra already running: " + status.describe());
                return null;
            }
            case NOT_ANSWERING -> throw new CassandraStartException(status.describe()
                    + "; wait for it or stop it (bin/quiver cassandra stop)");
            default -> {
                System.out.println("quiver: starting the embedded Cassandra (data in " + settings.dataDir()
                        + ", CQL on " + settings.host() + ":" + settings.nativePort() + "; about 10-20 s)...");
                System.out.flush();
                EmbeddedCassandra started = EmbeddedCassandra.start(settings, EmbeddedCassandra.Mode.ATTACHED);
                System.out.println("quiver: Cassandra is up (pid " + started.pid() + "); it stops with this node");
                return started;
            }
        }
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            fail(flag + " needs a value");
        }
        return args[i];
    }

    private static void fail(String message) {
        System.err.println("quiver: " + message);
        System.exit(2);
    }
}
