package dev.quiver.sources;

import java.io.PrintStream;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one entry point for fetching models and adapters: parses the source ({@link SourceUri}), picks its
 * {@link Fetcher} and reports progress as configured. Shared by the node (base model at start), the adapter store
 * (register, publish, resolvers) and {@code bin/quiver fetch}. Thread-safe; one per process is enough.
 */
public final class Sources {
    private static final Logger log = LoggerFactory.getLogger(Sources.class);

    private final SourcesSettings settings;
    private final DownloadCache cache;
    private final Fetcher hub;
    private final Fetcher s3;
    private final Fetcher local = new LocalFetcher();

    private Sources(SourcesSettings settings) {
        this.settings = settings;
        this.cache = new DownloadCache(settings.cacheDir());
        this.hub = new HubFetcher(settings, cache);
        this.s3 = new S3Fetcher(settings, cache);
    }

    public static Sources create(SourcesSettings settings) {
        return new Sources(settings);
    }

    public SourcesSettings settings() {
        return settings;
    }

    public DownloadCache cache() {
        return cache;
    }

    /** Parses and fetches {@code source} with the configured progress reporting. */
    public Fetched fetch(String source, FileSet set) {
        return fetch(SourceUri.parse(source), set);
    }

    public Fetched fetch(SourceUri source, FileSet set) {
        try (DownloadProgress p = progress(settings.progress())) {
            return fetch(source, set, p);
        }
    }

    /** Fetches reporting to {@code progress} (which the caller closes). */
    public Fetched fetch(SourceUri source, FileSet set, DownloadProgress progress) {
        Fetcher f = source instanceof SourceUri.Hub ? hub : source instanceof SourceUri.S3 ? s3 : local;
        return f.fetch(source, set, progress);
    }

    private DownloadProgress progress(SourcesSettings.Progress mode) {
        Consumer<String> toLog = log::info;
        PrintStream console = System.console() != null ? System.err : null;
        return switch (mode) {
            case OFF -> DownloadProgress.off();
            case LOG -> DownloadProgress.toLog(toLog, settings.logInterval());
            case TERMINAL -> console != null ? DownloadProgress.toTerminal(System.err)
                    : DownloadProgress.toLog(toLog, settings.logInterval());
            case AUTO -> console != null ? DownloadProgress.toTerminal(System.err)
                    : DownloadProgress.toLog(toLog, settings.logInterval());
        };
    }
}
