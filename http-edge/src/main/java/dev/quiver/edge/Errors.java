package dev.quiver.edge;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.edge.api.ServiceException;
import dev.quiver.gpu.sampling.InvalidSamplingParamsException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;

/**
 * Where errors cross to the wire, once: {@link #toResponse} is THE mapping from a domain error to an HTTP status
 * plus OpenAI's error body {@code {"error": {"message", "type", "param", "code"}}} (and {@code Retry-After} for
 * retriable kinds); {@link #classify} turns anything thrown on the way into a domain error first.
 */
public final class Errors {
    private Errors() {
    }

    /** Status, OpenAI {@code type} and {@code code} of each kind. */
    record Wire(StatusCode status, String type, String code) {
    }

    static Wire wire(ServiceError.Kind kind) {
        return switch (kind) {
            case INVALID_REQUEST -> new Wire(StatusCodes.BAD_REQUEST, "invalid_request_error", null);
            case CONTEXT_LENGTH_EXCEEDED -> new Wire(StatusCodes.BAD_REQUEST, "invalid_request_error",
                    "context_length_exceeded");
            case NOT_FOUND -> new Wire(StatusCodes.NOT_FOUND, "invalid_request_error", "not_found");
            case METHOD_NOT_ALLOWED -> new Wire(StatusCodes.METHOD_NOT_ALLOWED, "invalid_request_error",
                    "method_not_allowed");
            case ADAPTER_REFUSED -> new Wire(StatusCodes.UNPROCESSABLE_ENTITY, "invalid_request_error",
                    "adapter_refused");
            case TOO_LARGE -> new Wire(StatusCodes.PAYLOAD_TOO_LARGE, "invalid_request_error", "request_too_large");
            case CONFLICT -> new Wire(StatusCodes.CONFLICT, "invalid_request_error", "conflict");
            case UNAUTHENTICATED -> new Wire(StatusCodes.UNAUTHORIZED, "invalid_request_error", "invalid_api_key");
            case FORBIDDEN -> new Wire(StatusCodes.FORBIDDEN, "permission_error", "insufficient_permissions");
            case RATE_LIMITED -> new Wire(StatusCodes.TOO_MANY_REQUESTS, "rate_limit_error", "rate_limit_exceeded");
            case OVERLOADED -> new Wire(StatusCodes.SERVICE_UNAVAILABLE, "overloaded_error", "overloaded");
            case UNAVAILABLE -> new Wire(StatusCodes.SERVICE_UNAVAILABLE, "service_unavailable", "unavailable");
            case INTERNAL -> new Wire(StatusCodes.INTERNAL_SERVER_ERROR, "server_error", "internal_error");
        };
    }

    /** THE mapping of a domain error to its HTTP response. */
    public static HttpResponse toResponse(ServiceError e) {
        Wire w = wire(e.kind());
        HttpResponse r = HttpResponse.create().withStatus(w.status())
                .withEntity(ContentTypes.APPLICATION_JSON, Json.bytes(body(e)));
        int retry = e.retryAfterSeconds() > 0 ? e.retryAfterSeconds()
                : (e.kind() == ServiceError.Kind.RATE_LIMITED || e.kind() == ServiceError.Kind.OVERLOADED
                        || e.kind() == ServiceError.Kind.UNAVAILABLE) ? 1 : 0;
        return retry > 0 ? r.addHeader(RetryAfter.create((long) retry)) : r;
    }

    public static HttpResponse toResponse(Throwable t) {
        return toResponse(classify(t));
    }

    /** The OpenAI error object (also sent as an SSE event when a stream fails after it started). */
    public static Map<String, Object> body(ServiceError e) {
        Wire w = wire(e.kind());
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("message", e.message());
        inner.put("type", w.type());
        inner.put("param", e.param());
        // NOTE: OpenAI's SDKs recognise an unknown model by this code.
        inner.put("code", e.kind() == ServiceError.Kind.NOT_FOUND && "model".equals(e.param()) ? "model_not_found"
                : w.code());
        return Map.of("error", inner);
    }

    /** Anything thrown while serving a request, as a domain error. */
    public static ServiceError classify(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof ServiceException se) {
            return se.error();
        }
        if (t instanceof InvalidSamplingParamsException ip) {
            return ServiceError.invalid(ip.param(), ip.getMessage());
        }
        if (t instanceof JsonProcessingException jp) {
            return ServiceError.invalid(null, "the request body is not valid JSON: " + jp.getOriginalMessage());
        }
        if (t instanceof EntityStreamSizeException es) {
            return tooLarge(es.limit());
        }
        if (t instanceof org.apache.pekko.http.scaladsl.model.EntityStreamException ese
                && ese.getMessage() != null && ese.getMessage().contains("too large")) {
            // NOTE: a declared Content-Length over the limit fails this way, before any byte is read.
            return new ServiceError(ServiceError.Kind.TOO_LARGE, "the request body is larger than the limit: "
                    + ese.info().summary(), null, 0);
        }
        if (t instanceof TimeoutException) {
            return new ServiceError(ServiceError.Kind.UNAVAILABLE, "the request timed out: " + t.getMessage(), null, 1);
        }
        return ServiceError.of(ServiceError.Kind.INTERNAL, "internal error: " + t);
    }

    static ServiceError tooLarge(long limit) {
        return new ServiceError(ServiceError.Kind.TOO_LARGE, "the request body is larger than the limit of "
                + limit + " bytes", null, 0);
    }
}
