package dev.quiver.multijvm;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * One streamed {@code /v1/completions} request as a client sees it, timed chunk by chunk: the tokens (from
 * {@code logprobs.tokens}), the text, the finish reason, any error, the time to the first token, and the stall: the
 * longest wait between two tokens once the stream has begun. {@code refused} means the node did not take the request at all (connection
 * refused, or a 503 before any byte of the stream): what a load balancer retries on another node.
 */
record SseCompletion(int status, List<String> tokens, String text, String finish, String error, long maxGapMs,
                     long firstTokenMs, boolean refused) {

    /** Whether it streamed to the end: 200, no error chunk, {@code [DONE]}. */
    boolean ok() {
        return status == 200 && error == null;
    }

    static SseCompletion run(HttpClient client, String baseUrl, String apiKey, String body, Duration timeout) {
        HttpRequest req = HttpRequest.newBuilder(URI.create(baseUrl + "/v1/completions"))
                .header("Authorization", "Bearer " + apiKey).header("Content-Type", "application/json")
                .timeout(timeout).POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long start = System.nanoTime();
        try {
            HttpResponse<Stream<String>> r = client.send(req, HttpResponse.BodyHandlers.ofLines());
            if (r.statusCode() != 200) {
                String text = String.join("\n", (Iterable<String>) r.body()::iterator);
                return new SseCompletion(r.statusCode(), List.of(), "", null, text, 0, 0, r.statusCode() == 503);
            }
            List<String> tokens = new ArrayList<>();
            StringBuilder text = new StringBuilder();
            String finish = null;
            String error = null;
            boolean done = false;
            long last = start;
            long maxGap = 0;
            long first = -1;
            for (String line : (Iterable<String>) r.body()::iterator) {
                if (!line.startsWith("data: ")) {
                    continue;
                }
                String data = line.substring(6);
                if (data.equals("[DONE]")) {
                    done = true;
                    continue;
                }
                JsonNode chunk = LocalCluster.parse(data);
                if (chunk.has("error")) {
                    error = chunk.get("error").toString();
                    continue;
                }
                JsonNode c = chunk.path("choices").path(0);
                text.append(c.path("text").asText());
                int before = tokens.size();
                for (JsonNode t : c.at("/logprobs/tokens")) {
                    tokens.add(t.asText());
                }
                if (tokens.size() > before) {
                    long now = System.nanoTime();
                    if (first < 0) {
                        first = now - start;
                    } else {
                        maxGap = Math.max(maxGap, now - last);
                    }
                    last = now;
                }
                if (!c.path("finish_reason").isNull() && !c.path("finish_reason").isMissingNode()) {
                    finish = c.path("finish_reason").asText();
                }
            }
            if (!done) {
                error = (error == null ? "" : error + "; ") + "stream ended without [DONE]";
            }
            return new SseCompletion(200, tokens, text.toString(), finish, error, maxGap / 1_000_000,
                    Math.max(0, first) / 1_000_000, false);
        } catch (ConnectException e) {
            return new SseCompletion(-1, List.of(), "", null, e.toString(), 0, 0, true);
        } catch (IOException | java.io.UncheckedIOException e) {
            return new SseCompletion(-1, List.of(), "", null, e.toString(), 0, 0, false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new SseCompletion(-1, List.of(), "", null, "interrupted", 0, 0, false);
        }
    }
}
