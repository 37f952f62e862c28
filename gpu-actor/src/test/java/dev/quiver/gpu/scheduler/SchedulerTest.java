package dev.quiver.gpu.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.kv.BlockAllocator;
import dev.quiver.gpu.kv.KvBlockManager;
import dev.quiver.gpu.sampling.SamplingParams;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SchedulerTest {
    static final int BLOCK = 4;

    /** Adapters listed in ready are in slots; any other is "loading". Counts references. */
    static final class FakeAdapters implements AdapterResidency {
        final Set<String> ready = new HashSet<>();
        final Map<String, Integer> refs = new HashMap<>();
        final Set<String> requested = new HashSet<>();

        @Override
        public int acquire(String a) {
            if (!ready.contains(a)) {
                requested.add(a);
                return -1;
            }
            refs.merge(a, 1, Integer::sum);
            return 0;
        }

        @Override
        public void release(String a) {
            refs.merge(a, -1, Integer::sum);
        }
    }

    static Sequence seq(String id, String adapter, int promptLen, int maxTokens) {
        int[] p = new int[promptLen];
        return new Sequence(id, adapter, p, SamplingParams.greedy(maxTokens), 0, 0, BLOCK);
    }

    static KvBlockManager kv(int blocks) {
        return new KvBlockManager(new BlockAllocator(blocks, BLOCK));
    }

    /** Simulates the engine's bookkeeping after a step: advance, and append a token where one is sampled. */
    static void complete(StepPlan plan) {
        for (StepPlan.Entry e : plan.entries()) {
            e.seq().advance(e.tokens());
            if (e.samples()) {
                e.seq().append(7);
            }
        }
    }

    @Test
    void chunks_a_long_prompt_under_the_token_budget() {
        Scheduler s = new Scheduler(new Scheduler.Settings(8, 10), kv(64), new FakeAdapters());
        Sequence a = seq("a", null, 25, 4);
        s.add(a);
        StepPlan p1 = s.schedule();
        assertEquals(10, p1.entries().get(0).tokens());
        assertFalse(p1.entries().get(0).samples(), "a partial prefill samples nothing");
        complete(p1);
        complete(s.schedule());
        StepPlan p3 = s.schedule();
        assertEquals(5, p3.entries().get(0).tokens());
        assertTrue(p3.entries().get(0).samples(), "the last chunk samples the first token");
    }

    @Test
    void decodes_running_sequences_and_admits_new_ones_in_the_same_step() {
        Scheduler s = new Scheduler(new Scheduler.Settings(8, 16), kv(64), new FakeAdapters());
        Sequence a = seq("a", null, 4, 4);
        s.add(a);
        complete(s.schedule());
        Sequence b = seq("b", null, 6, 4);
        s.add(b);
        StepPlan p = s.schedule();
        assertEquals(2, p.entries().size());
        assertEquals(a, p.entries().get(0).seq());
        assertEquals(1, p.entries().get(0).tokens(), "a running sequence decodes one token");
        assertEquals(6, p.entries().get(1).tokens());
    }

    @Test
    void a_sequence_whose_adapter_is_loading_waits_without_blocking_the_ones_behind_it() {
        FakeAdapters adapters = new FakeAdapters();
        adapters.ready.add("hot");
        Scheduler s = new Scheduler(new Scheduler.Settings(8, 64), kv(64), adapters);
        Sequence cold = seq("cold", "cold", 4, 4);
        Sequence hot = seq("hot", "hot", 4, 4);
        Sequence base = seq("base", null, 4, 4);
        s.add(cold);
        s.add(hot);
        s.add(base);
        StepPlan p = s.schedule();
        assertEquals(2, p.entries().size());
        assertEquals(Set.of(hot, base), Set.of(p.entries().get(0).seq(), p.entries().get(1).seq()));
        assertTrue(adapters.requested.contains("cold"), "the cold adapter's load was asked for");
        assertEquals(1, s.waitingCount());
        adapters.ready.add("cold");
        complete(p);
        StepPlan next = s.schedule();
        assertTrue(next.entries().stream().anyMatch(e -> e.seq() == cold), "admitted once its adapter is ready");
    }

    @Test
    void never_runs_more_than_max_running_sequences() {
        Scheduler s = new Scheduler(new Scheduler.Settings(3, 1000), kv(256), new FakeAdapters());
        for (int i = 0; i < 10; i++) {
            s.add(seq("s" + i, null, 3, 4));
        }
        StepPlan p = s.schedule();
        assertEquals(3, p.entries().size());
        assertEquals(7, s.waitingCount());
    }

    @Test
    void preempts_the_youngest_running_sequence_when_blocks_run_out_and_recomputes_it_later() {
        FakeAdapters adapters = new FakeAdapters();
        adapters.ready.add("x");
        // 4 blocks of 4 tokens: two sequences of 8 prompt tokens fill the cache exactly
        KvBlockManager kv = kv(4);
        Scheduler s = new Scheduler(new Scheduler.Settings(8, 64), kv, adapters);
        Sequence old = seq("old", null, 8, 8);
        Sequence young = seq("young", "x", 8, 8);
        s.add(old);
        s.add(young);
        complete(s.schedule());
        assertEquals(0, kv.freeBlocks());
        assertEquals(1, adapters.refs.get("x"));
        StepPlan p = s.schedule(); // old needs a 3rd block for position 8
        assertEquals(java.util.List.of(young), p.preempted());
        assertEquals(1, p.entries().size());
        assertEquals(old, p.entries().get(0).seq());
        assertEquals(0, young.computed(), "preempted: its KV is forgotten");
        assertEquals(9, young.uncomputed(), "prompt and the sampled token are recomputed");
        assertEquals(0, adapters.refs.get("x"), "its adapter reference is released");
        s.remove(old);
        StepPlan again = s.schedule();
        assertEquals(young, again.entries().get(0).seq());
        assertEquals(9, again.entries().get(0).tokens());
    }

    @Test
    void removing_a_sequence_frees_its_blocks_and_adapter_reference() {
        FakeAdapters adapters = new FakeAdapters();
        adapters.ready.add("x");
        KvBlockManager kv = kv(16);
        Scheduler s = new Scheduler(new Scheduler.Settings(8, 64), kv, adapters);
        Sequence a = seq("a", "x", 10, 4);
        s.add(a);
        complete(s.schedule());
        assertEquals(13, kv.freeBlocks());
        s.remove(a);
        assertEquals(16, kv.freeBlocks());
        assertEquals(0, adapters.refs.get("x"));
        assertFalse(s.hasWork());
    }
}
