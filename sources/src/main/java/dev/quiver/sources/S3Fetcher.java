package dev.quiver.sources;

/**
 * {@code s3://BUCKET/PREFIX}: not built in this version. The parser accepts the form so that configuration can be
 * written now; fetching refuses clearly (see the README's "What is not built yet").
 */
final class S3Fetcher implements Fetcher {
    @Override
    public Fetched fetch(SourceUri source, FileSet set, DownloadProgress progress) {
        throw new UnsupportedOperationException("s3:// sources are not built yet (" + source.canonical() + "): "
                + "copy the files to a local directory and use file:// or a path, or use an hf:// source");
    }
}
