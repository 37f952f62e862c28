package dev.quiver.bench;

/**
 * What happened to one planned request. Times are nanoseconds since the run's start (the zero of the arrival
 * schedule); -1 where the moment never came.
 *
 * @param scheduledNanos when the plan said to send it
 * @param sentNanos      when it was actually sent (later than scheduled when the concurrency cap held it back)
 * @param status         HTTP status, 0 when no response came (connection failure, timeout, cancelled)
 * @param error          null for a completed stream; else the kind of failure ({@code http 429}, {@code timeout},
 *                       {@code stream error: ...}, {@code incomplete stream}, {@code cancelled at drain}, ...)
 * @param chunkNanos     arrival of every output chunk
 * @param endNanos       when the response ended (or failed)
 * @param outputTokens   generated tokens (the usage chunk's count, else one per chunk)
 * @param servedBy       the arm that served it: the server's {@code x-quiver-adapter} header up to the digest
 *                       ({@code NAME@vN}, or the base model's name), or null when the server did not say
 */
public record RequestResult(int index, String model, int adapterRank, int promptTokens, int maxTokens,
                            long scheduledNanos, long sentNanos, int status, String error, long[] chunkNanos,
                            long endNanos, int outputTokens, String servedBy) {
    public RequestResult(int index, String model, int adapterRank, int promptTokens, int maxTokens,
                         long scheduledNanos, long sentNanos, int status, String error, long[] chunkNanos,
                         long endNanos, int outputTokens) {
        this(index, model, adapterRank, promptTokens, maxTokens, scheduledNanos, sentNanos, status, error, chunkNanos,
                endNanos, outputTokens, null);
    }

    /** The arm of a fingerprint ({@code NAME@vN:DIGEST} → {@code NAME@vN}); null stays null. */
    public static String arm(String fingerprint) {
        if (fingerprint == null || fingerprint.isBlank()) {
            return null;
        }
        int colon = fingerprint.lastIndexOf(':');
        return colon > 0 ? fingerprint.substring(0, colon) : fingerprint;
    }

    public boolean ok() {
        return error == null;
    }

    public long firstChunkNanos() {
        return chunkNanos.length == 0 ? -1 : chunkNanos[0];
    }
}
