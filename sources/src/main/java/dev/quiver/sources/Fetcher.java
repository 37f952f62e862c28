package dev.quiver.sources;

/** Fetches one kind of source into a local directory. Implementations are thread-safe. */
public interface Fetcher {
    /**
     * Makes {@code set}'s files of {@code source} available locally, downloading what the cache lacks, verified.
     *
     * @throws SourceException naming the source (and the file) when it cannot
     */
    Fetched fetch(SourceUri source, FileSet set, DownloadProgress progress);
}
