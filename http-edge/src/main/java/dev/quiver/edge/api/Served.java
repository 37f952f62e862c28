package dev.quiver.edge.api;

/**
 * Which model actually generated a request's tokens, as the service reports it before the first token: an adapter
 * version (name, version number, content digest) or the base model (its served name and digest), on which worker,
 * and whether the base model stood in for an adapter that could not be loaded (fallback, opted into by the adapter
 * or the request). The edge puts {@link #fingerprint()} into {@code system_fingerprint} and the
 * {@code x-quiver-adapter} header, and the rest into the access log.
 *
 * @param adapter        the adapter's name, or null when the base model served (also on a fallback)
 * @param version        the adapter version (0 for the base model)
 * @param digest         the sha256 (hex) of the adapter version's content, or the base model's digest
 * @param baseModel      the base model's served name
 * @param worker         the worker that generated (the last one, after a failover resume)
 * @param fallbackFrom   on a fallback, the adapter (and version) that could not be loaded, else null
 * @param fallbackReason on a fallback, why the adapter could not be loaded, else null
 */
public record Served(String adapter, int version, String digest, String baseModel, String worker,
                     String fallbackFrom, String fallbackReason) {

    /** How many hex digits of the digest the fingerprint shows. */
    public static final int DIGEST_PREFIX = 12;

    public static Served adapter(String adapter, int version, String digest, String baseModel, String worker) {
        return new Served(adapter, version, digest, baseModel, worker, null, null);
    }

    public static Served base(String baseModel, String digest, String worker) {
        return new Served(null, 0, digest, baseModel, worker, null, null);
    }

    /** The base model serving in place of {@code from} (e.g. {@code my-adapter@v3}), for {@code reason}. */
    public static Served fallback(String baseModel, String digest, String worker, String from, String reason) {
        return new Served(null, 0, digest, baseModel, worker, from, reason);
    }

    public boolean isFallback() {
        return fallbackFrom != null;
    }

    /** {@code NAME@vVERSION:SHA256-PREFIX}, or {@code BASE-MODEL:SHA256-PREFIX} when the base model served. */
    public String fingerprint() {
        String prefix = digest == null ? "unknown" : digest.substring(0, Math.min(DIGEST_PREFIX, digest.length()));
        return (adapter == null ? baseModel : adapter + "@v" + version) + ":" + prefix;
    }
}
