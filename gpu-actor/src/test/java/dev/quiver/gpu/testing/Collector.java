package dev.quiver.gpu.testing;

import dev.quiver.gpu.worker.EngineError;
import dev.quiver.gpu.worker.EngineListener;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Collects one request's engine events; {@link #await()} waits for its end. */
public final class Collector implements EngineListener {
    public final List<Integer> tokens = new ArrayList<>();
    public final List<Float> logprobs = new ArrayList<>();
    public final StringBuilder text = new StringBuilder();
    /** The prompt logprobs event, or null when none came; {@link #promptEvents} counts them. */
    public volatile List<TokenLogprob> promptLogprobs;
    public volatile int promptEvents;
    /** Every generated token's logprob event, top alternatives included. */
    public final List<TokenLogprob> tokenLogprobs = new ArrayList<>();
    public final CompletableFuture<Void> done = new CompletableFuture<>();
    public volatile boolean accepted;
    public volatile FinishReason finish;
    public volatile Usage usage;
    public volatile EngineError error;

    @Override
    public void onAccepted(String id, int promptTokens) {
        accepted = true;
    }

    @Override
    public synchronized void onTokens(String id, int[] ids, String t, List<TokenLogprob> lp) {
        for (int x : ids) {
            tokens.add(x);
        }
        lp.forEach(l -> logprobs.add(l.logprob()));
        tokenLogprobs.addAll(lp);
        text.append(t);
    }

    @Override
    public synchronized void onPromptLogprobs(String id, List<TokenLogprob> lp) {
        if (!tokens.isEmpty()) {
            throw new AssertionError("prompt logprobs came after generated tokens");
        }
        promptLogprobs = lp;
        promptEvents++;
    }

    @Override
    public void onFinished(String id, FinishReason reason, Usage u) {
        finish = reason;
        usage = u;
        done.complete(null);
    }

    @Override
    public void onFailed(String id, EngineError e) {
        error = e;
        done.complete(null);
    }

    public Collector await() {
        try {
            done.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("request did not end within 60 s", e);
        }
        return this;
    }

    public synchronized int[] tokenArray() {
        return tokens.stream().mapToInt(Integer::intValue).toArray();
    }
}
