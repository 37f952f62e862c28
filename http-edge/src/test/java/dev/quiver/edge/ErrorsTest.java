package dev.quiver.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.gpu.sampling.SamplingParams;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.junit.jupiter.api.Test;

/** The one mapping from domain errors to HTTP: status, OpenAI error body, Retry-After. */
class ErrorsTest {
    static JsonNode body(HttpResponse r) throws Exception {
        return Json.MAPPER.readTree(((org.apache.pekko.http.javadsl.model.HttpEntity.Strict) r.entity()).getData()
                .toArray());
    }

    @Test
    void every_kind_maps_to_a_status_and_an_openai_error_body() throws Exception {
        int[] expected = {400, 400, 404, 422, 405, 413, 409, 401, 403, 429, 503, 503, 500};
        ServiceError.Kind[] kinds = {ServiceError.Kind.INVALID_REQUEST, ServiceError.Kind.CONTEXT_LENGTH_EXCEEDED,
                ServiceError.Kind.NOT_FOUND, ServiceError.Kind.ADAPTER_REFUSED, ServiceError.Kind.METHOD_NOT_ALLOWED,
                ServiceError.Kind.TOO_LARGE, ServiceError.Kind.CONFLICT, ServiceError.Kind.UNAUTHENTICATED,
                ServiceError.Kind.FORBIDDEN, ServiceError.Kind.RATE_LIMITED, ServiceError.Kind.OVERLOADED,
                ServiceError.Kind.UNAVAILABLE, ServiceError.Kind.INTERNAL};
        assertEquals(ServiceError.Kind.values().length, kinds.length, "every kind is covered");
        for (int i = 0; i < kinds.length; i++) {
            HttpResponse r = Errors.toResponse(new ServiceError(kinds[i], "why", "p", 0));
            assertEquals(expected[i], r.status().intValue(), kinds[i].name());
            JsonNode e = body(r).path("error");
            assertEquals("why", e.path("message").asText());
            assertEquals("p", e.path("param").asText());
            assertTrue(e.path("type").isTextual() && e.has("code"));
        }
    }

    @Test
    void retriable_kinds_carry_retry_after() {
        HttpResponse r = Errors.toResponse(new ServiceError(ServiceError.Kind.RATE_LIMITED, "slow down", null, 7));
        assertEquals(7L, r.getHeader(RetryAfter.class).orElseThrow().getDelaySeconds().orElseThrow());
        assertTrue(Errors.toResponse(ServiceError.of(ServiceError.Kind.OVERLOADED, "busy"))
                .getHeader(RetryAfter.class).isPresent());
        assertTrue(Errors.toResponse(ServiceError.invalid("x", "bad")).getHeader(RetryAfter.class).isEmpty());
    }

    @Test
    void thrown_exceptions_are_classified_once() {
        ServiceError e = Errors.classify(new CompletionException(assertThrowsInvalid()));
        assertEquals(ServiceError.Kind.INVALID_REQUEST, e.kind());
        assertEquals("top_p", e.param());
        assertEquals(ServiceError.Kind.INTERNAL, Errors.classify(new IllegalStateException("boom")).kind());
        assertEquals("model_not_found", Errors.body(ServiceError.notFound("model", "no")).get("error") instanceof
                java.util.Map<?, ?> m ? m.get("code") : null);
    }

    static RuntimeException assertThrowsInvalid() {
        try {
            new SamplingParams(1, 1f, 0f, -1, 0, List.of(), -1, false);
            throw new AssertionError("top_p 0 must be refused");
        } catch (RuntimeException e) {
            return e;
        }
    }
}
