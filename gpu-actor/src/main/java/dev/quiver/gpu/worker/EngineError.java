package dev.quiver.gpu.worker;

/**
 * Why a request failed, typed so that each edge maps it to its wire form once (HTTP status + OpenAI error).
 * {@code retryAfterSeconds} is set for retriable kinds.
 */
public record EngineError(Kind kind, String message, String param, int retryAfterSeconds) {
    public enum Kind {
        /** Malformed or out-of-range request fields. */
        INVALID_REQUEST,
        /** Prompt plus max_tokens longer than the context, or than the whole KV cache. */
        CONTEXT_LENGTH_EXCEEDED,
        /** No such adapter on this worker. */
        UNKNOWN_ADAPTER,
        /** The adapter's files were refused (the message says why). */
        ADAPTER_REFUSED,
        /** Too much queued work; retry later. */
        OVERLOADED,
        /** The worker is stopping. */
        SHUTTING_DOWN,
        /** A failure inside the engine; the request may be retried elsewhere. */
        INTERNAL
    }

    public static EngineError of(Kind kind, String message) {
        return new EngineError(kind, message, null, 0);
    }

    public boolean retriable() {
        return kind == Kind.OVERLOADED || kind == Kind.SHUTTING_DOWN || kind == Kind.INTERNAL;
    }
}
