package dev.quiver.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Every request of a run, decided before the first one is sent: arrival offset, model (adapter or base), prompt
 * token ids and max_tokens. A pure function of the settings and the seed, so two runs with the same options send
 * the same requests at the same offsets. Arrivals, adapter choice, lengths and prompt contents draw from separate
 * streams split off the seed, so changing one distribution leaves the others as they were.
 */
public record LoadPlan(List<Planned> requests, long windowNanos) {
    /** Prompt token ids are drawn uniformly from [FIRST, LAST): byte-level ids present in every supported vocabulary. */
    static final int PROMPT_ID_FIRST = 16;
    static final int PROMPT_ID_LAST = 256;

    /**
     * One request. {@code adapterRank} is the adapter's Zipf rank (1 = most popular), 0 for the base model.
     */
    public record Planned(int index, long offsetNanos, String model, int adapterRank, int[] promptIds,
                          int maxTokens) {
    }

    public static LoadPlan build(LoadSettings s, String baseModel) {
        SplittableRandom root = new SplittableRandom(s.seed());
        SplittableRandom arrivalsRng = root.split();
        SplittableRandom modelRng = root.split();
        SplittableRandom lengthRng = root.split();
        SplittableRandom promptRng = root.split();
        Distributions.PoissonArrivals arrivals = new Distributions.PoissonArrivals(s.rate(), arrivalsRng);
        Distributions.Zipf zipf = s.adapterNames().isEmpty() ? null
                : new Distributions.Zipf(s.adapterNames().size(), s.zipf());
        long window = s.duration() == null ? Long.MAX_VALUE : s.duration().toNanos();
        int max = s.requests() > 0 ? s.requests() : Integer.MAX_VALUE;
        List<Planned> out = new ArrayList<>();
        long t = 0;
        while (out.size() < max) {
            t += arrivals.nextGapNanos();
            if (t >= window) {
                break;
            }
            boolean base = zipf == null || modelRng.nextDouble() < s.baseShare();
            int rank = base ? 0 : zipf.sample(modelRng);
            String model = base ? baseModel : s.adapterNames().get(rank - 1);
            int[] prompt = new int[s.promptTokens().sample(lengthRng)];
            int maxTokens = s.outputTokens().sample(lengthRng);
            for (int i = 0; i < prompt.length; i++) {
                prompt[i] = PROMPT_ID_FIRST + promptRng.nextInt(PROMPT_ID_LAST - PROMPT_ID_FIRST);
            }
            out.add(new Planned(out.size(), t, model, rank, prompt, maxTokens));
        }
        long span = s.duration() != null ? window : out.isEmpty() ? 0 : out.get(out.size() - 1).offsetNanos();
        return new LoadPlan(List.copyOf(out), span);
    }

    /** Arrivals per second of the plan: planned requests over the arrival window. */
    public double offeredRate() {
        return windowNanos == 0 ? 0 : requests.size() / (windowNanos / 1e9);
    }
}
