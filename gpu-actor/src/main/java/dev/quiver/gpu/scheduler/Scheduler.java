package dev.quiver.gpu.scheduler;

import dev.quiver.gpu.kv.KvBlockManager;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;

/**
 * Continuous batching with chunked prefill, decided afresh at every step (vLLM-v1 style); a plain class with
 * no threads or I/O, driven by the engine loop.
 *
 * <p>Each step has a token budget. Running sequences are served first, oldest first: one token each when
 * decoding, a chunk of the budget when still prefilling. If the KV cache cannot grow for one of them, the
 * youngest running sequence is preempted (its blocks freed, to be recomputed later) until it can. Then
 * waiting sequences are admitted in arrival order while budget, sequence slots and KV blocks last; a waiting
 * sequence whose adapter is not ready in a slot is skipped (its adapter loads in the background) and does not
 * hold back the ones behind it.
 */
public final class Scheduler {
    /**
     * @param maxRunning      most sequences in one batch
     * @param maxBatchTokens  token budget of one step (prefill chunks + decode tokens)
     */
    public record Settings(int maxRunning, int maxBatchTokens) {
        public Settings {
            if (maxRunning < 1 || maxBatchTokens < 1) {
                throw new IllegalArgumentException("max-num-seqs and max-batched-tokens must be >= 1");
            }
        }
    }

    private final Settings settings;
    private final KvBlockManager kv;
    private final AdapterResidency adapters;
    private final Deque<Sequence> waiting = new ArrayDeque<>();
    private final List<Sequence> running = new ArrayList<>();

    public Scheduler(Settings settings, KvBlockManager kv, AdapterResidency adapters) {
        this.settings = settings;
        this.kv = kv;
        this.adapters = adapters;
    }

    public void add(Sequence s) {
        s.status(Sequence.Status.WAITING);
        waiting.addLast(s);
    }

    public int waitingCount() {
        return waiting.size();
    }

    public int runningCount() {
        return running.size();
    }

    public boolean hasWork() {
        return !waiting.isEmpty() || !running.isEmpty();
    }

    /** Waiting sequences, in order (read-only use by the engine, e.g. to fail those of a refused adapter). */
    public List<Sequence> waiting() {
        return List.copyOf(waiting);
    }

    public List<Sequence> running() {
        return List.copyOf(running);
    }

    /** Decides the next step. */
    public StepPlan schedule() {
        int budget = settings.maxBatchTokens();
        List<StepPlan.Entry> entries = new ArrayList<>();
        List<Sequence> preempted = new ArrayList<>();

        for (int i = 0; i < running.size() && budget > 0; i++) {
            Sequence s = running.get(i);
            int n = Math.min(s.uncomputed(), budget);
            while (!kv.ensureCapacity(s.blocks(), s.computed() + n)) {
                Sequence victim = running.get(running.size() - 1);
                preempt(victim);
                preempted.add(victim);
                if (victim == s) {
                    break;
                }
            }
            if (s.status() != Sequence.Status.RUNNING) {
                break; // s preempted itself: everything younger is gone too
            }
            entries.add(new StepPlan.Entry(s, n, n == s.uncomputed()));
            budget -= n;
        }

        if (preempted.isEmpty()) {
            for (Iterator<Sequence> it = waiting.iterator(); it.hasNext() && budget > 0
                    && running.size() < settings.maxRunning(); ) {
                Sequence s = it.next();
                int slot = -1;
                if (s.adapter != null) {
                    slot = adapters.acquire(s.adapter);
                    if (slot < 0) {
                        continue; // adapter loading: later sequences may still go
                    }
                }
                int n = Math.min(s.uncomputed(), budget);
                if (!kv.ensureCapacity(s.blocks(), n)) {
                    if (s.adapter != null) {
                        adapters.release(s.adapter);
                    }
                    break; // KV full: admitting younger ones would only preempt them later
                }
                it.remove();
                s.slot(slot);
                s.status(Sequence.Status.RUNNING);
                running.add(s);
                entries.add(new StepPlan.Entry(s, n, n == s.uncomputed()));
                budget -= n;
            }
        }
        return new StepPlan(List.copyOf(entries), List.copyOf(preempted));
    }

    private void preempt(Sequence s) {
        running.remove(s);
        kv.release(s.blocks());
        s.resetComputed();
        if (s.adapter != null) {
            adapters.release(s.adapter);
        }
        s.slot(-1);
        s.status(Sequence.Status.WAITING);
        waiting.addFirst(s);
    }

    /** Removes a finished or cancelled sequence wherever it is, freeing its blocks and adapter reference. */
    public void remove(Sequence s) {
        if (running.remove(s)) {
            if (s.adapter != null) {
                adapters.release(s.adapter);
            }
        } else {
            waiting.remove(s);
        }
        kv.release(s.blocks());
        s.slot(-1);
        s.status(Sequence.Status.FINISHED);
    }
}
