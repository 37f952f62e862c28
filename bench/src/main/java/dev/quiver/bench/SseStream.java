package dev.quiver.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.Arrays;

/**
 * Reads one OpenAI streaming response (Server-Sent Events) line by line, as the lines arrive, and keeps what the
 * benchmark times: when each chunk carrying output text arrived, the usage chunk's token counts, the finish reason,
 * an in-stream error event and the closing {@code data: [DONE]}.
 *
 * <p>Events follow the SSE rules: {@code data:} lines are joined with newlines until a blank line dispatches the
 * event; comment ({@code :}) and other field lines are ignored. Completion chunks carry {@code choices[].text},
 * chat chunks {@code choices[].delta.content}; a chunk whose text is empty (chat's first role delta, the final
 * finish-reason chunk) is not an output chunk. NOTE: the server sends a chunk only when new text is decoded, so a
 * token that completes no character arrives with the next one; inter-token latency is therefore measured between
 * output chunks, as OpenAI-compatible benchmark clients do.
 */
public final class SseStream {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final StringBuilder data = new StringBuilder();
    private boolean hasData;
    private long eventNanos;
    private long[] chunkNanos = new long[16];
    private int chunks;
    private int promptTokens = -1;
    private int completionTokens = -1;
    private String finishReason;
    private String error;
    private boolean done;

    /** Everything read from one stream; times are the caller's {@code System.nanoTime()} values. */
    public record Result(long[] chunkNanos, int promptTokens, int completionTokens, String finishReason, String error,
                         boolean done) {
        public int chunks() {
            return chunkNanos.length;
        }

        /** Time of the first output chunk, or -1 when none came. */
        public long firstChunkNanos() {
            return chunkNanos.length == 0 ? -1 : chunkNanos[0];
        }

        /** Output tokens: the usage chunk's count when sent, else one per output chunk. */
        public int outputTokens() {
            return completionTokens >= 0 ? completionTokens : chunkNanos.length;
        }
    }

    /** One line without its terminator, read at {@code nanos}. */
    public void line(String line, long nanos) {
        if (line.isEmpty()) {
            dispatch();
            return;
        }
        if (line.startsWith(":")) {
            return;
        }
        int colon = line.indexOf(':');
        String field = colon < 0 ? line : line.substring(0, colon);
        if (!field.equals("data")) {
            return;
        }
        String value = colon < 0 ? "" : line.substring(colon + 1);
        if (value.startsWith(" ")) {
            value = value.substring(1);
        }
        if (hasData) {
            data.append('\n');
        }
        data.append(value);
        hasData = true;
        eventNanos = nanos;
    }

    /** The end of the stream: an event not yet closed by a blank line is taken as complete. */
    public Result finish() {
        dispatch();
        return new Result(Arrays.copyOf(chunkNanos, chunks), promptTokens, completionTokens, finishReason, error,
                done);
    }

    private void dispatch() {
        if (!hasData) {
            return;
        }
        String payload = data.toString();
        data.setLength(0);
        hasData = false;
        if (payload.equals("[DONE]")) {
            done = true;
            return;
        }
        JsonNode j;
        try {
            j = JSON.readTree(payload);
        } catch (IOException e) {
            if (error == null) {
                error = "malformed event: " + abbreviate(payload);
            }
            return;
        }
        JsonNode err = j.get("error");
        if (err != null && !err.isNull()) {
            if (error == null) {
                error = err.path("type").asText("error") + ": " + err.path("message").asText(err.toString());
            }
            return;
        }
        boolean output = false;
        for (JsonNode c : j.path("choices")) {
            JsonNode text = c.has("delta") ? c.path("delta").path("content") : c.path("text");
            if (text.isTextual() && !text.asText().isEmpty()) {
                output = true;
            }
            JsonNode fr = c.get("finish_reason");
            if (fr != null && fr.isTextual()) {
                finishReason = fr.asText();
            }
        }
        if (output) {
            if (chunks == chunkNanos.length) {
                chunkNanos = Arrays.copyOf(chunkNanos, chunks * 2);
            }
            chunkNanos[chunks++] = eventNanos;
        }
        JsonNode usage = j.get("usage");
        if (usage != null && usage.isObject()) {
            promptTokens = usage.path("prompt_tokens").asInt(-1);
            completionTokens = usage.path("completion_tokens").asInt(-1);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }
}
