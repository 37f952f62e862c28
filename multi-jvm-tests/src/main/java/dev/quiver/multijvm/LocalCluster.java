package dev.quiver.multijvm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import dev.quiver.edge.auth.ApiKeys;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.persistence.LocalResources;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.cassandra.EmbeddedCassandra;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real Quiver cluster on loopback for tests and benchmarks: one Apache Cassandra started by the persistence
 * module's launcher, and {@code n} node JVMs started with {@link ProcessBuilder} ({@code dev.quiver.node.NodeMain},
 * the same main as {@code bin/quiver node}), each with its own config file, cluster port, HTTP port and log under
 * the work directory. Nodes can be killed ({@code SIGKILL}), frozen ({@code SIGSTOP}) and resumed
 * ({@code SIGCONT}); so can Cassandra be killed and started again on the same data and ports. {@link #close} kills every child, also after a failure, and a JVM shutdown hook does the same
 * if the driver itself is stopped; Cassandra's own parent watch stops it if this JVM dies.
 *
 * <p>The base model is a random Llama-architecture model written here (256 hidden, 6 layers), slow enough on a
 * CPU that a request of a hundred tokens is still running when a node is killed, with six PEFT adapters.
 */
public final class LocalCluster implements AutoCloseable {
    /** The admin key every node accepts (tenant "default"). */
    public static final String ADMIN_KEY = "sk-multi-jvm-admin";
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param extraNodeConfig HOCON every node gets on top of the harness's own (e.g. engine or SBR settings)
     * @param nodeHeap        {@code -Xmx} of each node JVM
     * @param formation       how the nodes find each other
     */
    public record Settings(int nodes, Path workDir, String keyspacePrefix, String extraNodeConfig, String nodeHeap,
                           Formation formation) {
        /** Nodes that join node 1 as their seed. */
        public Settings(int nodes, Path workDir, String keyspacePrefix, String extraNodeConfig, String nodeHeap) {
            this(nodes, workDir, keyspacePrefix, extraNodeConfig, nodeHeap, Formation.SEED_NODES);
        }
    }

    /** How the nodes form their cluster. */
    public enum Formation {
        /** {@code pekko.cluster.seed-nodes} = node 1: start node 1 first. */
        SEED_NODES,
        /**
         * Cluster Bootstrap with {@code config} discovery, no seed nodes: the management endpoints of the first
         * min(3, nodes) nodes are the contact points and {@code required-contact-point-nr}; those start in any order
         * and form the cluster, later nodes join it through them.
         */
        BOOTSTRAP
    }

    private final Settings settings;
    private final Path modelDir;
    /** The running Cassandra; replaced by {@link #restartCassandra}. */
    private volatile EmbeddedCassandra cassandra;
    private final int[] artery;
    private final int[] http;
    private final int[] management;
    private final Process[] processes;
    private final int[] incarnation;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Thread hook = new Thread(this::killAll, "local-cluster-cleanup");

    public LocalCluster(Settings settings) {
        this.settings = settings;
        this.artery = new int[settings.nodes() + 1];
        this.http = new int[settings.nodes() + 1];
        this.management = new int[settings.nodes() + 1];
        this.processes = new Process[settings.nodes() + 1];
        this.incarnation = new int[settings.nodes() + 1];
        try {
            Files.createDirectories(settings.workDir());
            modelDir = settings.workDir().resolve("model");
            if (!Files.isRegularFile(modelDir.resolve("config.json"))) {
                writeModel(modelDir);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (int i = 1; i <= settings.nodes(); i++) {
            artery[i] = LocalResources.freePort();
            http[i] = LocalResources.freePort();
            management[i] = LocalResources.freePort();
        }
        Runtime.getRuntime().addShutdownHook(hook);
        Path data = settings.workDir().resolve("cassandra");
        LocalResources.deleteTree(data);
        PersistenceSettings.Embedded embedded = PersistenceSettings.fromConfig(ConfigFactory.defaultReference())
                .cassandra().embedded().at(data, LocalResources.freePort(), LocalResources.freePort());
        cassandra = EmbeddedCassandra.start(embedded, EmbeddedCassandra.Mode.ATTACHED);
    }

    /** The base model and its adapters (under {@code adapters/adapter-01..06}). */
    public Path modelDir() {
        return modelDir;
    }

    public String url(int node) {
        return "http://127.0.0.1:" + http[node];
    }

    /** The node's management endpoint ({@code /alive}, {@code /ready}, {@code /cluster/members}). */
    public String managementUrl(int node) {
        return "http://127.0.0.1:" + management[node];
    }

    /** The config file node {@code i} was (or will be) started with. */
    public Path configFile(int i) {
        return settings.workDir().resolve("node-" + i).resolve("node.conf");
    }

    public int size() {
        return settings.nodes();
    }

    /** The node's process, or null when it is not running. */
    public Process process(int node) {
        return processes[node];
    }

    /** Starts node 1 (the seed), then the others, and waits until each is ready in a cluster of all of them. */
    public void startAll(Duration timeout) {
        start(1);
        awaitReady(1, 1, timeout);
        for (int i = 2; i <= settings.nodes(); i++) {
            start(i);
        }
        for (int i = 1; i <= settings.nodes(); i++) {
            awaitReady(i, settings.nodes(), timeout);
        }
    }

    /** Starts node {@code i} (again: a new incarnation, a new log file). */
    public void start(int i) {
        if (processes[i] != null && processes[i].isAlive()) {
            throw new IllegalStateException("node " + i + " is already running");
        }
        refreshTakenPorts(i);
        try {
            incarnation[i]++;
            Path dir = Files.createDirectories(settings.workDir().resolve("node-" + i));
            // a new incarnation starts connected to every peer
            Files.deleteIfExists(dir.resolve(Blackholes.FILE));
            Path conf = dir.resolve("node.conf");
            Files.writeString(conf, nodeConfig(i));
            Path log = dir.resolve("node-" + incarnation[i] + ".log");
            List<String> cmd = new ArrayList<>(List.of(javaBin(), "-Xmx" + settings.nodeHeap(), "-XX:+UseSerialGC",
                    "--add-modules", "jdk.incubator.vector", "-Dquiver.home=" + settings.workDir(),
                    "-cp", System.getProperty("java.class.path"), "dev.quiver.node.NodeMain", "--config",
                    conf.toString()));
            processes[i] = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start node " + i, e);
        }
    }

    /** Waits until node {@code i} answers {@code /ready} with 200 and sees {@code members} Up members. */
    public void awaitReady(int i, int members, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            if (processes[i] == null || !processes[i].isAlive()) {
                throw new IllegalStateException("node " + i + " exited with " + exitCode(i) + " while starting; see "
                        + settings.workDir().resolve("node-" + i));
            }
            try {
                HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(url(i) + "/ready"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                last = r.statusCode() + " " + r.body();
                if (r.statusCode() == 200) {
                    JsonNode m = JSON.readTree(r.body()).at("/checks/cluster/members");
                    long up = 0;
                    for (JsonNode x : m) {
                        up += x.asText().endsWith(" Up") ? 1 : 0;
                    }
                    if (up == members) {
                        return;
                    }
                }
            } catch (IOException e) {
                last = e.toString();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            sleep(200);
        }
        throw new IllegalStateException("node " + i + " not ready with " + members + " members within " + timeout
                + ": " + last);
    }

    /** {@code kill -9}: the node dies at once, mid-request, without leaving the cluster. */
    public void kill(int i) {
        Process p = processes[i];
        if (p != null) {
            p.destroyForcibly();
            try {
                p.waitFor(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** {@code kill -9} of Cassandra: it dies at once, its data stays; returns once the process is gone (30 s at most). */
    /** The running Cassandra's process id. */
    public long cassandraPid() {
        return cassandra.pid();
    }

    public void killCassandra() {
        EmbeddedCassandra c = cassandra;
        ProcessHandle.of(c.pid()).ifPresent(ProcessHandle::destroyForcibly);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (c.isAlive() && System.nanoTime() < deadline) {
            sleep(50);
        }
        if (c.isAlive()) {
            throw new IllegalStateException("Cassandra (pid " + c.pid() + ") still runs 30 s after SIGKILL");
        }
        c.close(); // nothing left to stop: drops its run files and shutdown hook
    }

    /**
     * Starts Cassandra again on the same data directory, host and ports after {@link #killCassandra}; returns once
     * it answers CQL (the launcher's start timeout bounds the wait).
     */
    public void restartCassandra() {
        EmbeddedCassandra c = cassandra;
        if (c.isAlive()) {
            throw new IllegalStateException("Cassandra (pid " + c.pid() + ") is still running");
        }
        cassandra = EmbeddedCassandra.start(c.settings(), EmbeddedCassandra.Mode.ATTACHED);
    }

    /** {@code SIGTERM}: the node runs its coordinated shutdown (drain, hand shards over, leave) and exits. */
    public void terminate(int i) {
        Process p = processes[i];
        if (p != null) {
            p.destroy();
        }
    }

    /** Node {@code i}'s address in the cluster ({@code pekko://quiver@127.0.0.1:PORT}). */
    public String clusterAddress(int i) {
        return "pekko://quiver@127.0.0.1:" + artery[i];
    }

    /**
     * A network partition: every node in {@code side} stops exchanging messages with every node not in it, in both
     * directions, within about a tenth of a second. Needs nodes started with {@link #PARTITIONABLE} in their config
     * (see {@link Blackholes}); the processes keep running, each side sees the other unreachable.
     */
    public void partition(java.util.Set<Integer> side) {
        for (int i = 1; i <= settings.nodes(); i++) {
            StringBuilder peers = new StringBuilder();
            for (int j = 1; j <= settings.nodes(); j++) {
                if (side.contains(i) != side.contains(j)) {
                    peers.append(clusterAddress(j)).append('\n');
                }
            }
            writeBlackholes(i, peers.toString());
        }
    }

    /** Ends a {@link #partition}: every node reaches every other again. */
    public void heal() {
        for (int i = 1; i <= settings.nodes(); i++) {
            writeBlackholes(i, "");
        }
    }

    /**
     * Node config that lets {@link #partition} cut the network between nodes: Artery's test transport (blackholes)
     * and the {@link Blackholes} extension that applies them. For tests and benchmarks only.
     */
    public static final String PARTITIONABLE = String.join("\n",
            "pekko.remote.artery.advanced.test-mode = on",
            "pekko.extensions += \"" + Blackholes.class.getName() + "\"");

    private void writeBlackholes(int i, String content) {
        try {
            Path dir = Files.createDirectories(settings.workDir().resolve("node-" + i));
            Path tmp = dir.resolve(Blackholes.FILE + ".tmp");
            Files.writeString(tmp, content);
            Files.move(tmp, dir.resolve(Blackholes.FILE), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code kill -STOP}: the node stops answering but keeps its state, as in a long pause or a partition. */
    public void freeze(int i) {
        signal(i, "STOP");
    }

    /** {@code kill -CONT}: a frozen node runs again. */
    public void thaw(int i) {
        signal(i, "CONT");
    }

    /** Waits for node {@code i}'s process to end; its exit code, or null if it still runs after the timeout. */
    public Integer awaitExit(int i, Duration timeout) {
        try {
            return processes[i].waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? processes[i].exitValue() : null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    public Path log(int i) {
        return settings.workDir().resolve("node-" + i).resolve("node-" + incarnation[i] + ".log");
    }

    private Object exitCode(int i) {
        return processes[i] == null ? "-" : processes[i].isAlive() ? "(running)" : processes[i].exitValue();
    }

    // ---- HTTP helpers ----

    /** GET with the admin key; the body as JSON (status checked: 200). */
    public JsonNode get(int node, String path) {
        HttpResponse<String> r = send(node, HttpRequest.newBuilder(URI.create(url(node) + path)).GET());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("GET " + path + " on node " + node + ": " + r.statusCode() + " "
                    + r.body());
        }
        return parse(r.body());
    }

    /** The sum of {@code name}'s series on node {@code node} (Prometheus text of /metrics); 0 when it has none. */
    public double metric(int node, String name) {
        double sum = 0;
        for (String line : send(node, HttpRequest.newBuilder(URI.create(url(node) + "/metrics")).GET()).body()
                .split("\n")) {
            if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    /** POST JSON with the admin key; the raw response. */
    public HttpResponse<String> post(int node, String path, String json) {
        return send(node, HttpRequest.newBuilder(URI.create(url(node) + path))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    public HttpClient client() {
        return client;
    }

    private HttpResponse<String> send(int node, HttpRequest.Builder b) {
        try {
            return client.send(b.header("Authorization", "Bearer " + ADMIN_KEY).timeout(Duration.ofSeconds(60))
                    .build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException("node " + node + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public static JsonNode parse(String body) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---- setup ----

    private String nodeConfig(int i) {
        String firstBucket = LocalDateTime.now(ZoneOffset.UTC).minusDays(1)
                .format(DateTimeFormatter.ofPattern("yyyyMMdd'T'HH:00"));
        String ks = settings.keyspacePrefix();
        return """
                quiver.node {
                  model-dir = "%s"
                  served-model-name = "base"
                  node-id = "node-%d"
                  adapter-store = "%s"
                  allowed-adapter-roots = ["%s"]
                  bootstrap-admin-key = off
                  persistence = cassandra
                  metrics-interval = 500ms
                  placement { load-publish-interval = 200ms, maintain-interval = 1s }
                }
                quiver.persistence.cassandra.contact-points = ["%s"]
                pekko.persistence.cassandra {
                  journal.keyspace = "%s_journal"
                  snapshot.keyspace = "%s_snapshot"
                  events-by-tag.first-time-bucket = "%s"
                  events-by-tag.eventual-consistency-delay = 200ms
                  query.refresh-interval = 200ms
                }
                quiver.persistence.blob.keyspace = "%s_blobs"
                datastax-java-driver.basic.request.timeout = 20s
                datastax-java-driver.advanced.control-connection.schema-agreement.timeout = 30s
                datastax-java-driver.profiles.pekko-persistence-cassandra-profile.basic.request.timeout = 20s
                quiver.edge {
                  port = %d
                  api-keys = [ { name = "admin", sha256 = "%s", tenant = "default", role = "admin" } ]
                }
                pekko.remote.artery.canonical.port = %d
                %s
                pekko.coordinated-shutdown.exit-jvm = on
                quiver.engine { threads = 1, max-loras = 2, kv-cache-memory = 64MiB }
                %s
                """.formatted(modelDir, i, settings.workDir().resolve("node-" + i).resolve("adapter-store"),
                settings.workDir(), cassandra.endpoint(), ks, ks, firstBucket, ks, http[i],
                ApiKeys.sha256Hex(ADMIN_KEY), artery[i], formationConfig(i), settings.extraNodeConfig());
    }

    /**
     * Ports were picked free when the harness was made; a node started minutes later may find one taken (by an
     * outgoing connection's ephemeral port, or another process). Such a port is replaced, unless other nodes know it:
     * node 1's cluster port (the seed) and the contact points' management ports.
     */
    private void refreshTakenPorts(int i) {
        if (!isFree(http[i])) {
            http[i] = LocalResources.freePort();
        }
        boolean seed = settings.formation() == Formation.SEED_NODES && i == 1;
        if (!seed && !isFree(artery[i])) {
            artery[i] = LocalResources.freePort();
        }
        boolean contactPoint = settings.formation() == Formation.BOOTSTRAP && i <= Math.min(3, settings.nodes());
        if (!contactPoint && !isFree(management[i])) {
            management[i] = LocalResources.freePort();
        }
    }

    private static boolean isFree(int port) {
        try (java.net.ServerSocket s = new java.net.ServerSocket(port, 1,
                java.net.InetAddress.getByName("127.0.0.1"))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private String formationConfig(int i) {
        if (settings.formation() == Formation.SEED_NODES) {
            // NOTE: node 1 is the seed that forms the cluster. Restarted while others run, it must not be its own
            // first seed (Pekko lets a first seed that is alone join itself: a second cluster); it lists the running
            // nodes instead and joins theirs. Every other node lists the running nodes too, node 1 first.
            List<String> seeds = new ArrayList<>();
            for (int j = 1; j <= settings.nodes(); j++) {
                if (j != i && processes[j] != null && processes[j].isAlive()) {
                    seeds.add("\"pekko://quiver@127.0.0.1:" + artery[j] + "\"");
                }
            }
            if (seeds.isEmpty()) {
                seeds.add("\"pekko://quiver@127.0.0.1:" + artery[1] + "\"");
            }
            return "pekko.cluster.seed-nodes = [" + String.join(", ", seeds) + "]";
        }
        // NOTE: the contact points are the nodes that start together, exactly: with contact-with-all-contact-points
        // (Pekko's default, which keeps a node that reaches only some of them from forming a cluster of its own) a
        // listed node that is not running blocks the formation. Later nodes join through these.
        int contactPoints = Math.min(3, settings.nodes());
        StringBuilder endpoints = new StringBuilder();
        for (int n = 1; n <= contactPoints; n++) {
            endpoints.append(n > 1 ? ", " : "").append("{ host = \"127.0.0.1\", port = ").append(management[n])
                    .append(" }");
        }
        return String.join("\n",
                "quiver.node.cluster-formation = bootstrap",
                "quiver.node.management.enabled = on",
                "quiver.node.join-timeout = 600s",
                "pekko.management.http.port = " + management[i],
                "pekko.management.cluster.bootstrap.contact-point-discovery {",
                "  discovery-method = config, service-name = quiver, stable-margin = 2s",
                "  required-contact-point-nr = " + contactPoints,
                "}",
                // Every contact point is on 127.0.0.1: without this, Pekko keeps only the one on the fallback port.
                "pekko.management.cluster.bootstrap.contact-point.filter-on-fallback-port = false",
                "pekko.discovery.config.services.quiver.endpoints = [ " + endpoints + " ]");
    }

    private static void writeModel(Path dir) {
        ModelMaker.writeDemo(dir, 512, vocab -> new ModelMaker.Shape(256, 688, 6, 8, 4, vocab, 2048, false, false),
                DType.F32, 11, 6);
    }

    private void signal(int i, String signal) {
        Process p = processes[i];
        if (p == null) {
            return;
        }
        try {
            int rc = new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).inheritIO().start().waitFor();
            if (rc != 0) {
                throw new IllegalStateException("kill -" + signal + " " + p.pid() + " failed: " + rc);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void killAll() {
        for (int i = 1; i < processes.length; i++) {
            Process p = processes[i];
            if (p != null && p.isAlive()) {
                signal(i, "CONT");
                p.destroyForcibly();
            }
        }
        for (Process p : processes) {
            if (p != null) {
                try {
                    p.waitFor(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    @Override
    public void close() {
        killAll();
        cassandra.close();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs anyway
        }
    }

    private static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }


    /**
     * Polls {@code condition} every 50 ms until it holds; an AssertionError naming {@code what} (and the last
     * exception the condition threw, if any) after {@code timeout}.
     */
    public static void await(Duration timeout, java.util.function.BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "";
        while (true) {
            try {
                if (condition.getAsBoolean()) {
                    return;
                }
            } catch (RuntimeException e) {
                last = " (last: " + e.getMessage() + ")";
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting until " + what + last);
            }
            sleep(50);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
