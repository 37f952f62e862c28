package dev.quiver.gpu.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.testing.TinyModels;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A CPU slot reuses its A buffer for the next adapter loaded there, and an adapter's transposed B is kept with its
 * host copy: neither may change what any adapter computes.
 */
class CpuSlotReloadTest {

    @Test
    void a_slot_loaded_with_one_adapter_after_another_computes_each_as_a_fresh_backend_does() {
        CpuBackendReferenceTest.Loaded m = CpuBackendReferenceTest.load(TinyModels.model(DType.F32), 2);
        // the demo adapters differ in rank and targets, so the slot's buffer is reused both larger and smaller
        int[] order = {3, 0, 2, 1, 3, 1};
        for (int next : order) {
            LoraAdapter a = m.adapters().get(next);
            m.backend().loadSlot(0, a);
            float[] reused = CpuBackendReferenceTest.prefillAllRows(m.backend(), CpuBackendReferenceTest.PROMPT, 0);
            float[] fresh;
            try (CpuBackend f = new CpuBackend(m.weights(), new CpuBackend.Settings(2, 64,
                    CpuBackendReferenceTest.BLOCK, 1))) {
                f.loadSlot(0, a);
                fresh = CpuBackendReferenceTest.prefillAllRows(f, CpuBackendReferenceTest.PROMPT, 0);
            }
            assertArrayEquals(fresh, reused, "adapter " + a.id + " in a reused slot");
        }
        float[] base = CpuBackendReferenceTest.prefillAllRows(m.backend(), CpuBackendReferenceTest.PROMPT, -1);
        float[] adapted = CpuBackendReferenceTest.prefillAllRows(m.backend(), CpuBackendReferenceTest.PROMPT, 0);
        assertNotEquals(Arrays.hashCode(base), Arrays.hashCode(adapted), "the slot's adapter changes the logits");
        m.backend().close();
    }
}
