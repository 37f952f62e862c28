package dev.quiver.gpu.backend.cpu;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A fixed pool for data-parallel loops of the CPU backend. Work is split into one contiguous range per thread,
 * so every output element is computed by exactly one thread in a fixed order: results do not depend on the
 * number of threads or on what else is in the batch.
 */
public final class Parallel implements AutoCloseable {
    /** A loop body over [start, end) run by thread {@code worker} (0..threads-1, for per-thread scratch). */
    @FunctionalInterface
    public interface RangeTask {
        void run(int start, int end, int worker);
    }

    private final int threads;
    private final ExecutorService pool;

    public Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.pool = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, r -> {
            Thread t = new Thread(r, "quiver-cpu-compute");
            t.setDaemon(true);
            return t;
        });
    }

    public int threads() {
        return threads;
    }

    /** Runs task over [0, n) split into at most {@code threads} ranges, aligned to {@code grain}; the caller runs one. */
    public void forRange(int n, int grain, RangeTask task) {
        if (n <= 0) {
            return;
        }
        int units = (n + grain - 1) / grain;
        int parts = Math.min(threads, units);
        if (parts <= 1) {
            task.run(0, n, 0);
            return;
        }
        CountDownLatch done = new CountDownLatch(parts - 1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int p = 1; p < parts; p++) {
            int start = Math.min(n, (int) ((long) units * p / parts) * grain);
            int end = Math.min(n, (int) ((long) units * (p + 1) / parts) * grain);
            int worker = p;
            pool.execute(() -> {
                try {
                    task.run(start, end, worker);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    done.countDown();
                }
            });
        }
        task.run(0, Math.min(n, (units / parts) * grain), 0);
        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for compute threads", e);
        }
        Throwable t = failure.get();
        if (t != null) {
            throw new IllegalStateException("compute thread failed: " + t, t);
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
