package dev.quiver.gpu.scheduler;

import java.util.List;

/**
 * What one engine step runs: for each scheduled sequence, how many of its uncomputed tokens go into this
 * forward pass, and whether the step ends its known tokens (so the next token is sampled from the last row).
 */
public record StepPlan(List<Entry> entries, List<Sequence> preempted) {
    public record Entry(Sequence seq, int tokens, boolean samples) {
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }

    public int totalTokens() {
        int n = 0;
        for (Entry e : entries) {
            n += e.tokens();
        }
        return n;
    }
}
