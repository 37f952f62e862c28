package dev.quiver.gpu.sampling;

/**
 * Counter-based random numbers: the uniform draw for the token at absolute position {@code p} of a
 * request is a pure function of {@code (seed, p)}.
 *
 * <p>{@link Sampler} calls {@link #uniform} once per sampled token. Because no generator state is
 * carried between steps, a request gives the same tokens however it is batched, preempted and
 * recomputed, or moved to another worker, as long as seed and position are the same.
 *
 * <p>NOTE: the seed goes through the SplitMix64 finaliser on its own before it is combined with the
 * position and mixed again. A single mix of {@code seed + GAMMA * position} (plain SplitMix64) would
 * make seeds that differ by a multiple of {@code GAMMA} replay each other's streams shifted.
 */
public final class CounterRng {

    /** SplitMix64's increment, the odd integer closest to 2^64 / golden ratio. */
    private static final long GAMMA = 0x9E3779B97F4A7C15L;

    private static final double DOUBLE_UNIT = 0x1.0p-53;

    private CounterRng() {}

    /** A double in [0, 1) carrying 53 random bits, fixed by {@code seed} and {@code position}. */
    public static double uniform(long seed, long position) {
        return (bits(seed, position) >>> 11) * DOUBLE_UNIT;
    }

    /** The 64 mixed bits behind {@link #uniform}. */
    static long bits(long seed, long position) {
        long keyed = mix64(seed ^ GAMMA);
        return mix64(keyed + GAMMA * (position + 1));
    }

    /** SplitMix64's finaliser (Stafford's variant 13), a bijection on 64-bit values. */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
