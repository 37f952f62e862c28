package dev.quiver.gpu.scheduler;

import static dev.quiver.gpu.scheduler.SchedulerTest.kv;
import static dev.quiver.gpu.scheduler.SchedulerTest.seq;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.kv.KvBlockManager;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * Admission with more hot adapters than slots: requests are grouped by resident adapter, a slot is never given
 * away before the requests admitted to it ran, and an adapter waiting for a slot gets one in a bounded number of
 * steps however requests arrive.
 */
class SlotRotationTest {

    /**
     * An adapter cache with a fixed number of slots, evicting the least recently used slot that no sequence
     * references and nobody pinned. Adapters in {@code host} go into a slot at once; any other is "loading"
     * (its load is recorded) until the test puts it in {@code host}.
     */
    static final class Slots implements AdapterResidency {
        final String[] key;
        final int[] refs;
        final long[] used;
        long clock;
        final Set<String> host = new HashSet<>();
        final Set<String> pinned = new HashSet<>();
        final List<String> loadsAsked = new ArrayList<>();
        final List<String> evictions = new ArrayList<>();
        Consumer<String> beforeEviction = a -> { };

        Slots(int n, String... inHost) {
            key = new String[n];
            refs = new int[n];
            used = new long[n];
            host.addAll(List.of(inHost));
        }

        int indexOf(String a) {
            for (int i = 0; i < key.length; i++) {
                if (a.equals(key[i])) {
                    return i;
                }
            }
            return -1;
        }

        @Override
        public int acquire(String a) {
            return acquire(a, k -> true);
        }

        @Override
        public int acquire(String a, Predicate<String> mayEvict) {
            int i = indexOf(a);
            if (i < 0) {
                if (!host.contains(a)) {
                    loadsAsked.add(a);
                    return -1;
                }
                i = take(mayEvict);
                if (i < 0) {
                    return -1;
                }
                key[i] = a;
            }
            refs[i]++;
            used[i] = ++clock;
            return i;
        }

        private int take(Predicate<String> mayEvict) {
            int victim = -1;
            for (int i = 0; i < key.length; i++) {
                if (key[i] == null) {
                    return i;
                }
                if (evictable(i, mayEvict) && (victim < 0 || used[i] < used[victim])) {
                    victim = i;
                }
            }
            if (victim >= 0) {
                beforeEviction.accept(key[victim]);
                evictions.add(key[victim]);
                key[victim] = null;
            }
            return victim;
        }

        @Override
        public void release(String a) {
            int i = indexOf(a);
            if (i < 0 || refs[i] == 0) {
                throw new IllegalStateException("release of " + a + " without a reference");
            }
            refs[i]--;
        }

        @Override
        public boolean isReady(String a) {
            return indexOf(a) >= 0;
        }

        @Override
        public boolean isStaged(String a) {
            return indexOf(a) < 0 && host.contains(a);
        }

        private boolean evictable(int i, Predicate<String> mayEvict) {
            return refs[i] == 0 && !pinned.contains(key[i]) && mayEvict.test(key[i]);
        }

        @Override
        public int freeSlots(Predicate<String> mayEvict) {
            int n = 0;
            for (int i = 0; i < key.length; i++) {
                if (key[i] == null || evictable(i, mayEvict)) {
                    n++;
                }
            }
            return n;
        }

        @Override
        public boolean isEvictable(String a) {
            return !pinned.contains(a);
        }

        /** Puts the adapter in a slot with no reference, as a finished request leaves it. */
        void resident(String a) {
            host.add(a);
            acquire(a);
            release(a);
        }
    }

    /** Runs a step as the engine would: advance, sample where due, and finish sequences at max_tokens. */
    static StepPlan step(Scheduler s) {
        StepPlan plan = s.schedule();
        SchedulerTest.complete(plan);
        for (StepPlan.Entry e : plan.entries()) {
            if (e.seq().outputLength() >= e.seq().params.maxTokens()) {
                s.remove(e.seq());
            }
        }
        return plan;
    }

    static boolean runs(StepPlan p, Sequence s) {
        return p.entries().stream().anyMatch(e -> e.seq() == s);
    }

    static Scheduler scheduler(int maxRunning, int budget, KvBlockManager kv, Slots slots, int minSlotSteps) {
        return new Scheduler(new Scheduler.Settings(maxRunning, budget, 8, minSlotSteps), kv, slots);
    }

    @Test
    void requests_for_resident_adapters_go_ahead_of_older_ones_waiting_for_an_adapter_to_load() {
        Slots slots = new Slots(2);
        slots.resident("a");
        slots.resident("b");
        Scheduler s = scheduler(8, 64, kv(64), slots, 1);
        Sequence cold = seq("cold", "c", 4, 4);
        Sequence a1 = seq("a1", "a", 4, 4);
        Sequence b1 = seq("b1", "b", 4, 4);
        Sequence a2 = seq("a2", "a", 4, 4);
        for (Sequence q : List.of(cold, a1, b1, a2)) {
            s.add(q);
        }
        StepPlan p = step(s);
        assertEquals(List.of(a1, b1, a2), p.entries().stream().map(StepPlan.Entry::seq).toList(),
                "every request of a resident adapter runs, ahead of the older one whose adapter is loading");
        assertEquals(List.of("c"), slots.loadsAsked, "the cold adapter's load was started");
        assertEquals(List.of(), slots.evictions, "no resident adapter lost its slot to a load still on disk");
        slots.host.add("c");
        StepPlan next = step(s);
        assertTrue(runs(next, cold), "loaded, the cold adapter rotates in once a resident one has run a step");
        assertEquals(1, slots.evictions.size());
    }

    @Test
    void requests_waiting_for_a_resident_adapter_keep_its_slot_from_an_adapter_behind_them() {
        Slots slots = new Slots(1, "b");
        slots.resident("a");
        Scheduler s = scheduler(8, 64, kv(64), slots, 1);
        Sequence a1 = seq("a1", "a", 4, 4);
        Sequence b1 = seq("b1", "b", 4, 4);
        s.add(a1);
        s.add(b1);
        StepPlan p = step(s);
        assertEquals(List.of(a1), p.entries().stream().map(StepPlan.Entry::seq).toList());
        assertEquals(List.of(), slots.evictions, "b was behind a1: a's slot stays until a1 ran");
    }

    @Test
    void a_slot_is_not_given_to_another_adapter_before_its_admitted_requests_ran_a_step() {
        Slots slots = new Slots(1, "a", "b");
        // a budget of 4 tokens: a1's 8-token prompt takes two steps before its first token
        Scheduler s = scheduler(8, 4, kv(64), slots, 1);
        Sequence a1 = seq("a1", "a", 8, 100);
        s.add(a1);
        step(s);
        Sequence b1 = seq("b1", "b", 2, 4);
        s.add(b1);
        StepPlan second = step(s);
        assertTrue(runs(second, a1), "a1 finishes its prefill");
        assertFalse(runs(second, b1), "b1 waits: a1 had not sampled its first token");
        assertEquals(List.of(), slots.evictions);
        assertEquals(1, a1.outputLength());
        StepPlan third = step(s);
        assertTrue(runs(third, b1), "a1 ran: the slot rotates to b");
        assertFalse(runs(third, a1), "a1 is paused, not preempted");
        assertEquals(List.of("a"), slots.evictions);
        assertEquals(8, a1.computed(), "a1 keeps its KV while paused");
        assertEquals(1, s.pauses());
    }

    @Test
    void a_slot_rotates_only_after_its_requests_ran_the_minimum_steps() {
        Slots slots = new Slots(1, "a", "b");
        Scheduler s = scheduler(8, 64, kv(64), slots, 3);
        Sequence a1 = seq("a1", "a", 4, 100);
        s.add(a1);
        s.add(seq("b1", "b", 4, 4));
        List<Integer> aOutputAtEviction = new ArrayList<>();
        slots.beforeEviction = victim -> aOutputAtEviction.add(a1.outputLength());
        for (int i = 0; i < 5 && slots.evictions.isEmpty(); i++) {
            step(s);
        }
        assertEquals(List.of(3), aOutputAtEviction, "a1 ran 3 steps (3 tokens) before a gave up its slot");
    }

    @Test
    void pinned_adapters_are_never_paused() {
        Slots slots = new Slots(1, "a", "b");
        slots.pinned.add("a");
        Scheduler s = scheduler(8, 64, kv(64), slots, 1);
        Sequence a1 = seq("a1", "a", 4, 6);
        Sequence b1 = seq("b1", "b", 4, 2);
        s.add(a1);
        s.add(b1);
        for (int i = 0; i < 6; i++) {
            assertFalse(runs(step(s), b1));
        }
        assertEquals(0, s.pauses());
        assertEquals(List.of(), slots.evictions);
    }

    @Test
    void paused_sequences_give_up_their_kv_before_a_running_one_is_preempted() {
        Slots slots = new Slots(1, "a", "b");
        // 4 blocks of 4 tokens: a1 holds 2 (8 tokens), b1 takes the other 2 and then needs a third
        KvBlockManager kv = kv(4);
        Scheduler s = scheduler(8, 64, kv, slots, 1);
        Sequence a1 = seq("a1", "a", 8, 3);
        s.add(a1);
        step(s); // a1: 8 prompt tokens, first token sampled
        Sequence b1 = seq("b1", "b", 8, 4);
        s.add(b1);
        StepPlan p = step(s); // a1 paused with its 8 computed tokens, b1 admitted
        assertTrue(runs(p, b1));
        assertEquals(Sequence.Status.WAITING, a1.status());
        assertEquals(2, a1.blocks().numBlocks(), "paused with its KV");
        StepPlan grow = step(s); // b1 decodes position 8: a third block, and only a1's are taken
        assertTrue(runs(grow, b1));
        assertEquals(List.of(), grow.preempted(), "no running sequence was preempted");
        assertEquals(0, a1.blocks().numBlocks(), "the paused sequence gave its blocks");
        assertEquals(0, a1.computed());
        assertEquals(1, a1.outputLength(), "its output so far is kept and recomputed later");
        for (int i = 0; i < 10 && a1.status() != Sequence.Status.FINISHED; i++) {
            step(s);
        }
        assertEquals(Sequence.Status.FINISHED, a1.status());
        assertEquals(Sequence.Status.FINISHED, b1.status());
        assertEquals(3, a1.outputLength());
        assertEquals(4, kv.freeBlocks(), "every block is free again");
    }

    /**
     * The adversary: two slots, every step a new long request for each adapter in a slot (so a scheduler that
     * prefers resident adapters without a bound would keep them forever), and now and then a request for one of
     * many other adapters. Every request must get its first token within a bounded number of steps.
     */
    @Test
    void no_adapter_starves_under_adversarial_arrivals_every_request_gets_its_first_token_in_bounded_steps() {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            names.add("ad-" + i);
        }
        Slots slots = new Slots(2, names.toArray(String[]::new));
        Scheduler s = scheduler(64, 256, kv(4096), slots, 1);
        SplittableRandom rng = new SplittableRandom(7);
        Map<Sequence, Integer> arrivedAt = new HashMap<>();
        Map<Sequence, Integer> firstTokenAt = new HashMap<>();
        List<String> invariantBreaks = new ArrayList<>();
        List<Sequence> all = new ArrayList<>();
        Map<Sequence, Integer> outputAtAdmission = new HashMap<>();
        int id = 0;
        int steps = 400;
        for (int t = 0; t < steps; t++) {
            List<String> resident = new ArrayList<>();
            for (String k : slots.key) {
                if (k != null) {
                    resident.add(k);
                }
            }
            List<Sequence> arrivals = new ArrayList<>();
            if (t < steps - 100) {
                for (String r : resident) {
                    arrivals.add(seq("r" + id++, r, 4 + rng.nextInt(12), 60));
                }
                if (rng.nextInt(3) == 0) {
                    arrivals.add(seq("c" + id++, names.get(rng.nextInt(names.size())), 4 + rng.nextInt(12), 20));
                }
            }
            for (Sequence q : arrivals) {
                s.add(q);
                all.add(q);
                arrivedAt.put(q, t);
            }
            List<Sequence> before = s.running();
            StepPlan plan = s.schedule();
            for (Sequence q : before) {
                // paused: it left the batch without being preempted for KV
                if (q.status() == Sequence.Status.WAITING && !plan.preempted().contains(q)
                        && (q.stepsSinceAdmission() < 1 || q.outputLength() <= outputAtAdmission.get(q))) {
                    invariantBreaks.add(q.id + " paused at step " + t + " before it ran and sampled");
                }
            }
            for (StepPlan.Entry e : plan.entries()) {
                if (!before.contains(e.seq())) {
                    outputAtAdmission.put(e.seq(), e.seq().outputLength());
                }
            }
            SchedulerTest.complete(plan);
            for (StepPlan.Entry e : plan.entries()) {
                if (e.seq().outputLength() >= e.seq().params.maxTokens()) {
                    s.remove(e.seq());
                }
            }
            for (Sequence q : all) {
                if (q.outputLength() > 0) {
                    firstTokenAt.putIfAbsent(q, t);
                }
            }
        }
        assertEquals(List.of(), invariantBreaks, "a slot was given away before its requests ran");
        int worst = 0;
        for (Sequence q : all) {
            assertTrue(firstTokenAt.containsKey(q), q.id + " (adapter " + q.adapter + ") never got a first token");
            worst = Math.max(worst, firstTokenAt.get(q) - arrivedAt.get(q));
        }
        // NOTE: adapters get slots in FIFO order of their first waiting request, so ahead of any request are at
        // most the 12 adapters; each holds its slot until its admitted requests sampled a token (a step or two,
        // more when recomputing KV given up under pressure takes several prefill chunks). Without rotation
        // the two resident adapters, fed every step, would keep their slots and the others would never run.
        assertTrue(worst <= 4 * names.size(), "worst wait for a first token was " + worst + " steps");
        assertTrue(s.pauses() > 0, "slots rotated");
    }

    @Test
    void only_the_first_adapters_in_line_start_loading() {
        Slots slots = new Slots(2);
        Scheduler s = new Scheduler(new Scheduler.Settings(8, 64, 2, 1), kv(64), slots);
        for (String a : List.of("c1", "c2", "c1", "c3", "c4")) {
            s.add(seq(a + "-" + s.waitingCount(), a, 4, 4));
        }
        step(s);
        assertEquals(List.of("c1", "c2"), slots.loadsAsked, "the host tier is not churned by far-away loads");
        slots.host.addAll(List.of("c1", "c2"));
        slots.loadsAsked.clear();
        step(s); // c1 and c2 take the two slots
        assertEquals(List.of(), slots.loadsAsked);
        step(s);
        assertEquals(List.of("c3", "c4"), slots.loadsAsked, "the next ones start once the first are admitted");
    }

    @Test
    void settings_refuse_a_minimum_of_zero_steps_naming_it() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Scheduler.Settings(8, 64, 8, 0));
        assertTrue(e.getMessage().contains("minSlotSteps"), e.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Scheduler.Settings(8, 64, 0, 1))
                .getMessage().contains("adapterLookahead"));
    }
}
