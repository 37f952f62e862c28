package dev.quiver.gpu.backend.cpu;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of threads for data-parallel loops of the CPU backend. Work is split into one contiguous range per
 * thread, so every output element is computed by exactly one thread in a fixed order: results do not depend on the
 * number of threads or on what else is in the batch.
 *
 * <p>A forward pass dispatches about five loops per layer, each a few hundred microseconds at batch 1, so the
 * hand-off itself has to cost microseconds, not the tens a parked thread takes to wake. Each worker therefore spins
 * for {@link #spinNanos} after its range is done (and the caller spins for its workers to finish) before parking, as
 * OpenMP runtimes do; an idle engine parks its workers after that and costs nothing.
 */
public final class Parallel implements AutoCloseable {
    /** A loop body over [start, end) run by thread {@code worker} (0..threads-1, for per-thread scratch). */
    @FunctionalInterface
    public interface RangeTask {
        void run(int start, int end, int worker);
    }

    /** How long a worker waits for the next range, or the caller for a worker, before parking. */
    static final long DEFAULT_SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(100);

    private final int threads;
    private final long spinNanos;
    private final Worker[] workers;
    private volatile boolean closed;

    public Parallel(int threads) {
        this(threads, DEFAULT_SPIN_NANOS);
    }

    /** With spinNanos 0 every hand-off parks and unparks (the plain thread-pool behaviour, for comparison). */
    Parallel(int threads, long spinNanos) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        if (spinNanos < 0) {
            throw new IllegalArgumentException("spinNanos must be >= 0, got " + spinNanos);
        }
        this.threads = threads;
        this.spinNanos = spinNanos;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1);
            workers[i].thread.start();
        }
    }

    public int threads() {
        return threads;
    }

    /**
     * Runs task over [0, n) split into at most {@code threads} ranges, aligned to {@code grain}; the caller runs one.
     * One dispatch at a time: concurrent callers take turns.
     */
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
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("compute threads are closed");
            }
            Thread caller = Thread.currentThread();
            for (int p = 1; p < parts; p++) {
                int start = Math.min(n, (int) ((long) units * p / parts) * grain);
                int end = Math.min(n, (int) ((long) units * (p + 1) / parts) * grain);
                workers[p - 1].post(task, start, end, caller);
            }
            Throwable mine = null;
            try {
                task.run(0, Math.min(n, (units / parts) * grain), 0);
            } catch (Throwable t) {
                mine = t;
            }
            Throwable theirs = null;
            for (int p = 1; p < parts; p++) {
                Throwable t = workers[p - 1].await();
                if (theirs == null) {
                    theirs = t;
                }
            }
            if (mine instanceof RuntimeException e) {
                throw e;
            }
            if (mine instanceof Error e) {
                throw e;
            }
            if (theirs != null) {
                throw new IllegalStateException("compute thread failed: " + theirs, theirs);
            }
        }
    }

    /** Whether any compute thread is still running (tests). */
    boolean threadsAlive() {
        for (Worker w : workers) {
            if (w.thread.isAlive()) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        closed = true;
        for (Worker w : workers) {
            LockSupport.unpark(w.thread);
        }
    }

    /**
     * One compute thread and its mailbox. The caller writes the range, then bumps {@code posted}; the worker runs it
     * and sets {@code finished} to the same number. The volatile writes publish the plain fields. Whoever parks sets
     * its flag first and re-reads the counter, so a post or a finish between the check and the park is not missed:
     * either the parker sees the new value or the other side sees the flag and unparks.
     */
    private final class Worker implements Runnable {
        final Thread thread;
        private RangeTask task;
        private int start;
        private int end;
        private Thread caller;
        private Throwable failure;
        private volatile long posted;
        private volatile long finished;
        private volatile boolean workerParked;
        private volatile boolean callerParked;
        private final int index;

        Worker(int index) {
            this.index = index;
            this.thread = new Thread(this, "quiver-cpu-compute");
            thread.setDaemon(true);
        }

        void post(RangeTask task, int start, int end, Thread caller) {
            this.task = task;
            this.start = start;
            this.end = end;
            this.caller = caller;
            this.failure = null;
            posted = posted + 1;
            if (workerParked) {
                LockSupport.unpark(thread);
            }
        }

        /** Waits for the posted range; its failure or null. */
        Throwable await() {
            long want = posted;
            long spinUntil = System.nanoTime() + spinNanos;
            while (finished != want) {
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                    continue;
                }
                callerParked = true;
                if (finished != want) {
                    LockSupport.park(this);
                }
                callerParked = false;
            }
            Throwable t = failure;
            task = null; // drop the lambda and what it captured
            caller = null;
            return t;
        }

        @Override
        public void run() {
            long seen = 0;
            while (true) {
                long spinUntil = System.nanoTime() + spinNanos;
                long p;
                while ((p = posted) == seen) {
                    if (closed) {
                        return;
                    }
                    if (System.nanoTime() < spinUntil) {
                        Thread.onSpinWait();
                        continue;
                    }
                    workerParked = true;
                    if (posted == seen && !closed) {
                        LockSupport.park(this);
                    }
                    workerParked = false;
                }
                seen = p;
                try {
                    task.run(start, end, index);
                } catch (Throwable t) {
                    failure = t;
                }
                Thread waiting = caller;
                finished = p;
                if (callerParked) {
                    LockSupport.unpark(waiting);
                }
            }
        }
    }
}
