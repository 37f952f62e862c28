package dev.quiver.node.directory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class PauseFenceTest {

    /** A clock the test moves by hand, in nanoseconds; starts away from zero so no arithmetic relies on it. */
    private long now = 7_000_000_000L;

    private PauseFence fence() {
        return new PauseFence(Duration.ofSeconds(1), Duration.ofSeconds(2), () -> now);
    }

    private void advanceMs(long ms) {
        now += ms * 1_000_000;
    }

    @Test
    void regular_ticks_never_raise_the_fence() {
        PauseFence f = fence();
        for (int i = 0; i < 100; i++) {
            advanceMs(i % 2 == 0 ? 100 : 1000); // a late tick of exactly the threshold is not a pause
            assertEquals(Duration.ZERO, f.tick());
            assertEquals(Optional.empty(), f.fenced());
        }
        assertEquals(0, f.pauses());
    }

    @Test
    void a_check_that_runs_before_the_ticker_after_a_pause_is_already_fenced() {
        PauseFence f = fence();
        f.tick();
        advanceMs(12_000); // SIGSTOP for 12 s; after SIGCONT an entity thread runs before the ticker
        Optional<String> why = f.fenced();
        assertTrue(why.isPresent(), "fenced before the ticker has seen the pause");
        assertTrue(why.get().contains("did not run for 12000 ms"), why.get());
        assertEquals(0, f.pauses(), "the ticker has not run yet");
    }

    @Test
    void the_fence_stays_up_for_the_grace_period_after_the_tick_that_ends_a_pause() {
        PauseFence f = fence();
        advanceMs(100);
        f.tick();
        advanceMs(5_000);
        assertEquals(Duration.ofMillis(5_000), f.tick());
        assertEquals(1, f.pauses());
        for (int ms = 0; ms < 2_000; ms += 100) {
            Optional<String> why = f.fenced();
            assertTrue(why.isPresent(), "still fenced " + ms + " ms after the pause");
            assertTrue(why.get().contains("paused for 5000 ms"), why.get());
            advanceMs(100);
            f.tick();
        }
        assertEquals(Optional.empty(), f.fenced(), "free again once the grace period is over");
    }

    @Test
    void a_second_pause_during_the_grace_period_extends_it() {
        PauseFence f = fence();
        advanceMs(1_500);
        f.tick();
        advanceMs(1_000);
        f.tick();
        assertTrue(f.fenced().get().contains("paused for 1500 ms"), f.fenced().get());
        advanceMs(1_999);
        f.tick(); // 3,499 ms after the first pause, its grace is over, but this gap is a pause of its own
        for (int ms = 0; ms < 1_900; ms += 100) {
            advanceMs(100);
            f.tick();
        }
        Optional<String> why = f.fenced();
        assertTrue(why.isPresent() && why.get().contains("paused for 1999 ms"), "the second pause's grace runs from"
                + " its own end: " + why);
        assertEquals(2, f.pauses());
    }

    @Test
    void a_threshold_of_zero_is_refused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new PauseFence(Duration.ZERO, Duration.ofSeconds(2), () -> now));
        assertTrue(e.getMessage().contains("pause-fence"), e.getMessage());
    }
}
