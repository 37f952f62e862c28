package dev.quiver.gpu.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.bench.LogprobDrift;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.model.SafeTensorsFile;
import dev.quiver.gpu.model.SafeTensorsWriter;
import dev.quiver.gpu.model.TensorInfo;
import dev.quiver.gpu.model.WeightFormat;
import dev.quiver.gpu.model.WeightMatrix;
import dev.quiver.gpu.testing.ReferenceModel;
import dev.quiver.gpu.testing.TinyModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The CPU backend with {@code weight-format = q8_0}: the whole forward pass against the float64 reference on the
 * dequantised weights (base and adapters, F32 and BF16 files), batch invariance and chunked prefill bit for bit,
 * and the logprob drift from the same model in F32.
 */
class Q8BackendTest {
    /** The tiny test shape with an intermediate size that is a multiple of 32 (the usual 176 is not). */
    static final ModelMaker.Shape SHAPE = new ModelMaker.Shape(64, 192, 2, 4, 2, 96, 512, false, false);
    static final int[] PROMPT = CpuBackendReferenceTest.PROMPT;
    static final int BLOCK = CpuBackendReferenceTest.BLOCK;

    static Path model(DType dtype) {
        return TinyModels.model(dtype, SHAPE, ModelMaker.demoAdapters(4));
    }

    /** Adapters of the model in dir, in slot order. */
    static List<LoraAdapter> adapters(Path dir, ModelWeights w) {
        List<LoraAdapter> out = new ArrayList<>();
        for (ModelMaker.AdapterSpec s : ModelMaker.demoAdapters(4)) {
            out.add(AdapterLoader.load(dir.resolve("adapters").resolve(s.name()), s.name(), w.config, 64));
        }
        return out;
    }

    static CpuBackend backend(ModelWeights w, List<LoraAdapter> adapters, WeightFormat f, int threads) {
        CpuBackend b = new CpuBackend(w, new CpuBackend.Settings(threads, 64, BLOCK, 4, f));
        for (int i = 0; i < adapters.size(); i++) {
            b.loadSlot(i, adapters.get(i));
        }
        return b;
    }

    /**
     * The model with its projections and LM head replaced by their Q8_0 round trip, written as F32: what the
     * Q8_0 backend computes with, for the float64 reference.
     */
    static Path dequantisedCopy(Path dir) {
        try {
            Path out = Files.createTempDirectory("quiver-q8-dequantised-");
            out.toFile().deleteOnExit();
            Files.copy(dir.resolve("config.json"), out.resolve("config.json"));
            Map<String, float[]> replaced = new HashMap<>();
            try (ModelWeights w = ModelWeights.load(dir)) {
                List<WeightMatrix> ms = new ArrayList<>(List.of(w.lmHead));
                for (ModelWeights.Layer l : w.layers) {
                    for (LoraModule m : LoraModule.values()) {
                        ms.add(l.module(m.peftName));
                    }
                }
                for (WeightMatrix m : ms) {
                    replaced.put(m.name(), Q8Matrix.quantize(m).dequantize());
                }
            }
            SafeTensorsWriter writer = new SafeTensorsWriter();
            try (SafeTensorsFile f = SafeTensorsFile.open(dir.resolve("model.safetensors"))) {
                for (TensorInfo t : f.tensors().values()) {
                    float[] v = replaced.containsKey(t.name()) ? replaced.get(t.name()) : f.readFloats(t.name());
                    writer.add(t.name(), DType.F32, v, t.shape());
                }
            }
            writer.write(out.resolve("model.safetensors"));
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16"})
    void base_and_adapter_logits_match_float64_reference_on_the_dequantised_weights(DType dtype) {
        Path dir = model(dtype);
        try (ModelWeights w = ModelWeights.load(dir); ModelWeights dq = ModelWeights.load(dequantisedCopy(dir))) {
            List<LoraAdapter> adapters = adapters(dir, w);
            try (CpuBackend b = backend(w, adapters, WeightFormat.Q8_0, 2)) {
                int vocab = w.config.vocabSize();
                for (int slot = -1; slot < adapters.size(); slot++) {
                    double[][] ref = new ReferenceModel(dq, slot < 0 ? null : adapters.get(slot)).logits(PROMPT);
                    float[] got = CpuBackendReferenceTest.prefillAllRows(b, PROMPT, slot);
                    for (int t = 0; t < PROMPT.length; t++) {
                        CpuBackendReferenceTest.assertClose(ref[t], got, t * vocab, dtype + " slot " + slot
                                + " position " + t);
                        assertEquals(ReferenceModel.argmax(ref[t]), CpuBackendReferenceTest.argmax(
                                Arrays.copyOfRange(got, t * vocab, (t + 1) * vocab)), "greedy token, slot " + slot);
                    }
                }
            }
        }
    }

    @Test
    void a_sequence_gives_the_same_bits_alone_and_in_a_batch_with_other_adapters_and_lengths() {
        Path dir = model(DType.F32);
        try (ModelWeights w = ModelWeights.load(dir)) {
            List<LoraAdapter> adapters = adapters(dir, w);
            try (CpuBackend b = backend(w, adapters, WeightFormat.Q8_0, 2)) {
                int vocab = w.config.vocabSize();
                int[][] prompts = {{1, 5, 9}, {1, 17, 42, 5, 88, 23, 61}, {1, 2}, {1, 30, 77, 14, 3, 8}};
                int[] slotOf = {-1, 0, 2, 3};
                float[][] alone = new float[prompts.length][];
                for (int s = 0; s < prompts.length; s++) {
                    float[] all = CpuBackendReferenceTest.prefillAllRows(b, prompts[s], slotOf[s]);
                    alone[s] = Arrays.copyOfRange(all, (prompts[s].length - 1) * vocab, prompts[s].length * vocab);
                }
                float[][] batched = CpuBackendReferenceTest.lastLogits(b, prompts, slotOf);
                for (int s = 0; s < prompts.length; s++) {
                    VectorKernelsDifferentialTest.assertBitsEqual(alone[s], batched[s], "sequence " + s);
                }
            }
        }
    }

    @Test
    void chunked_prefill_and_cached_decode_give_the_bits_of_one_prefill() {
        Path dir = model(DType.F32);
        try (ModelWeights w = ModelWeights.load(dir)) {
            List<LoraAdapter> adapters = adapters(dir, w);
            try (CpuBackend b = backend(w, adapters, WeightFormat.Q8_0, 2)) {
                int vocab = w.config.vocabSize();
                int n = PROMPT.length;
                float[] whole = CpuBackendReferenceTest.prefillAllRows(b, PROMPT, 1);
                int[] table = CpuBackendReferenceTest.blocks(0, n);
                for (int split : new int[] {1, 5, n - 1}) {
                    float[] first = new float[vocab];
                    float[] rest = new float[vocab];
                    CpuBackendReferenceTest.forwardRange(b, PROMPT, 0, split, table, 1, first);
                    CpuBackendReferenceTest.forwardRange(b, PROMPT, split, n, table, 1, rest);
                    VectorKernelsDifferentialTest.assertBitsEqual(Arrays.copyOfRange(whole, (split - 1) * vocab,
                            split * vocab), first, "first chunk of " + split + ", its last position");
                    VectorKernelsDifferentialTest.assertBitsEqual(Arrays.copyOfRange(whole, (n - 1) * vocab,
                            n * vocab), rest, "after a chunk of " + split + (split == n - 1 ? " (one decode step)" : ""));
                }
            }
        }
    }

    @Test
    void refuses_q8_0_for_a_model_whose_rows_are_not_a_multiple_of_32_naming_the_tensor() {
        try (ModelWeights w = ModelWeights.load(TinyModels.model(DType.F32))) {
            assertEquals(176, w.config.intermediateSize());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new CpuBackend(w, new CpuBackend.Settings(1, 16, BLOCK, 1, WeightFormat.Q8_0)));
            assertTrue(e.getMessage().contains("mlp.down_proj.weight") && e.getMessage().contains("multiple of 32"),
                    e.getMessage());
        }
    }

    /**
     * Accuracy against the same model in F32 on fixed prompts. Measured on this tiny random model (4 prompts × 48
     * positions): top-1 agreement 98.4 %, |Δ logprob| of F32's top token mean 0.0079 / max 0.029, max |Δ logprob|
     * over the vocabulary 0.047, mean KL 5.3e-5 nats; the bounds leave about 3x headroom.
     */
    @Test
    void logprob_drift_from_f32_stays_small() {
        Path dir = model(DType.F32);
        try (ModelWeights w = ModelWeights.load(dir)) {
            List<LoraAdapter> none = List.of();
            try (CpuBackend f32 = backend(w, none, WeightFormat.NATIVE, 2);
                 CpuBackend q8 = backend(w, none, WeightFormat.Q8_0, 2)) {
                LogprobDrift d = LogprobDrift.measure(f32, q8, LogprobDrift.prompts(4, 48, w.config.vocabSize(), 11));
                System.out.println("q8_0 vs f32 on the tiny model " + d);
                assertEquals(4 * 48, d.positions());
                assertTrue(d.meanAbsChosen() < 0.025, d.toString());
                assertTrue(d.maxAbsChosen() < 0.1, d.toString());
                assertTrue(d.maxAbs() < 0.15, d.toString());
                assertTrue(d.meanKl() < 2e-4, d.toString());
                assertTrue(d.top1Agreement() >= 0.9, d.toString());
                assertTrue(d.meanAbsChosen() > 0, "q8_0 must differ from f32 at all: " + d);
            }
        }
    }
}
