package dev.quiver.gpu.bench.peer;

/**
 * One greedy decode step as either engine reports it: the chosen token, its log-probability, and the {@code
 * top.length} most likely tokens with theirs (most likely first, the chosen one included).
 */
record GreedyStep(int token, double logprob, int[] top, double[] topLogprobs) {
}
