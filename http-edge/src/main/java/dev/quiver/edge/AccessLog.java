package dev.quiver.edge;

import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.Served;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.edge.openai.GenerationRun;
import dev.quiver.edge.openai.OpenAiRequest;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One JSON line per completion or chat request on the logger {@value #LOGGER}: when, which request, tenant and key,
 * the model asked for and the one that served (adapter, version, fingerprint, worker, fallback), tokens, timings,
 * status and error. Where the lines go is logging configuration: {@code conf/logback.xml} sends them to a rolling
 * file of JSON lines ({@code access.log}) that a log shipper can tail; the line is the whole message, so the
 * appender's pattern is just {@code %msg%n}.
 */
public final class AccessLog {
    /** The logger the lines are written to. */
    public static final String LOGGER = "quiver.access";

    private static final Logger log = LoggerFactory.getLogger(LOGGER);

    private AccessLog() {
    }

    /** A generation that ran (or was refused by the service): everything known about it. */
    public static void finished(Caller caller, String endpoint, OpenAiRequest r, String requestId, GenerationRun run,
                                int status, ServiceError error, long startNanos) {
        if (!log.isInfoEnabled()) {
            return;
        }
        Map<String, Object> line = base(caller, endpoint, r.model(), status, startNanos);
        line.put("request_id", requestId);
        line.put("user", r.user());
        line.put("stream", r.stream());
        Served s = run.served();
        line.put("adapter", s == null ? null : s.adapter());
        line.put("version", s == null || s.adapter() == null ? null : s.version());
        line.put("fingerprint", s == null ? null : s.fingerprint());
        line.put("worker", s == null ? null : s.worker());
        line.put("fallback", s != null && s.isFallback());
        if (s != null && s.isFallback()) {
            line.put("fallback_from", s.fallbackFrom());
            line.put("fallback_reason", s.fallbackReason());
        }
        line.put("prompt_tokens", run.promptTokensTotal());
        line.put("completion_tokens", run.completionTokensTotal());
        long ttft = run.timeToFirstTokenNanos();
        line.put("ttft_ms", ttft < 0 ? null : ttft / 1_000_000.0);
        putError(line, error);
        log.info(Json.string(line));
    }

    /** A request refused before it reached the service (bad JSON, validation, limits). */
    public static void failed(Caller caller, String endpoint, String model, ServiceError error, long startNanos) {
        if (!log.isInfoEnabled()) {
            return;
        }
        Map<String, Object> line = base(caller, endpoint, model,
                Errors.wire(error.kind()).status().intValue(), startNanos);
        putError(line, error);
        log.info(Json.string(line));
    }

    private static Map<String, Object> base(Caller caller, String endpoint, String model, int status,
                                            long startNanos) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("ts", Instant.now().toString());
        line.put("endpoint", endpoint);
        line.put("tenant", caller == null ? null : caller.tenant());
        line.put("key", caller == null ? null : caller.keyName());
        line.put("model", model);
        line.put("status", status);
        line.put("duration_ms", (System.nanoTime() - startNanos) / 1_000_000.0);
        return line;
    }

    private static void putError(Map<String, Object> line, ServiceError error) {
        if (error != null) {
            line.put("error", error.kind().name().toLowerCase(java.util.Locale.ROOT));
            line.put("error_message", error.message());
        }
    }
}
