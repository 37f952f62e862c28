package dev.quiver.sources;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * A local directory is used where it is (nothing is copied). Whether a caller may read it (the adapter store's
 * allowed roots) is the caller's rule, not this one's.
 */
final class LocalFetcher implements Fetcher {
    @Override
    public Fetched fetch(SourceUri source, FileSet set, DownloadProgress progress) {
        Path dir = ((SourceUri.Local) source).path();
        if (!Files.isDirectory(dir)) {
            throw new SourceException(SourceException.Kind.NOT_FOUND, "'" + dir + "' is not a directory");
        }
        try (Stream<Path> s = Files.list(dir)) {
            return new Fetched(dir, source, null,
                    s.map(p -> p.getFileName().toString()).filter(set::wants).sorted().toList(), 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }
}
