package dev.quiver.edge.api;

import java.util.Map;

/**
 * What {@code GET /ready} reports: ready or not, and one line or object per check (worker, cluster, Cassandra).
 */
public record Readiness(boolean ready, Map<String, Object> checks) {
}
