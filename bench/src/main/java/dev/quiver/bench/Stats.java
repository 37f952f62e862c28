package dev.quiver.bench;

import java.util.Arrays;
import java.util.Collection;

/** Percentiles and summaries of latency samples (any unit; the reports use milliseconds). */
public final class Stats {
    private Stats() {
    }

    /**
     * The p-th percentile (0..100) of ascending {@code sorted} by linear interpolation between closest ranks
     * (NumPy's default): rank = p/100 * (n - 1). NaN for no samples.
     */
    public static double percentile(double[] sorted, double p) {
        if (p < 0 || p > 100) {
            throw new IllegalArgumentException("percentile must be in [0, 100], not " + p);
        }
        if (sorted.length == 0) {
            return Double.NaN;
        }
        double rank = p / 100.0 * (sorted.length - 1);
        int lo = (int) Math.floor(rank);
        int hi = (int) Math.ceil(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    /** Count, mean, p50, p90, p99 and max of a set of samples, kept sorted for charts. */
    public record Summary(int count, double mean, double p50, double p90, double p99, double max, double[] sorted) {
        public static Summary of(double[] values) {
            double[] s = values.clone();
            Arrays.sort(s);
            double sum = 0;
            for (double v : s) {
                sum += v;
            }
            return new Summary(s.length, s.length == 0 ? Double.NaN : sum / s.length, percentile(s, 50),
                    percentile(s, 90), percentile(s, 99), s.length == 0 ? Double.NaN : s[s.length - 1], s);
        }

        public static Summary of(Collection<Double> values) {
            return of(values.stream().mapToDouble(Double::doubleValue).toArray());
        }
    }
}
