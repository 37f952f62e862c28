package dev.quiver.node;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** The node's options, read once from {@code quiver.node} (documented in this module's reference.conf). */
public record NodeSettings(Path modelDir, String servedModelName, Path adapterStore, List<Path> allowedAdapterRoots,
                           long maxAdapterFileBytes, String nodeId, String workerName, boolean bootstrapAdminKey,
                           Duration metricsInterval, Persistence persistence, Duration joinTimeout, Routing routing,
                           Placement placement) {

    /** Where the adapter lifecycle, its files and the audit trail live ({@code quiver.node.persistence}). */
    public enum Persistence {
        /** Lifecycle events journaled in Cassandra, adapter files in its blob store: survives restarts. */
        CASSANDRA,
        /** Pekko's in-memory journal and files on this node's disk: one process, lost when it stops. */
        IN_MEMORY
    }

    /**
     * {@code quiver.node.routing}: how long a request may take to reach a worker, retries included; how long a worker
     * may take to fetch and load the adapter version a request needs ({@code loadTimeout}); and how long an entity ask
     * may take while a member is unreachable ({@code unreachableRouteTimeout}).
     */
    public record Routing(Duration deadline, Duration routeTimeout, Duration retryBackoff, Duration loadTimeout,
                          Duration unreachableRouteTimeout) {
        /** With the default unreachable-route-timeout (500 ms, or {@code routeTimeout} when shorter). */
        public Routing(Duration deadline, Duration routeTimeout, Duration retryBackoff, Duration loadTimeout) {
            this(deadline, routeTimeout, retryBackoff, loadTimeout, routeTimeout.compareTo(Duration.ofMillis(500)) <= 0
                    ? routeTimeout : Duration.ofMillis(500));
        }

        public Routing(Duration deadline, Duration routeTimeout, Duration retryBackoff) {
            this(deadline, routeTimeout, retryBackoff, DEFAULT_LOAD_TIMEOUT);
        }
    }

    /** {@code quiver.node.routing.load-timeout} when not given. */
    public static final Duration DEFAULT_LOAD_TIMEOUT = Duration.ofSeconds(60);

    /**
     * {@code quiver.node.placement}: the placement policy's thresholds and the workers' publishing rate;
     * {@code hostCopiesApart}: workers publish their host copies apart from their loads (docs/CLUSTER.md).
     */
    public record Placement(int replicateQueueThreshold, int maxReplicas, Duration loadPublishInterval,
                            Duration maintainInterval, Duration placementTimeout, boolean hostCopiesApart) {
        /** Host copies published apart (the default). */
        public Placement(int replicateQueueThreshold, int maxReplicas, Duration loadPublishInterval,
                         Duration maintainInterval, Duration placementTimeout) {
            this(replicateQueueThreshold, maxReplicas, loadPublishInterval, maintainInterval, placementTimeout, true);
        }
    }

    /** The id of this node's worker in the cluster: {@code <node-id>/<worker-name>}. */
    public String workerId() {
        return nodeId + "/" + workerName;
    }

    public static NodeSettings fromConfig(Config root) {
        Config c = root.getConfig("quiver.node");
        String dir = c.getString("model-dir");
        if (dir.isBlank()) {
            throw new IllegalArgumentException("quiver.node.model-dir is not set: pass --model-dir DIR or set "
                    + "QUIVER_MODEL_DIR (bin/quiver model make DIR writes a demo model)");
        }
        String nodeId = c.getString("node-id");
        if (!nodeId.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            throw new IllegalArgumentException("quiver.node.node-id must be 1-64 letters, digits, '.', '_' or '-', "
                    + "got '" + nodeId + "'");
        }
        Path model = Path.of(dir).toAbsolutePath().normalize();
        String name = c.getString("served-model-name");
        Config r = c.getConfig("routing");
        Config p = c.getConfig("placement");
        Placement placement = new Placement(p.getInt("replicate-queue-threshold"), p.getInt("max-replicas"),
                p.getDuration("load-publish-interval"), p.getDuration("maintain-interval"),
                p.getDuration("placement-timeout"), p.getBoolean("host-copies-apart"));
        if (placement.replicateQueueThreshold() < 1 || placement.maxReplicas() < 1) {
            throw new IllegalArgumentException("quiver.node.placement: replicate-queue-threshold and max-replicas "
                    + "must be at least 1");
        }
        return new NodeSettings(model, name.isBlank() ? model.getFileName().toString() : name,
                Path.of(c.getString("adapter-store")).toAbsolutePath().normalize(),
                c.getStringList("allowed-adapter-roots").stream().map(x -> Path.of(x).toAbsolutePath().normalize())
                        .toList(),
                c.getBytes("max-adapter-file-size"), nodeId, c.getString("worker-name"),
                c.getBoolean("bootstrap-admin-key"), c.getDuration("metrics-interval"),
                persistence(c.getString("persistence")), c.getDuration("join-timeout"),
                routing(r),
                placement);
    }

    private static Routing routing(Config r) {
        Routing routing = new Routing(r.getDuration("deadline"), r.getDuration("route-timeout"),
                r.getDuration("retry-backoff"), positive(r.getDuration("load-timeout"),
                "quiver.node.routing.load-timeout"), r.getDuration("unreachable-route-timeout"));
        if (routing.unreachableRouteTimeout().isZero() || routing.unreachableRouteTimeout().isNegative()
                || routing.unreachableRouteTimeout().compareTo(routing.routeTimeout()) > 0) {
            throw new IllegalArgumentException("quiver.node.routing.unreachable-route-timeout must be above 0 and at "
                    + "most route-timeout (" + routing.routeTimeout().toMillis() + " ms), got "
                    + routing.unreachableRouteTimeout().toMillis() + " ms");
        }
        return routing;
    }

    private static Duration positive(Duration d, String path) {
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(path + " must be positive, got " + d);
        }
        return d;
    }

    private static Persistence persistence(String value) {
        return switch (value) {
            case "cassandra" -> Persistence.CASSANDRA;
            case "in-memory" -> Persistence.IN_MEMORY;
            default -> throw new IllegalArgumentException("quiver.node.persistence must be cassandra or in-memory, got '"
                    + value + "'");
        };
    }
}
