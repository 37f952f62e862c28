package dev.quiver.gpu.cache;

import java.util.Arrays;

/** Count, mean and percentiles over the most recent samples of a duration (in microseconds). Thread-safe. */
public final class LatencyRecorder {
    private final long[] window;
    private long count;
    private long sumMicros;

    public LatencyRecorder(int windowSize) {
        this.window = new long[windowSize];
    }

    public synchronized void record(long micros) {
        window[(int) (count % window.length)] = micros;
        count++;
        sumMicros += micros;
    }

    public synchronized Snapshot snapshot() {
        int n = (int) Math.min(count, window.length);
        long[] s = Arrays.copyOf(window, n);
        Arrays.sort(s);
        return new Snapshot(count, count == 0 ? 0 : sumMicros / (double) count / 1000.0, pct(s, 0.5), pct(s, 0.99));
    }

    private static double pct(long[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
        return sorted[Math.max(0, i)] / 1000.0;
    }

    /** Milliseconds. */
    public record Snapshot(long count, double meanMs, double p50Ms, double p99Ms) {
    }
}
