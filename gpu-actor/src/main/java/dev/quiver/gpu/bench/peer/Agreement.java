package dev.quiver.gpu.bench.peer;

import java.util.List;

/**
 * The check that both engines compute the same thing: step by step, the same greedy token, the same top-k
 * tokens, and log-probabilities within a tolerance. Greedy tokens feed back into the next step, so one differing
 * token would make every later step differ; the check stops at the first.
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
                throw new PeerBench.AgreementException(String.format("%s: greedy tokens differ at step %d: Quiver %d "
                        + "(logprob %.5f), llama.cpp %d (logprob %.5f); Quiver's top %s, llama.cpp's top %s", what, s,
                        q.token(), q.logprob(), l.token(), l.logprob(), top(q), top(l)));
            }
            for (int k = 0; k < Math.min(q.top().length, l.top().length); k++) {
                double d = Math.abs(q.topLogprobs()[k] - l.topLogprobs()[k]);
                if (q.top()[k] != l.top()[k] && d > tolerance) {
                    throw new PeerBench.AgreementException(String.format("%s: step %d, rank %d: Quiver's token %d, "
                            + "llama.cpp's %d", what, s, k + 1, q.top()[k], l.top()[k]));
                }
                if (d > tolerance) {
                    throw new PeerBench.AgreementException(String.format("%s: step %d, token %d: logprob %.5f in "
                            + "Quiver, %.5f in llama.cpp (|difference| %.5f > tolerance %.5f)", what, s, q.top()[k],
                            q.topLogprobs()[k], l.topLogprobs()[k], d, tolerance));
                }
                worst = Math.max(worst, d);
            }
        }
        return String.format("%s: %d greedy tokens identical, max |logprob difference| %.2e (tolerance %.0e)", what,
                quiver.size(), worst, tolerance);
    }

    private static String top(GreedyStep g) {
        StringBuilder s = new StringBuilder("[");
        for (int k = 0; k < g.top().length; k++) {
            s.append(k == 0 ? "" : ", ").append(g.top()[k]).append(String.format(":%.4f", g.topLogprobs()[k]));
        }
        return s.append(']').toString();
    }
}
