package dev.quiver.gpu.bench.peer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The gate before timing: identical greedy tokens and logprobs within tolerance, else a failure naming the step. */
class AgreementTest {
    static GreedyStep step(int token, double lp, int second, double lp2) {
        return new GreedyStep(token, lp, new int[] {token, second}, new double[] {lp, lp2});
    }

    @Test
    void accepts_identical_tokens_with_logprobs_within_tolerance_and_reports_the_largest_difference() {
        String s = Agreement.check("F32", List.of(step(5, -1.0, 7, -2.0), step(9, -0.5, 1, -3.0)),
                List.of(step(5, -1.004, 7, -2.0), step(9, -0.5, 1, -3.001)), 1e-2);
        assertTrue(s.contains("2 greedy tokens identical") && s.contains("4.00e-03"), s);
    }

    @Test
    void refuses_a_different_greedy_token_naming_the_step_and_both_tokens() {
        PeerBench.AgreementException e = assertThrows(PeerBench.AgreementException.class, () -> Agreement.check(
                "BF16 + adapter", List.of(step(5, -1, 7, -2), step(9, -0.5, 1, -3)),
                List.of(step(5, -1, 7, -2), step(1, -0.6, 9, -0.7)), 1e-2));
        assertTrue(e.getMessage().contains("BF16 + adapter") && e.getMessage().contains("step 1")
                && e.getMessage().contains("Quiver 9") && e.getMessage().contains("llama.cpp 1"), e.getMessage());
    }

    @Test
    void accepts_a_tie_within_tolerance_and_stops_comparing_there_saying_so() {
        // the step seen on BF16: each engine has the other's pick second, 0.003 and 0.007 below its own
        String s = Agreement.check("BF16", List.of(step(5, -1, 7, -2), step(2706, -6.0894, 1222, -6.0925),
                step(3, -1, 4, -2)), List.of(step(5, -1, 7, -2), step(1222, -6.0892, 2706, -6.0962),
                step(8, -1, 9, -2)), 5e-2);
        assertTrue(s.contains("1 greedy tokens identical, then a tie") && s.contains("step 1"), s);
    }

    @Test
    void refuses_a_different_token_that_is_not_a_tie_within_tolerance() {
        assertThrows(PeerBench.AgreementException.class, () -> Agreement.check("BF16",
                List.of(step(2706, -6.0, 1222, -6.2)), List.of(step(1222, -6.0, 2706, -6.2)), 5e-2));
    }

    @Test
    void refuses_logprobs_further_apart_than_the_tolerance() {
        PeerBench.AgreementException e = assertThrows(PeerBench.AgreementException.class, () -> Agreement.check(
                "F32", List.of(step(5, -1.0, 7, -2.0)), List.of(step(5, -1.0, 7, -2.05)), 1e-2));
        assertTrue(e.getMessage().contains("step 0") && e.getMessage().contains("token 7"), e.getMessage());
    }

    @Test
    void refuses_a_different_number_of_steps() {
        assertThrows(PeerBench.AgreementException.class, () -> Agreement.check("F32",
                List.of(step(5, -1, 7, -2)), List.of(), 1e-2));
    }
}
