package dev.quiver.sources;

/**
 * Why a source could not be parsed or fetched. {@link #kind()} is what a caller maps to its wire (the HTTP edge turns
 * {@link Kind#INVALID} into a 400 naming the field); the message names the source and, for a file, the file.
 * Never carries a token.
 */
public final class SourceException extends RuntimeException {
    public enum Kind {
        /** The URI is malformed or names something a source cannot be (a 400 at the edge). */
        INVALID,
        /** No such repo, revision, bucket, key or file. */
        NOT_FOUND,
        /** The source refused our credentials (gated or private Hub repo, S3 access denied). */
        UNAUTHORIZED,
        /** The bytes received do not match their size or digest, after every retry. */
        CORRUPT,
        /** Offline mode and the cache does not hold it. */
        OFFLINE_MISS,
        /** The source could not be reached or kept failing; retrying later may work. */
        UNAVAILABLE,
        /** The source kind is known but not built in this version. */
        UNSUPPORTED
    }

    private final Kind kind;

    public SourceException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public SourceException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    static SourceException invalid(String message) {
        return new SourceException(Kind.INVALID, message);
    }
}
