package dev.quiver.gpu.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.quiver.gpu.backend.cpu.CpuBackend;
import dev.quiver.gpu.backend.cpu.Q8BackendTestAccess;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.model.WeightFormat;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.testing.Collector;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code quiver.engine.weight-format}: read from config, refused when unknown, honoured by the engine; and
 * {@code weights-in-heap}, read beside it.
 */
class WeightFormatSettingsTest {
    static EngineSettings fromConfig(String value) {
        return EngineSettings.fromConfig(ConfigFactory.parseString("quiver.engine.weight-format = \"" + value + "\"")
                .withFallback(ConfigFactory.defaultReference()));
    }

    @Test
    void weight_format_defaults_to_native() {
        assertEquals(WeightFormat.NATIVE, EngineSettings.defaults().weightFormat());
        assertEquals(WeightFormat.NATIVE, new EngineSettings("cpu", 1, 1 << 20, 16, 4, 64, 0, 1, 1, 16, 8)
                .weightFormat());
    }

    @Test
    void q8_0_is_read_from_config_and_kept_by_every_with_method() {
        EngineSettings s = fromConfig("q8_0");
        assertEquals(WeightFormat.Q8_0, s.weightFormat());
        assertEquals(WeightFormat.Q8_0, s.withThreads(1).withBatch(2, 8).withLoras(1, 2).withKvCacheBytes(1 << 20)
                .withMinSlotSteps(2).withMaxWaiting(3).weightFormat());
        assertEquals(WeightFormat.NATIVE, s.withWeightFormat(WeightFormat.NATIVE).weightFormat());
    }

    @Test
    void weights_in_heap_defaults_to_on_is_read_from_config_and_kept_by_every_with_method() {
        assertTrue(EngineSettings.defaults().weightsInHeap());
        assertTrue(new EngineSettings("cpu", 1, 1 << 20, 16, 4, 64, 0, 1, 1, 16, 8).weightsInHeap());
        EngineSettings off = EngineSettings.fromConfig(ConfigFactory.parseString("quiver.engine.weights-in-heap = off")
                .withFallback(ConfigFactory.defaultReference()));
        assertTrue(!off.weightsInHeap());
        assertTrue(!off.withThreads(1).withBatch(2, 8).withLoras(1, 2).withKvCacheBytes(1 << 20).withMinSlotSteps(2)
                .withMaxWaiting(3).withWeightFormat(WeightFormat.Q8_0).weightsInHeap());
        assertTrue(off.withWeightsInHeap(true).weightsInHeap());
    }

    @Test
    void refuses_an_unknown_weight_format_naming_the_key_and_the_allowed_values() {
        ConfigException e = assertThrows(ConfigException.class, () -> fromConfig("q4_k"));
        assertTrue(e.getMessage().contains("quiver.engine.weight-format"), e.getMessage());
        assertTrue(e.getMessage().contains("q4_k") && e.getMessage().contains("native, q8_0"), e.getMessage());
    }

    @Test
    void the_cuda_backend_refuses_q8_0_naming_the_option() {
        Path model = Q8BackendTestAccess.model(DType.F32);
        EngineSettings s = EngineSettings.defaults().withThreads(1).withKvCacheBytes(4L << 20)
                .withWeightFormat(WeightFormat.Q8_0);
        EngineSettings cuda = new EngineSettings("cuda", s.threads(), s.kvCacheBytes(), s.blockSize(), s.maxNumSeqs(),
                s.maxBatchedTokens(), s.maxModelLen(), s.maxLoras(), s.maxCpuLoras(), s.maxLoraRank(), s.maxWaiting(),
                s.minSlotSteps(), WeightFormat.Q8_0);
        RuntimeException e = assertThrows(RuntimeException.class, () -> Engine.start(model, cuda, "q8-cuda").close());
        assertTrue(e.getMessage().contains("weight-format = q8_0") && e.getMessage().contains("cpu backend only"),
                e.getMessage());
    }

    /** The engine serves a q8_0 model, and its greedy tokens are those of the Q8_0 backend used directly. */
    @Test
    void an_engine_with_q8_0_serves_the_tokens_of_the_q8_0_backend() {
        Path model = Q8BackendTestAccess.model(DType.F32);
        EngineSettings s = EngineSettings.defaults().withThreads(2).withKvCacheBytes(4L << 20)
                .withWeightFormat(WeightFormat.Q8_0);
        int[] prompt = {1, 17, 42, 5, 88, 23, 61, 9};
        int steps = 6;
        List<Integer> served;
        try (Engine e = Engine.start(model, s, "q8-engine")) {
            Collector c = new Collector();
            e.submit(new GenerateRequest("q8", null, null, prompt,
                    new SamplingParams(steps, 0f, 1f, -1, 0, List.of(), 0, true)), c);
            c.await();
            assertNull(c.error);
            served = c.tokens;
        }
        try (ModelWeights w = ModelWeights.load(model);
             CpuBackend b = new CpuBackend(w, new CpuBackend.Settings(1, 16, 16, 1, WeightFormat.Q8_0))) {
            int[] expected = Q8BackendTestAccess.greedy(b, prompt, steps);
            assertEquals(steps, served.size());
            for (int i = 0; i < steps; i++) {
                assertEquals(expected[i], served.get(i), "token " + i);
            }
        }
    }
}
