package dev.quiver.gpu.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.testing.Collector;
import dev.quiver.gpu.testing.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The engine with more hot adapters than slots (4 adapters on 2 slots): requests of waiting adapters pause
 * running ones to rotate the slots, and every request still gives exactly the tokens and logprobs it gives
 * alone.
 */
class EngineSlotRotationTest {
    static final List<String> ADAPTERS = List.of("adapter-01", "adapter-02", "adapter-03", "adapter-04");

    static EngineSettings settings(int slots) {
        return EngineSettings.defaults().withThreads(2).withKvCacheBytes(8L << 20).withBatch(64, 64)
                .withLoras(slots, 8);
    }

    static Collector run(Engine e, String id, String adapter, int[] prompt, SamplingParams p) {
        Collector c = new Collector();
        e.submit(new GenerateRequest(id, adapter, null, prompt, p), c);
        return c;
    }

    static String adapterOf(int i) {
        return i % 5 == 4 ? null : ADAPTERS.get(i % 4);
    }

    static SamplingParams params(int i) {
        return new SamplingParams(12 + i % 9, 0.9f, 0.95f, 40, 100 + i, List.of(), 0, true);
    }

    @Test
    void min_slot_steps_below_one_is_refused_naming_the_setting() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> EngineSettings.defaults().withMinSlotSteps(0));
        assertTrue(e.getMessage().contains("quiver.engine.min-slot-steps"), e.getMessage());
        assertEquals(EngineSettings.DEFAULT_MIN_SLOT_STEPS, EngineSettings.defaults().minSlotSteps(),
                "reference.conf and the 11-argument constructor agree");
    }

    @Test
    void outputs_are_token_identical_to_running_each_request_alone_while_slots_rotate() {
        Path model = TinyModels.model(DType.F32);
        int n = 20;
        List<Collector> alone = new ArrayList<>();
        try (Engine e = Engine.start(model, settings(4), "rotation-alone")) {
            ADAPTERS.forEach(a -> e.registerAdapter(a, model.resolve("adapters").resolve(a)));
            for (int i = 0; i < n; i++) {
                alone.add(run(e, "alone-" + i, adapterOf(i), EngineTest.prompt(i, 5 + i * 2), params(i)).await());
            }
        }
        try (Engine e = Engine.start(model, settings(2), "rotation-batched")) {
            ADAPTERS.forEach(a -> e.registerAdapter(a, model.resolve("adapters").resolve(a)));
            List<Collector> batched = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                batched.add(run(e, "batched-" + i, adapterOf(i), EngineTest.prompt(i, 5 + i * 2), params(i)));
            }
            for (int i = 0; i < n; i++) {
                Collector b = batched.get(i).await();
                assertNull(b.error, "request " + i);
                assertNull(alone.get(i).error, "request " + i + " alone");
                assertEquals(params(i).maxTokens(), b.tokens.size(), "request " + i);
                assertEquals(alone.get(i).tokens, b.tokens, "request " + i + " tokens");
                assertEquals(alone.get(i).logprobs, b.logprobs, "request " + i + " logprobs, bit for bit");
            }
            assertTrue(e.slotRotationPauses().join() > 0, "the two slots rotated among the four adapters");
            EngineStatus st = e.status().join();
            assertEquals(st.totalKvBlocks(), st.freeKvBlocks(), "every block is free again");
        }
    }
}
