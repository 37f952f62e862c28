package dev.quiver.edge.api;

/**
 * A failure as the service reports it, typed so that the edge maps it to HTTP once
 * ({@code dev.quiver.edge.Errors#toResponse}).
 *
 * @param kind              what went wrong
 * @param message           for the client; names the problem
 * @param param             the request field at fault (OpenAI spelling), or null
 * @param retryAfterSeconds for retriable kinds, the hint sent as {@code Retry-After}; 0 otherwise
 */
public record ServiceError(Kind kind, String message, String param, int retryAfterSeconds) {
    public enum Kind {
        /** Malformed or out-of-range request fields. */
        INVALID_REQUEST,
        /** Prompt plus max_tokens longer than the context. */
        CONTEXT_LENGTH_EXCEEDED,
        /** No such model/adapter for this caller (also: another tenant's adapter, so existence never leaks). */
        NOT_FOUND,
        /** The adapter's files cannot be served over this base model; the message says why. */
        ADAPTER_REFUSED,
        /** No such route for this method. */
        METHOD_NOT_ALLOWED,
        /** The request body is over the size limit. */
        TOO_LARGE,
        /** The request conflicts with the adapter's state (name taken, nothing to roll back to). */
        CONFLICT,
        /** No or unknown API key. */
        UNAUTHENTICATED,
        /** The key may not do this (a user key on the admin API). */
        FORBIDDEN,
        /** The tenant's concurrency or tokens-per-minute limit. */
        RATE_LIMITED,
        /** The workers are saturated; retry later. */
        OVERLOADED,
        /** Not ready, or shutting down; retry later (elsewhere). */
        UNAVAILABLE,
        /** A bug or an engine failure. */
        INTERNAL
    }

    public static ServiceError of(Kind kind, String message) {
        return new ServiceError(kind, message, null, 0);
    }

    public static ServiceError invalid(String param, String message) {
        return new ServiceError(Kind.INVALID_REQUEST, message, param, 0);
    }

    public static ServiceError notFound(String param, String message) {
        return new ServiceError(Kind.NOT_FOUND, message, param, 0);
    }

    public ServiceException exception() {
        return new ServiceException(this);
    }
}
