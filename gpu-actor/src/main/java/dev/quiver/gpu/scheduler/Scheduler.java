package dev.quiver.gpu.scheduler;

import dev.quiver.gpu.kv.KvBlockManager;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Continuous batching with chunked prefill, decided afresh at every step (vLLM-v1 style), with admission that
 * groups requests by resident adapter and rotates adapter slots fairly when there are more hot adapters than
 * slots; a plain class with no threads or I/O, driven by the engine loop.
 *
 * <p>Each step has a token budget. Running sequences are served first, oldest first: one token each when
 * decoding, a chunk of the budget when still prefilling. If the KV cache cannot grow for one of them, the
 * blocks of paused sequences go first (youngest first, recomputed later), then the youngest running sequence
 * is preempted (its blocks freed, to be recomputed later) until it can.
 *
 * <p>Admission looks at the waiting queue adapter by adapter, each adapter in the place of its first waiting
 * sequence (the queue is in arrival order, with preempted sequences in front and paused ones at the back):
 * <ol>
 *   <li>the <em>head</em> adapter (the first one in line that is not in a slot) is admitted first, when it can
 *       get a slot;</li>
 *   <li>then every sequence of the base model or of an adapter already in a slot, whatever its place in the
 *       queue: they cost no load, and taking them now keeps their slot from being given away while they
 *       wait;</li>
 *   <li>then the other adapters not in a slot, at most {@code adapterLookahead} adapters into the queue
 *       (counting the head): their loads start in queue order, so the host tier is not churned by loads for
 *       adapters whose turn is far away.</li>
 * </ol>
 * A sequence whose adapter is not ready is skipped (its adapter loads in the background) and does not hold back
 * the ones behind it.
 *
 * <p>Slot rotation. When an adapter in line is loaded in host memory and every slot is held by running
 * sequences, the scheduler pauses the sequences of the adapter that has held its slot longest: they leave the
 * batch with their KV blocks kept, release the slot, and join the back of the queue, to resume where they
 * stopped once their adapter is back in a slot. Only an adapter whose running sequences all ran at least
 * {@code minSlotSteps} steps since their admission, and are past their prefill (their first token sampled), is
 * paused, so a slot is never taken from requests before they ran. While the head adapter waits for such a
 * candidate, the candidate admits no new sequences, so it becomes pausable in a bounded number of steps: the
 * head adapter gets a slot within that bound plus its own load, whatever keeps arriving for resident adapters.
 * Pinned adapters are never paused.
 *
 * <p>NOTE: pausing keeps K/V, which depends only on the tokens and the adapter's weights, not on the slot
 * index, so a resumed sequence continues exactly as if it had not left the batch.
 */
public final class Scheduler {
    /**
     * @param maxRunning        most sequences in one batch
     * @param maxBatchTokens    token budget of one step (prefill chunks + decode tokens)
     * @param adapterLookahead  how many adapters not in a slot, in queue order, may start loading at once
     * @param minSlotSteps      steps every running sequence of an adapter runs after its admission before the
     *                          adapter's slot may be rotated to another adapter (at least 1)
     */
    public record Settings(int maxRunning, int maxBatchTokens, int adapterLookahead, int minSlotSteps) {
        public Settings {
            if (maxRunning < 1 || maxBatchTokens < 1) {
                throw new IllegalArgumentException("max-num-seqs and max-batched-tokens must be >= 1");
            }
            if (adapterLookahead < 1) {
                throw new IllegalArgumentException("adapterLookahead must be >= 1, got " + adapterLookahead);
            }
            if (minSlotSteps < 1) {
                throw new IllegalArgumentException("minSlotSteps must be >= 1 (a slot is never taken from "
                        + "requests before they ran a step), got " + minSlotSteps);
            }
        }

        /** Every waiting adapter may start loading; slots rotate after one step. */
        public Settings(int maxRunning, int maxBatchTokens) {
            this(maxRunning, maxBatchTokens, Integer.MAX_VALUE, 1);
        }
    }

    private final Settings settings;
    private final KvBlockManager kv;
    private final AdapterResidency adapters;
    private final Deque<Sequence> waiting = new ArrayDeque<>();
    private final List<Sequence> running = new ArrayList<>();
    private final Map<String, Integer> runningByAdapter = new HashMap<>();
    private final Map<String, Long> heldSince = new HashMap<>(); // adapter -> step its running sequences began
    private long clock;
    private long pauses;

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

    /** Running sequences sent back to the queue with their KV kept, so that another adapter got their slot. */
    public long pauses() {
        return pauses;
    }

    /** Decides the next step. */
    public StepPlan schedule() {
        clock++;
        Step st = new Step(waiting);
        List<String> cold = new ArrayList<>();
        List<String> resident = new ArrayList<>();
        for (String a : st.groups.keySet()) {
            (a == null || inSlot(a) ? resident : cold).add(a);
        }
        rotate(st, cold);

        int budget = settings.maxBatchTokens();
        List<StepPlan.Entry> entries = new ArrayList<>();
        List<Sequence> preempted = new ArrayList<>();
        for (int i = 0; i < running.size() && budget > 0; i++) {
            Sequence s = running.get(i);
            int n = Math.min(s.uncomputed(), budget);
            while (!kv.ensureCapacity(s.blocks(), s.computed() + n)) {
                if (dropPausedAfter(null)) {
                    continue;
                }
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
            int runningBefore = running.size();
            int entriesBefore = entries.size();
            Admission adm = new Admission(budget, entries);
            if (!cold.isEmpty()) {
                admitGroup(cold.get(0), st, adm, false);
            }
            for (String a : resident) {
                if (a == null || !st.barred.contains(a)) {
                    admitGroup(a, st, adm, true);
                }
            }
            for (int i = 1; i < cold.size() && i < settings.adapterLookahead(); i++) {
                admitGroup(cold.get(i), st, adm, false);
            }
            // NOTE: admitted out of queue order (grouped by adapter), they join the batch in queue order, so
            // that the youngest running sequence, preempted first, is still the one that queued last
            Comparator<Sequence> queued = Comparator.comparingInt(st.place::get);
            running.subList(runningBefore, running.size()).sort(queued);
            entries.subList(entriesBefore, entries.size()).sort(Comparator.comparing(StepPlan.Entry::seq, queued));
        }
        for (StepPlan.Entry e : entries) {
            e.seq().scheduledOnce();
        }
        return new StepPlan(List.copyOf(entries), List.copyOf(preempted));
    }

    /** What one step decides about adapters before it admits anyone. */
    private final class Step {
        final Map<String, List<Sequence>> groups; // the queue by adapter (null = base), in order of first place
        final Map<Sequence, Integer> place = new HashMap<>(); // place in the waiting queue
        /** Adapters that admit no sequence this step: paused to give their slot, or about to be. */
        final Set<String> barred = new HashSet<>();

        Step(Deque<Sequence> queue) {
            this.groups = new LinkedHashMap<>();
            for (Sequence s : queue) {
                place.put(s, place.size());
                groups.computeIfAbsent(s.adapter, k -> new ArrayList<>()).add(s);
            }
        }

        /**
         * Whether an unreferenced slot of this adapter may go to another adapter: not while a request waiting
         * for it has not run since its admission (unless the adapter was chosen to give its slot up).
         */
        boolean mayEvict(String adapter) {
            return barred.contains(adapter) || !hasFreshWaiting(adapter);
        }

        boolean hasFreshWaiting(String adapter) {
            List<Sequence> seqs = groups.get(adapter);
            if (seqs != null) {
                for (Sequence s : seqs) {
                    if (s.stepsSinceAdmission() == 0) {
                        return true;
                    }
                }
            }
            return false;
        }
    }

    private boolean inSlot(String adapter) {
        return runningByAdapter.containsKey(adapter) || adapters.isReady(adapter);
    }

    /**
     * Frees slots for the adapters in line that are loaded and need one, by pausing the longest holders that
     * ran their minimum steps; when the head adapter finds none, bars the longest holder from new admissions
     * so that it can give its slot up soon.
     */
    private void rotate(Step st, List<String> cold) {
        int free = adapters.freeSlots(st::mayEvict);
        int kvFree = kv.freeBlocks();
        for (int i = 0; i < cold.size() && i < settings.adapterLookahead(); i++) {
            String a = cold.get(i);
            if (!adapters.isStaged(a)) {
                continue; // still loading from disk: its turn at a slot comes once it is in host memory
            }
            Sequence first = st.groups.get(a).get(0);
            kvFree -= kv.blocksNeeded(first.blocks(), first.computed()
                    + Math.min(first.uncomputed(), settings.maxBatchTokens()));
            if (kvFree < 0) {
                break; // it could not run anyway: pausing others for it would only waste their slot
            }
            if (free > 0) {
                free--;
                continue;
            }
            String victim = longestHolder(st, true);
            if (victim != null) {
                pause(victim);
                st.barred.add(victim);
            } else {
                String yielding = i == 0 ? longestHolder(st, false) : null;
                if (yielding != null) {
                    st.barred.add(yielding);
                }
                break;
            }
        }
    }

    /**
     * The evictable adapter whose running sequences have held its slot longest (pausable ones only if asked),
     * preferring adapters with no request waiting that has not run yet.
     */
    private String longestHolder(Step st, boolean pausableOnly) {
        String best = null;
        long bestRank = Long.MAX_VALUE;
        for (Map.Entry<String, Long> e : heldSince.entrySet()) {
            String a = e.getKey();
            if (st.barred.contains(a) || !adapters.isEvictable(a) || pausableOnly && !pausable(a)) {
                continue;
            }
            long rank = e.getValue() + (st.hasFreshWaiting(a) ? Long.MAX_VALUE / 2 : 0);
            if (best == null || rank < bestRank) {
                best = a;
                bestRank = rank;
            }
        }
        return best;
    }

    /** Whether every running sequence of the adapter ran its minimum steps and sampled its first token since. */
    private boolean pausable(String adapter) {
        for (Sequence s : running) {
            if (adapter.equals(s.adapter)
                    && (s.stepsSinceAdmission() < settings.minSlotSteps() || !s.sampledSinceAdmission())) {
                return false;
            }
        }
        return true;
    }

    /** Sends the adapter's running sequences to the back of the queue, KV kept, and releases their slot. */
    private void pause(String adapter) {
        for (Iterator<Sequence> it = running.iterator(); it.hasNext(); ) {
            Sequence s = it.next();
            if (adapter.equals(s.adapter)) {
                it.remove();
                adapters.release(adapter);
                stoppedRunning(adapter);
                s.slot(-1);
                s.status(Sequence.Status.WAITING);
                waiting.addLast(s);
                pauses++;
            }
        }
    }

    /** Mutable state of one step's admission. */
    private static final class Admission {
        int budget;
        boolean stopped;
        final List<StepPlan.Entry> entries;

        Admission(int budget, List<StepPlan.Entry> entries) {
            this.budget = budget;
            this.entries = entries;
        }
    }

    /**
     * Admits the waiting sequences of one adapter in queue order while budget, sequence slots and KV last;
     * {@code residentOnly}: only if the adapter is in a slot (no load, no eviction).
     */
    private void admitGroup(String adapter, Step st, Admission adm, boolean residentOnly) {
        if (adapter != null && residentOnly && !inSlot(adapter)) {
            return; // its slot went to the head adapter this step
        }
        for (Sequence s : st.groups.get(adapter)) {
            if (adm.stopped || adm.budget <= 0 || running.size() >= settings.maxRunning()) {
                adm.stopped = true;
                return;
            }
            int n = Math.min(s.uncomputed(), adm.budget);
            // NOTE: KV first, slot second: a slot is never taken for a sequence that then cannot run
            if (!makeRoom(s, s.computed() + n)) {
                adm.stopped = true; // KV full: admitting younger ones would only preempt them later
                return;
            }
            int slot = -1;
            if (adapter != null) {
                slot = adapters.acquire(adapter, st::mayEvict);
                if (slot < 0) {
                    return; // adapter loading or no slot yet: other adapters may still go
                }
            }
            if (!kv.ensureCapacity(s.blocks(), s.computed() + n)) {
                throw new IllegalStateException("KV blocks counted free for sequence " + s.id + " were not");
            }
            waiting.remove(s);
            s.slot(slot);
            s.status(Sequence.Status.RUNNING);
            s.admitted();
            running.add(s);
            startedRunning(adapter);
            adm.entries.add(new StepPlan.Entry(s, n, n == s.uncomputed()));
            adm.budget -= n;
        }
    }

    /**
     * Whether a waiting sequence's blocks can grow to {@code tokens}, taking the blocks of paused sequences
     * behind it in the queue if need be.
     */
    private boolean makeRoom(Sequence s, int tokens) {
        while (kv.blocksNeeded(s.blocks(), tokens) > kv.freeBlocks()) {
            if (!dropPausedAfter(s)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Frees the blocks of the youngest paused sequence queued after {@code s} (anywhere when null); it is
     * recomputed when admitted again. Returns false when there is none.
     */
    private boolean dropPausedAfter(Sequence s) {
        for (Iterator<Sequence> it = waiting.descendingIterator(); it.hasNext(); ) {
            Sequence w = it.next();
            if (w == s) {
                return false;
            }
            if (w.blocks().numBlocks() > 0) {
                kv.release(w.blocks());
                w.dropComputed();
                return true;
            }
        }
        return false;
    }

    private void startedRunning(String adapter) {
        if (adapter != null && runningByAdapter.merge(adapter, 1, Integer::sum) == 1) {
            heldSince.put(adapter, clock);
        }
    }

    private void stoppedRunning(String adapter) {
        if (adapter != null && runningByAdapter.merge(adapter, -1, Integer::sum) == 0) {
            runningByAdapter.remove(adapter);
            heldSince.remove(adapter);
        }
    }

    private void preempt(Sequence s) {
        running.remove(s);
        kv.release(s.blocks());
        s.resetComputed();
        if (s.adapter != null) {
            adapters.release(s.adapter);
        }
        stoppedRunning(s.adapter);
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
            stoppedRunning(s.adapter);
        } else {
            waiting.remove(s);
        }
        kv.release(s.blocks());
        s.slot(-1);
        s.status(Sequence.Status.FINISHED);
    }
}
