package dev.quiver.node.directory;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Tells that this JVM stopped running for a while (SIGSTOP, a long GC pause, a suspended or starved VM), and keeps
 * saying so for a grace period after it runs again.
 *
 * <p>Why: a node that was stopped long enough may have been downed, and its shards started on other nodes, which
 * write to the same journals. When it runs again, its own view of the cluster is the one from before the pause until
 * its failure detector and the peers' quarantine notices catch up (tens to hundreds of milliseconds), and in that
 * window a majority check passes on stale data. A write then puts a second event under a sequence number the new
 * owner has already used (pekko-persistence-cassandra has no fencing). So adapter entities do not journal while
 * this fence is up: {@link #fenced()} answers from the moment the ticker is overdue, before the ticker itself has run
 * again, so it holds whichever thread runs first after the pause.
 *
 * <p>A ticker calls {@link #tick} every {@code threshold / 10} or so. A pause is a gap between two ticks longer than
 * {@code threshold}; it must be shorter than the shortest silence after which the peers can down this node
 * ({@code acceptable-heartbeat-pause} + {@code stable-after}), and long enough that ordinary scheduling noise does not
 * raise the fence (which would cost a few seconds of 503s on this node's adapters' lifecycle operations and dropped
 * reports, nothing more).
 */
public final class PauseFence {

    private final long thresholdNanos;
    private final long graceNanos;
    private final LongSupplier nanoTime;
    private volatile long lastTick;
    /** The end of the grace period after the last pause ({@code nanoTime} units); before it the fence is up. */
    private volatile long fencedUntil;
    private volatile long lastPauseNanos;
    private final AtomicLong pauses = new AtomicLong();

    /**
     * @param threshold a gap between ticks longer than this is a pause
     * @param grace how long after a pause the fence stays up
     * @param nanoTime a monotonic clock ({@code System::nanoTime}; tests pass their own)
     */
    public PauseFence(Duration threshold, Duration grace, LongSupplier nanoTime) {
        if (threshold.isNegative() || threshold.isZero() || grace.isNegative()) {
            throw new IllegalArgumentException("pause-fence: threshold must be positive and grace not negative, got "
                    + threshold + " and " + grace);
        }
        this.thresholdNanos = threshold.toNanos();
        this.graceNanos = grace.toNanos();
        this.nanoTime = nanoTime;
        long now = nanoTime.getAsLong();
        this.lastTick = now;
        this.fencedUntil = now;
    }

    /** The ticker's beat. Returns the length of the pause this tick ended, or zero when there was none. */
    public Duration tick() {
        long now = nanoTime.getAsLong();
        long gap = now - lastTick;
        lastTick = now;
        if (gap <= thresholdNanos) {
            return Duration.ZERO;
        }
        lastPauseNanos = gap;
        fencedUntil = now + graceNanos;
        pauses.incrementAndGet();
        return Duration.ofNanos(gap);
    }

    /** Why this node must not journal now (it is, or just was, paused), or empty when it may. */
    public Optional<String> fenced() {
        long now = nanoTime.getAsLong();
        long sinceTick = now - lastTick;
        if (sinceTick > thresholdNanos) {
            return Optional.of("this node did not run for " + sinceTick / 1_000_000 + " ms (a pause) and may have "
                    + "been downed meanwhile");
        }
        long left = fencedUntil - now;
        if (left > 0) {
            return Optional.of("this node was paused for " + lastPauseNanos / 1_000_000 + " ms and may have been "
                    + "downed meanwhile; it writes again once its view of the cluster is fresh (in "
                    + (left + 999_999) / 1_000_000 + " ms)");
        }
        return Optional.empty();
    }

    /** Pauses seen since start. */
    public long pauses() {
        return pauses.get();
    }
}
