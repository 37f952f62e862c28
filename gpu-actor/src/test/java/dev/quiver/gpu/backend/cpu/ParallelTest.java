package dev.quiver.gpu.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The compute threads' hand-off: every index run exactly once by the thread its range belongs to, failures on
 * either side reported, and no lost wake-up whether the threads spin, park, or cross from one to the other.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ParallelTest {

    /** spin 0: every hand-off parks; 2 µs: some spin, some park; 100 µs (the default): nearly all spin. */
    @ParameterizedTest
    @ValueSource(longs = {0, 2_000, 100_000})
    void every_index_runs_once_in_its_threads_range_over_many_dispatches(long spinNanos) {
        try (Parallel p = new Parallel(3, spinNanos)) {
            for (int round = 0; round < 20_000; round++) {
                int n = 1 + round % 97;
                int grain = 1 + round % 5;
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                AtomicIntegerArray owner = new AtomicIntegerArray(n);
                p.forRange(n, grain, (s, e, worker) -> {
                    assertEquals(0, s % grain, "ranges start on the grain");
                    for (int i = s; i < e; i++) {
                        hits.incrementAndGet(i);
                        owner.set(i, worker);
                    }
                });
                for (int i = 0; i < n; i++) {
                    assertEquals(1, hits.get(i), "round " + round + ": index " + i + " of " + n);
                }
                for (int i = 1; i < n; i++) {
                    assertTrue(owner.get(i) >= owner.get(i - 1), "contiguous ranges in worker order, round " + round);
                }
            }
        }
    }

    /** Workers that have parked long ago still wake for the next dispatch. */
    @Test
    void parked_workers_wake_for_the_next_dispatch() {
        try (Parallel p = new Parallel(2)) {
            for (int round = 0; round < 5; round++) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20)); // far past the spin
                AtomicIntegerArray hits = new AtomicIntegerArray(2);
                p.forRange(2, 1, (s, e, worker) -> hits.incrementAndGet(worker));
                assertEquals(1, hits.get(0));
                assertEquals(1, hits.get(1), "the worker's range ran, round " + round);
            }
        }
    }

    @Test
    void a_failure_on_a_worker_or_on_the_caller_reaches_the_caller_and_the_threads_go_on() {
        try (Parallel p = new Parallel(2, 0)) {
            IllegalStateException onWorker = assertThrows(IllegalStateException.class, () ->
                    p.forRange(10, 1, (s, e, worker) -> {
                        if (worker == 1) {
                            throw new ArithmeticException("worker range " + s);
                        }
                    }));
            assertTrue(onWorker.getCause() instanceof ArithmeticException, onWorker.toString());
            IllegalArgumentException mine = new IllegalArgumentException("caller's range");
            IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class, () ->
                    p.forRange(10, 1, (s, e, worker) -> {
                        if (worker == 0) {
                            throw mine;
                        }
                    }));
            assertSame(mine, thrown);
            AtomicIntegerArray hits = new AtomicIntegerArray(10);
            p.forRange(10, 1, (s, e, worker) -> {
                for (int i = s; i < e; i++) {
                    hits.incrementAndGet(i);
                }
            });
            for (int i = 0; i < 10; i++) {
                assertEquals(1, hits.get(i), "after the failures, index " + i);
            }
        }
    }

    @Test
    void closed_threads_refuse_work_and_exit() throws InterruptedException {
        Parallel p = new Parallel(2);
        p.forRange(4, 1, (s, e, worker) -> { });
        p.close();
        assertThrows(IllegalStateException.class, () -> p.forRange(4, 1, (s, e, worker) -> { }));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (p.threadsAlive() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(!p.threadsAlive(), "the compute threads exited");
    }
}
