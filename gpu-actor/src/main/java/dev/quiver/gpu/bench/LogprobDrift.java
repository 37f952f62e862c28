package dev.quiver.gpu.bench;

import dev.quiver.gpu.backend.Backend;
import dev.quiver.gpu.backend.ForwardBatch;
import java.util.SplittableRandom;

/**
 * How far one backend's next-token distributions drift from another's on the same prompts: every position of
 * every prompt is prefilled with its logits kept, log-softmaxed in float64, and compared.
 *
 * @param positions        positions compared (prompts × length)
 * @param maxAbs           max over positions and vocabulary of |logprob_b − logprob_a|
 * @param meanAbsChosen    mean over positions of |Δ logprob| of the token a ranks first
 * @param maxAbsChosen     max over positions of the same
 * @param meanKl           mean over positions of KL(a ‖ b) in nats
 * @param top1Agreement    fraction of positions where both rank the same token first
 */
public record LogprobDrift(int positions, double maxAbs, double meanAbsChosen, double maxAbsChosen, double meanKl,
                           double top1Agreement) {

    /** {@code count} prompts of {@code length} token ids in [1, vocab), fixed by the seed. */
    public static int[][] prompts(int count, int length, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[][] p = new int[count][length];
        for (int[] prompt : p) {
            for (int i = 0; i < length; i++) {
                prompt[i] = 1 + r.nextInt(vocab - 1);
            }
        }
        return p;
    }

    /**
     * Drift of b from a over the prompts; each prompt is one prefill at KV blocks [0, length / blockSize], so both
     * backends need that many blocks.
     */
    public static LogprobDrift measure(Backend a, Backend b, int[][] prompts) {
        int vocab = a.config().vocabSize();
        int n = 0, agree = 0;
        double maxAbs = 0, sumChosen = 0, maxChosen = 0, sumKl = 0;
        for (int[] prompt : prompts) {
            float[] la = logitsAtEveryPosition(a, prompt);
            float[] lb = logitsAtEveryPosition(b, prompt);
            for (int t = 0; t < prompt.length; t++) {
                double[] pa = logSoftmax(la, t * vocab, vocab);
                double[] pb = logSoftmax(lb, t * vocab, vocab);
                int topA = 0, topB = 0;
                double kl = 0;
                for (int v = 0; v < vocab; v++) {
                    maxAbs = Math.max(maxAbs, Math.abs(pb[v] - pa[v]));
                    kl += Math.exp(pa[v]) * (pa[v] - pb[v]);
                    topA = pa[v] > pa[topA] ? v : topA;
                    topB = pb[v] > pb[topB] ? v : topB;
                }
                double chosen = Math.abs(pb[topA] - pa[topA]);
                sumChosen += chosen;
                maxChosen = Math.max(maxChosen, chosen);
                sumKl += kl;
                agree += topA == topB ? 1 : 0;
                n++;
            }
        }
        return new LogprobDrift(n, maxAbs, sumChosen / n, maxChosen, sumKl / n, (double) agree / n);
    }

    private static float[] logitsAtEveryPosition(Backend backend, int[] prompt) {
        int n = prompt.length;
        int[] pos = new int[n], slot = new int[n], seq = new int[n], rows = new int[n];
        for (int i = 0; i < n; i++) {
            pos[i] = i;
            slot[i] = -1;
            rows[i] = i;
        }
        int[] table = new int[(n + backend.blockSize() - 1) / backend.blockSize()];
        for (int i = 0; i < table.length; i++) {
            table[i] = i;
        }
        float[] logits = new float[n * backend.config().vocabSize()];
        backend.forward(new ForwardBatch(prompt, pos, slot, seq, new int[][] {table}, rows), logits);
        return logits;
    }

    private static double[] logSoftmax(float[] logits, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(logits[off + i] - max);
        }
        double lse = max + Math.log(sum);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = logits[off + i] - lse;
        }
        return out;
    }

    @Override
    public String toString() {
        return String.format("over %d positions: top-1 agreement %.1f%%, |Δ logprob| of the reference's top token "
                        + "mean %.4f / max %.4f, max |Δ logprob| over the vocabulary %.4f, mean KL %.2e nats",
                positions, 100 * top1Agreement, meanAbsChosen, maxAbsChosen, maxAbs, meanKl);
    }
}
