package dev.quiver.edge.api;

import java.util.List;
import java.util.Map;

/**
 * An adapter as the admin API shows it.
 *
 * @param owner         the owning tenant
 * @param shared        usable by every tenant
 * @param status        {@code active} or {@code retired}
 * @param activeVersion the version requests are served with
 * @param residentOn    the workers holding the active version in a compute slot
 * @param cache         where the active version is in each worker's tiered cache, and the cache's counters
 * @param split         the traffic split in progress ({@code weights} version → percent, {@code baseline_version},
 *                      {@code started_at}, {@code started_by}), or null
 * @param fallback      {@code none} or {@code base}: what serves a request whose version cannot be loaded
 */
public record AdapterView(String name, String owner, boolean shared, String status, int activeVersion,
                          List<Version> versions, int preloadReplicas, List<String> residentOn,
                          Map<String, Object> cache, Map<String, Object> split, String fallback) {
    public AdapterView(String name, String owner, boolean shared, String status, int activeVersion,
                       List<Version> versions, int preloadReplicas, List<String> residentOn,
                       Map<String, Object> cache) {
        this(name, owner, shared, status, activeVersion, versions, preloadReplicas, residentOn, cache, null, "none");
    }

    /** One published version: its content hash, when, and where it came from. */
    public record Version(int version, String sha256, long sizeBytes, long createdAt, String source, int rank,
                          List<String> targetModules) {
    }
}
