package dev.quiver.edge.api;

import java.util.List;
import java.util.Map;

/**
 * What {@code GET /ready} reports: ready or not, one line or object per check (worker, cluster, Cassandra), and what
 * is degraded while the node is ready (a dependency down that serving does not need: requests go on, some
 * operations answer 503).
 */
public record Readiness(boolean ready, Map<String, Object> checks, List<String> degraded) {
    public Readiness {
        degraded = List.copyOf(degraded);
    }

    /** Ready or not, nothing degraded. */
    public Readiness(boolean ready, Map<String, Object> checks) {
        this(ready, checks, List.of());
    }
}
