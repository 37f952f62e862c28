package dev.quiver.node.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pure choice of a split's version: shares within statistical bounds, stickiness, growth and independence. */
class SplitChooserTest {

    private static Map<Integer, Integer> counts(String adapter, Map<Integer, Integer> weights, int users) {
        Map<Integer, Integer> n = new HashMap<>();
        for (int i = 0; i < users; i++) {
            n.merge(SplitChooser.choose(adapter, weights, "user-" + i), 1, Integer::sum);
        }
        return n;
    }

    @Test
    void a_90_10_split_over_2000_distinct_users_gives_each_version_its_share_within_five_sigma() {
        Map<Integer, Integer> n = counts("summarizer", Map.of(3, 90, 4, 10), 2000);
        // binomial(2000, 0.1): mean 200, sd 13.4; five sigma is 67
        int canary = n.getOrDefault(4, 0);
        assertTrue(Math.abs(canary - 200) <= 67, "v4 got " + canary + " of 2000");
        assertEquals(2000, n.getOrDefault(3, 0) + canary);
    }

    @Test
    void a_three_way_split_passes_a_chi_square_test() {
        Map<Integer, Integer> weights = Map.of(1, 50, 2, 30, 3, 20);
        Map<Integer, Integer> n = counts("ab", weights, 2000);
        double chi2 = 0;
        for (var e : weights.entrySet()) {
            double expected = 2000 * e.getValue() / 100.0;
            double d = n.getOrDefault(e.getKey(), 0) - expected;
            chi2 += d * d / expected;
        }
        // 2 degrees of freedom: P(chi2 > 13.8) = 0.001
        assertTrue(chi2 < 13.8, "chi2 " + chi2 + " for " + n);
    }

    @Test
    void the_same_user_always_gets_the_same_version() {
        Map<Integer, Integer> weights = Map.of(1, 50, 2, 50);
        for (int i = 0; i < 200; i++) {
            int first = SplitChooser.choose("a", weights, "u" + i);
            for (int k = 0; k < 3; k++) {
                assertEquals(first, SplitChooser.choose("a", weights, "u" + i));
            }
        }
    }

    @Test
    void a_growing_canary_keeps_the_users_it_already_had() {
        for (int i = 0; i < 2000; i++) {
            String user = "user-" + i;
            if (SplitChooser.choose("a", Map.of(1, 95, 2, 5), user) == 2) {
                assertEquals(2, SplitChooser.choose("a", Map.of(1, 80, 2, 20), user), user);
            }
        }
    }

    @Test
    void different_adapters_split_the_same_users_independently() {
        int same = 0;
        for (int i = 0; i < 2000; i++) {
            boolean a = SplitChooser.choose("adapter-a", Map.of(1, 50, 2, 50), "user-" + i) == 2;
            boolean b = SplitChooser.choose("adapter-b", Map.of(1, 50, 2, 50), "user-" + i) == 2;
            same += a == b ? 1 : 0;
        }
        // independent: agreement ~ binomial(2000, 0.5), mean 1000, sd 22.4
        assertTrue(Math.abs(same - 1000) <= 112, "agreement " + same);
    }

    @Test
    void a_promoted_version_gets_everything() {
        assertEquals(Map.of(4, 500), counts("a", Map.of(4, 100), 500));
    }

    @Test
    void refuses_weights_that_do_not_sum_to_100() {
        assertThrows(IllegalArgumentException.class, () -> SplitChooser.choose("a", Map.of(1, 40, 2, 40), "u"));
        assertThrows(IllegalArgumentException.class, () -> SplitChooser.choose("a", Map.of(), "u"));
    }
}
