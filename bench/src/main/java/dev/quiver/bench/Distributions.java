package dev.quiver.bench;

import java.util.SplittableRandom;

/**
 * The random pieces of a load plan, each a pure function of a seeded {@link SplittableRandom}: Poisson arrivals
 * (exponential gaps), Zipf adapter popularity, and prompt/output length distributions.
 */
public final class Distributions {
    private Distributions() {
    }

    /** Gaps of a Poisson process of {@code ratePerSecond}: exponential with mean 1/rate, in nanoseconds. */
    public static final class PoissonArrivals {
        private final double meanNanos;
        private final SplittableRandom rng;

        public PoissonArrivals(double ratePerSecond, SplittableRandom rng) {
            if (!(ratePerSecond > 0) || Double.isInfinite(ratePerSecond)) {
                throw new IllegalArgumentException("rate must be a positive number of requests per second, not "
                        + ratePerSecond);
            }
            this.meanNanos = 1e9 / ratePerSecond;
            this.rng = rng;
        }

        /** The next inter-arrival gap in nanoseconds (inverse-CDF draw: -mean * ln(1 - U)). */
        public long nextGapNanos() {
            return Math.round(-meanNanos * Math.log1p(-rng.nextDouble()));
        }
    }

    /**
     * Zipf(α) over ranks 1..n: P(k) = k^-α / H(n, α), where H(n, α) = Σ_{i=1..n} i^-α. α = 0 is uniform. Sampled
     * by binary search in the cumulative table.
     */
    public static final class Zipf {
        private final double[] cdf; // [n], cdf[k-1] = P(rank <= k)
        private final double alpha;

        public Zipf(int n, double alpha) {
            if (n < 1) {
                throw new IllegalArgumentException("Zipf needs at least one rank, not " + n);
            }
            if (!(alpha >= 0) || Double.isInfinite(alpha)) {
                throw new IllegalArgumentException("Zipf exponent must be >= 0, not " + alpha);
            }
            this.alpha = alpha;
            cdf = new double[n];
            double sum = 0;
            for (int k = 1; k <= n; k++) {
                sum += Math.pow(k, -alpha);
                cdf[k - 1] = sum;
            }
            for (int k = 0; k < n; k++) {
                cdf[k] /= sum;
            }
            cdf[n - 1] = 1.0;
        }

        public int size() {
            return cdf.length;
        }

        /** The formula's probability of rank k (1-based). */
        public double probability(int k) {
            return cdf[k - 1] - (k == 1 ? 0 : cdf[k - 2]);
        }

        public double alpha() {
            return alpha;
        }

        /** A rank in 1..n. */
        public int sample(SplittableRandom rng) {
            double u = rng.nextDouble();
            int lo = 0;
            int hi = cdf.length - 1;
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (cdf[mid] > u) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            return lo + 1;
        }
    }

    /**
     * A token-count distribution, written {@code fixed:N}, {@code uniform:MIN:MAX} (inclusive) or
     * {@code lognormal:MEDIAN:SIGMA:MIN:MAX} (exp(N(ln MEDIAN, SIGMA²)), redrawn when outside [MIN, MAX], clamped
     * after 64 tries).
     */
    public record Lengths(String kind, double a, double b, int min, int max) {
        public static Lengths parse(String spec) {
            String[] p = spec.trim().split(":");
            try {
                Lengths l = switch (p[0]) {
                    case "fixed" -> {
                        need(spec, p, 2);
                        int n = Integer.parseInt(p[1]);
                        yield new Lengths("fixed", n, 0, n, n);
                    }
                    case "uniform" -> {
                        need(spec, p, 3);
                        yield new Lengths("uniform", 0, 0, Integer.parseInt(p[1]), Integer.parseInt(p[2]));
                    }
                    case "lognormal" -> {
                        need(spec, p, 5);
                        double median = Double.parseDouble(p[1]);
                        double sigma = Double.parseDouble(p[2]);
                        if (!(median > 0) || !(sigma >= 0)) {
                            throw new IllegalArgumentException("lognormal needs MEDIAN > 0 and SIGMA >= 0: " + spec);
                        }
                        yield new Lengths("lognormal", median, sigma, Integer.parseInt(p[3]), Integer.parseInt(p[4]));
                    }
                    default -> throw new IllegalArgumentException("unknown length distribution '" + spec
                            + "' (fixed:N, uniform:MIN:MAX, lognormal:MEDIAN:SIGMA:MIN:MAX)");
                };
                if (l.min < 1 || l.max < l.min) {
                    throw new IllegalArgumentException("lengths need 1 <= MIN <= MAX: " + spec);
                }
                return l;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad number in length distribution '" + spec + "'");
            }
        }

        private static void need(String spec, String[] p, int n) {
            if (p.length != n) {
                throw new IllegalArgumentException("length distribution '" + spec + "' needs " + (n - 1)
                        + " numbers");
            }
        }

        public int sample(SplittableRandom rng) {
            return switch (kind) {
                case "fixed" -> min;
                case "uniform" -> min + rng.nextInt(max - min + 1);
                default -> {
                    double mu = Math.log(a);
                    for (int i = 0; i < 64; i++) {
                        long v = Math.round(Math.exp(mu + b * gaussian(rng)));
                        if (v >= min && v <= max) {
                            yield (int) v;
                        }
                    }
                    yield (int) Math.max(min, Math.min(max, Math.round(a)));
                }
            };
        }

        @Override
        public String toString() {
            return switch (kind) {
                case "fixed" -> "fixed:" + min;
                case "uniform" -> "uniform:" + min + ":" + max;
                default -> "lognormal:" + fmt(a) + ":" + fmt(b) + ":" + min + ":" + max;
            };
        }

        private static String fmt(double d) {
            return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
        }
    }

    /** A standard normal draw (Box-Muller), from the given stream only. */
    static double gaussian(SplittableRandom rng) {
        double u1 = 1.0 - rng.nextDouble(); // (0, 1]
        double u2 = rng.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
