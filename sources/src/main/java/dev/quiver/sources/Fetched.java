package dev.quiver.sources;

import java.nio.file.Path;
import java.util.List;

/**
 * A fetched source, ready to read.
 *
 * @param dir             the local directory holding the files (a cache snapshot, or the local directory itself)
 * @param source          the source as asked for
 * @param commit          the revision it resolved to (a Hub commit sha), or null for local sources
 * @param files           the files in {@code dir} that were fetched, sorted
 * @param downloadedBytes bytes received over the network by this fetch (0 when everything came from the cache)
 */
public record Fetched(Path dir, SourceUri source, String commit, List<String> files, long downloadedBytes) {
    /** How audit logs name what was fetched: the source pinned to its commit where there is one. */
    public String describe() {
        if (source instanceof SourceUri.Hub h && commit != null) {
            return h.at(commit).canonical() + (h.revision().equals(commit) ? "" : " (" + h.revision() + ")");
        }
        return source.canonical();
    }
}
