package dev.quiver.gpu.bench.peer;

import java.util.List;

/**
 * The check that both engines compute the same thing: step by step, the same greedy token, and the
 * log-probabilities of the tokens both list in their top-k within a tolerance (compared by token, not by rank).
 *
 * <p>NOTE: a random test model's next-token distribution is nearly flat, so two tokens can be tied to within the
 * format's precision (BF16 and Q8_0: llama.cpp also rounds activations); then either engine's pick is right. Such a
 * tie (each engine lists the other's token within the tolerance of its own pick) is accepted, but the two
 * continuations differ from there, so the comparison ends at it and the summary says so. Any other difference
 * fails.
 */
final class Agreement {
    private Agreement() {
    }

    /** A one-line summary when they agree; an {@link PeerBench.AgreementException} naming the step when not. */
    static String check(String what, List<GreedyStep> quiver, List<GreedyStep> llama, double tolerance) {
        if (quiver.size() != llama.size()) {
            throw new PeerBench.AgreementException(what + ": Quiver gave " + quiver.size() + " steps, llama.cpp "
                    + llama.size());
        }
        double worst = 0;
        for (int s = 0; s < quiver.size(); s++) {
            GreedyStep q = quiver.get(s);
            GreedyStep l = llama.get(s);
            if (q.token() != l.token()) {
                if (tied(q, l, tolerance)) {
                    return String.format("%s: %d greedy tokens identical, then a tie within %.0e at step %d (Quiver %d, "
                            + "llama.cpp %d; both tops %s / %s), not compared further; max |logprob difference| %.2e",
                            what, s, tolerance, s, q.token(), l.token(), top(q), top(l), worst);
                }
                throw new PeerBench.AgreementException(String.format("%s: greedy tokens differ at step %d: Quiver %d "
                        + "(logprob %.5f), llama.cpp %d (logprob %.5f); Quiver's top %s, llama.cpp's top %s", what, s,
                        q.token(), q.logprob(), l.token(), l.logprob(), top(q), top(l)));
            }
            for (int k = 0; k < q.top().length; k++) {
                double lp = logprobOf(l, q.top()[k]);
                if (Double.isNaN(lp)) {
                    continue; // not in llama.cpp's top-k: its rank there is checked by the greedy token alone
                }
                double d = Math.abs(q.topLogprobs()[k] - lp);
                if (d > tolerance) {
                    throw new PeerBench.AgreementException(String.format("%s: step %d, token %d: logprob %.5f in "
                            + "Quiver, %.5f in llama.cpp (|difference| %.5f > tolerance %.5f)", what, s, q.top()[k],
                            q.topLogprobs()[k], lp, d, tolerance));
                }
                worst = Math.max(worst, d);
            }
        }
        return String.format("%s: %d greedy tokens identical, max |logprob difference| %.2e (tolerance %.0e)", what,
                quiver.size(), worst, tolerance);
    }

    /** Each engine lists the other's pick within {@code tolerance} of its own. */
    static boolean tied(GreedyStep q, GreedyStep l, double tolerance) {
        double qOther = logprobOf(q, l.token());
        double lOther = logprobOf(l, q.token());
        return !Double.isNaN(qOther) && !Double.isNaN(lOther) && q.logprob() - qOther <= tolerance
                && l.logprob() - lOther <= tolerance;
    }

    private static double logprobOf(GreedyStep g, int token) {
        for (int k = 0; k < g.top().length; k++) {
            if (g.top()[k] == token) {
                return g.topLogprobs()[k];
            }
        }
        return Double.NaN;
    }

    private static String top(GreedyStep g) {
        StringBuilder s = new StringBuilder("[");
        for (int k = 0; k < g.top().length; k++) {
            s.append(k == 0 ? "" : ", ").append(g.top()[k]).append(String.format(":%.4f", g.topLogprobs()[k]));
        }
        return s.append(']').toString();
    }
}
