package dev.quiver.node;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** The node's options, read once from {@code quiver.node} (documented in this module's reference.conf). */
public record NodeSettings(Path modelDir, String servedModelName, Path adapterStore, List<Path> allowedAdapterRoots,
                           long maxAdapterFileBytes, String workerName, boolean bootstrapAdminKey,
                           Duration metricsInterval, Persistence persistence, String nodeId) {

    /** Where the adapter registry and audit trail live ({@code quiver.node.persistence}). */
    public enum Persistence {
        /** Lifecycle events journaled in Cassandra, adapter files in its blob store: survives restarts. */
        CASSANDRA,
        /** Held in the process: lost when it stops (tests, throwaway runs). */
        IN_MEMORY
    }

    public static NodeSettings fromConfig(Config root) {
        Config c = root.getConfig("quiver.node");
        String dir = c.getString("model-dir");
        if (dir.isBlank()) {
            throw new IllegalArgumentException("quiver.node.model-dir is not set: pass --model-dir DIR or set "
                    + "QUIVER_MODEL_DIR (bin/quiver model make DIR writes a demo model)");
        }
        Path model = Path.of(dir).toAbsolutePath().normalize();
        String name = c.getString("served-model-name");
        return new NodeSettings(model, name.isBlank() ? model.getFileName().toString() : name,
                Path.of(c.getString("adapter-store")).toAbsolutePath().normalize(),
                c.getStringList("allowed-adapter-roots").stream().map(p -> Path.of(p).toAbsolutePath().normalize())
                        .toList(),
                c.getBytes("max-adapter-file-size"), c.getString("worker-name"), c.getBoolean("bootstrap-admin-key"),
                c.getDuration("metrics-interval"), persistence(c.getString("persistence")), c.getString("node-id"));
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
