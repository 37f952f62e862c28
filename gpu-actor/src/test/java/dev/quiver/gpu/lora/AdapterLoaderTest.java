package dev.quiver.gpu.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.gpu.model.SafeTensorsException;
import dev.quiver.gpu.model.SafeTensorsFile;
import dev.quiver.gpu.model.SafeTensorsWriter;
import dev.quiver.gpu.model.TensorInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PEFT LoRA adapters checked against the base model before they may occupy a slot: a good adapter (written by
 * {@link ModelMaker#writeAdapter}) loads with its rank and scale; each way a real-world adapter can be unusable
 * — its adapter_config.json edited with Jackson, or its safetensors rewritten — is refused with a message
 * naming the problem.
 */
class AdapterLoaderTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String ID = "support-bot@3";
    static final int MAX_RANK = 64;

    /** The tiny base: hidden 64, 4 heads of 16, 2 kv heads, intermediate 176, 2 layers. */
    static final ModelConfig BASE = config(64, 4, 2, 16, 176, 2);

    static final String PREFIX = "base_model.model.model.layers.";

    @TempDir
    Path tmp;

    private int adapters;

    static ModelConfig config(int hidden, int heads, int kvHeads, int headDim, int intermediate, int layers) {
        return new ModelConfig("llama", 96, hidden, intermediate, layers, heads, kvHeads, headDim, 1e-5f, 10000.0,
                null, 512, false, false, List.of(1), List.of(2));
    }

    Path adapter(ModelConfig base, int rank, int alpha, boolean rsLora, LoraModule... targets) {
        Path dir = tmp.resolve("adapter-" + (adapters++));
        ModelMaker.writeAdapter(dir, base, new ModelMaker.AdapterSpec("a", rank, alpha, List.of(targets), rsLora),
                DType.F32, 7 + adapters);
        return dir;
    }

    /** A rank-8, alpha-16 adapter on q_proj and v_proj of the tiny base. */
    Path goodAdapter() {
        return adapter(BASE, 8, 16, false, LoraModule.Q, LoraModule.V);
    }

    static void editConfig(Path dir, Consumer<ObjectNode> edit) {
        try {
            Path file = dir.resolve("adapter_config.json");
            ObjectNode n = (ObjectNode) JSON.readTree(file.toFile());
            edit.accept(n);
            JSON.writeValue(file.toFile(), n);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    record Tensor(long[] shape, float[] values) {
    }

    /** Rewrites adapter_model.safetensors (as F32) after letting the test change its tensors, in order. */
    static void editWeights(Path dir, Consumer<Map<String, Tensor>> edit) {
        Path file = dir.resolve("adapter_model.safetensors");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            for (TensorInfo t : f.tensors().values()) {
                tensors.put(t.name(), new Tensor(t.shape(), f.readFloats(t.name())));
            }
        }
        edit.accept(tensors);
        SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
        tensors.forEach((name, t) -> w.add(name, DType.F32, t.values(), t.shape()));
        w.write(file);
    }

    static String name(int layer, LoraModule m, String ab) {
        return PREFIX + layer + "." + m.parent + "." + m.peftName + ".lora_" + ab + ".weight";
    }

    static LoraAdapter load(Path dir) {
        return AdapterLoader.load(dir, ID, BASE, MAX_RANK);
    }

    /** Loads expecting a refusal; checks the message names the adapter and each fragment, and returns it. */
    static AdapterRefusedException refused(Path dir, int maxRank, String... fragments) {
        AdapterRefusedException e = assertThrows(AdapterRefusedException.class,
                () -> AdapterLoader.load(dir, ID, BASE, maxRank));
        assertTrue(e.getMessage().startsWith("adapter '" + ID + "': "), e.getMessage());
        for (String s : fragments) {
            assertTrue(e.getMessage().contains(s), "expected '" + s + "' in: " + e.getMessage());
        }
        return e;
    }

    static AdapterRefusedException refused(Path dir, String... fragments) {
        return refused(dir, MAX_RANK, fragments);
    }

    // ---- adapters that load -------------------------------------------------------------------------------

    @Test
    void loads_adapter_with_its_rank_scale_and_weights_per_layer_and_module() {
        Path dir = goodAdapter();
        LoraAdapter a = load(dir);
        assertEquals(ID, a.id);
        assertEquals(8, a.rank);
        assertEquals(2.0f, a.scale, "lora_alpha / r = 16 / 8");
        assertEquals(2, a.numLayers());
        assertTrue(a.targets(LoraModule.Q));
        assertTrue(a.targets(LoraModule.V));
        for (LoraModule m : EnumSet.of(LoraModule.K, LoraModule.O, LoraModule.GATE, LoraModule.UP, LoraModule.DOWN)) {
            assertFalse(a.targets(m), m.peftName);
            assertNull(a.a(0, m));
        }
        try (SafeTensorsFile f = SafeTensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
            for (int l = 0; l < 2; l++) {
                for (LoraModule m : EnumSet.of(LoraModule.Q, LoraModule.V)) {
                    assertArrayEquals(f.readFloats(name(l, m, "A")), a.a(l, m), "A of layer " + l + " " + m);
                    assertArrayEquals(f.readFloats(name(l, m, "B")), a.b(l, m), "B of layer " + l + " " + m);
                }
            }
        }
        assertEquals(8 * 64, a.a(1, LoraModule.V).length, "A is [rank, in]");
        assertEquals(32 * 8, a.b(1, LoraModule.V).length, "B is [out, rank]: v_proj out = 2 kv heads x 16");
        assertEquals(4L * 2 * (8 * 64 + 64 * 8 + 8 * 64 + 32 * 8), a.bytes());
    }

    @Test
    void rslora_scale_is_alpha_over_the_square_root_of_rank() {
        LoraAdapter a = load(adapter(BASE, 16, 32, true, LoraModule.O));
        assertEquals(16, a.rank);
        assertEquals(8.0f, a.scale, "32 / sqrt(16), not 32 / 16");
    }

    @Test
    void scale_keeps_a_fractional_alpha() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("lora_alpha", 12.0));
        assertEquals(1.5f, load(dir).scale);
    }

    @Test
    void adapter_of_every_projection_loads_all_seven_modules() {
        LoraAdapter a = load(adapter(BASE, 4, 8, false, LoraModule.values()));
        for (LoraModule m : LoraModule.values()) {
            assertEquals(4 * m.in(BASE), a.a(1, m).length, m.peftName);
            assertEquals(m.out(BASE) * 4, a.b(1, m).length, m.peftName);
        }
        assertEquals(176 * 4, a.b(0, LoraModule.UP).length);
        assertEquals(4 * 176, a.a(0, LoraModule.DOWN).length);
    }

    @Test
    void rank_equal_to_the_limit_loads_and_one_over_is_refused() {
        Path dir = goodAdapter();
        assertEquals(8, AdapterLoader.load(dir, ID, BASE, 8).rank);
        refused(dir, 7, "rank 8 exceeds max-lora-rank 7");
    }

    @Test
    void target_modules_all_linear_means_every_projection() {
        Path dir = adapter(BASE, 4, 4, false, LoraModule.values());
        editConfig(dir, n -> n.put("target_modules", "all-linear"));
        LoraAdapter a = load(dir);
        for (LoraModule m : LoraModule.values()) {
            assertTrue(a.targets(m), m.peftName);
        }
    }

    @Test
    void target_modules_all_linear_with_weights_for_only_some_projections_is_refused() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("target_modules", "all-linear"));
        refused(dir, "target module k_proj is listed in adapter_config.json but has no weights");
    }

    @ParameterizedTest
    @ValueSource(strings = {".*\\.(q_proj|v_proj)", "model\\.layers\\.\\d+\\.self_attn\\.[qv]_proj", "[qv]_proj"})
    void target_modules_as_a_regex_selects_the_projections_it_matches(String regex) {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("target_modules", regex));
        AdapterLoader.AdapterConfig cfg = AdapterLoader.readConfig(dir, ID, MAX_RANK);
        assertEquals(EnumSet.of(LoraModule.Q, LoraModule.V), cfg.targets());
        assertTrue(load(dir).targets(LoraModule.V));
    }

    @Test
    void target_modules_regex_that_leaves_out_a_module_with_weights_is_refused() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("target_modules", ".*q_proj"));
        refused(dir, "tensor '" + name(0, LoraModule.V, "A") + "'", "target_modules does not list");
    }

    @Test
    void refuses_target_modules_regex_matching_no_projection() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("target_modules", ".*embed_tokens"));
        refused(dir, "target_modules regex '.*embed_tokens' matches no projection");
    }

    @Test
    void refuses_invalid_target_modules_regex() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("target_modules", "(q_proj"));
        refused(dir, "target_modules regex '(q_proj' is invalid");
    }

    @Test
    void accepts_tensor_names_carrying_the_default_adapter_name() {
        Path dir = goodAdapter();
        editWeights(dir, t -> {
            Map<String, Tensor> renamed = new LinkedHashMap<>();
            t.forEach((k, v) -> renamed.put(k.replace(".weight", ".default.weight"), v));
            t.clear();
            t.putAll(renamed);
        });
        LoraAdapter a = load(dir);
        assertTrue(a.targets(LoraModule.Q));
        assertTrue(a.targets(LoraModule.V));
    }

    // ---- refused by adapter_config.json -------------------------------------------------------------------

    @Test
    void refuses_peft_type_other_than_lora() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("peft_type", "IA3"));
        refused(dir, "peft_type 'IA3' is not supported");
    }

    @Test
    void refuses_dora() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("use_dora", true));
        refused(dir, "use_dora", "DoRA");
    }

    @Test
    void refuses_fan_in_fan_out_layout() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("fan_in_fan_out", true));
        refused(dir, "fan_in_fan_out");
    }

    @Test
    void refuses_modules_to_save() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.putArray("modules_to_save").add("lm_head"));
        refused(dir, "modules_to_save", "lm_head");
    }

    @Test
    void refuses_modules_to_save_given_as_a_single_name() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("modules_to_save", "lm_head"));
        refused(dir, "modules_to_save", "lm_head");
    }

    @Test
    void accepts_empty_modules_to_save() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.putArray("modules_to_save"));
        assertEquals(8, load(dir).rank);
    }

    @ParameterizedTest
    @ValueSource(strings = {"all", "lora_only"})
    void refuses_trained_biases(String bias) {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("bias", bias));
        refused(dir, "bias '" + bias + "' is not supported");
    }

    @Test
    void refuses_rank_pattern() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.putObject("rank_pattern").put("q_proj", 16));
        refused(dir, "rank_pattern", "q_proj");
    }

    @Test
    void refuses_alpha_pattern() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.putObject("alpha_pattern").put("v_proj", 32));
        refused(dir, "alpha_pattern");
    }

    @Test
    void accepts_empty_rank_and_alpha_patterns() {
        Path dir = goodAdapter();
        editConfig(dir, n -> {
            n.putObject("rank_pattern");
            n.putObject("alpha_pattern");
        });
        assertEquals(8, load(dir).rank);
    }

    @Test
    void refuses_rank_over_the_limit() {
        refused(adapter(BASE, 32, 32, false, LoraModule.Q), 16, "rank 32 exceeds max-lora-rank 16");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -8})
    void refuses_non_positive_rank(int r) {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("r", r));
        refused(dir, "rank r=" + r + " is invalid");
    }

    @ParameterizedTest
    @ValueSource(strings = {"embed_tokens", "lm_head", "qkv_proj"})
    void refuses_unknown_target_module(String module) {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.putArray("target_modules").add("q_proj").add(module));
        refused(dir, "target module '" + module + "' is not supported");
    }

    @Test
    void refuses_missing_target_modules() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.remove("target_modules"));
        refused(dir, "target_modules is missing");
    }

    @Test
    void refuses_config_that_is_not_json() throws IOException {
        Path dir = goodAdapter();
        Files.writeString(dir.resolve("adapter_config.json"), "{\"r\": 8,");
        refused(dir, "cannot read", "adapter_config.json");
    }

    // ---- refused by the weights ---------------------------------------------------------------------------

    @Test
    void refuses_declared_target_without_weights() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.putArray("target_modules").add("q_proj").add("v_proj").add("k_proj"));
        refused(dir, "target module k_proj is listed in adapter_config.json but has no weights");
    }

    @Test
    void refuses_weights_for_a_module_the_config_does_not_declare() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.putArray("target_modules").add("q_proj"));
        refused(dir, "tensor '" + name(0, LoraModule.V, "A") + "' is for v_proj",
                "adapter_config.json target_modules does not list");
    }

    @Test
    void refuses_layer_the_base_model_does_not_have() {
        Path dir = goodAdapter();
        editWeights(dir, t -> {
            t.put(name(2, LoraModule.Q, "A"), t.get(name(1, LoraModule.Q, "A")));
            t.put(name(2, LoraModule.Q, "B"), t.get(name(1, LoraModule.Q, "B")));
        });
        refused(dir, "tensor '" + name(2, LoraModule.Q, "A") + "' is for layer 2 but the base model has 2 layers");
    }

    @Test
    void refuses_layer_index_too_large_for_an_int() {
        Path dir = goodAdapter();
        String huge = PREFIX + "99999999999.self_attn.q_proj.lora_A.weight";
        editWeights(dir, t -> t.put(huge, t.get(name(1, LoraModule.Q, "A"))));
        refused(dir, "tensor '" + huge + "' is for layer 99999999999 but the base model has 2 layers");
    }

    @Test
    void refuses_adapter_trained_for_a_base_with_another_hidden_size() {
        Path dir = adapter(config(96, 4, 2, 24, 176, 2), 8, 16, false, LoraModule.Q, LoraModule.V);
        refused(dir, "tensor '" + name(0, LoraModule.Q, "A") + "' has shape [8, 96]", "needs [8, 64]",
                "different base model");
    }

    @Test
    void refuses_lora_b_whose_output_size_differs_from_the_base_projection() {
        // same hidden size, but 4 heads of 32: A matches ([8, 64]), B is [128, 8] where the base needs [64, 8]
        Path dir = adapter(config(64, 4, 2, 32, 176, 2), 8, 16, false, LoraModule.Q);
        refused(dir, "tensor '" + name(0, LoraModule.Q, "B") + "' has shape [128, 8]", "needs [64, 8]");
    }

    @Test
    void refuses_weights_whose_rank_differs_from_the_config() {
        Path dir = goodAdapter();
        editConfig(dir, n -> n.put("r", 4));
        refused(dir, "has shape [8, 64]", "at rank 4 needs [4, 64]");
    }

    @Test
    void refuses_lora_a_without_lora_b() {
        Path dir = goodAdapter();
        editWeights(dir, t -> t.remove(name(1, LoraModule.V, "B")));
        refused(dir, "layer 1 v_proj has lora_A without lora_B");
    }

    @Test
    void refuses_lora_b_without_lora_a() {
        Path dir = goodAdapter();
        editWeights(dir, t -> t.remove(name(0, LoraModule.Q, "A")));
        refused(dir, "layer 0 q_proj has lora_B without lora_A");
    }

    @ParameterizedTest
    @ValueSource(floats = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY})
    void refuses_non_finite_weights_naming_tensor_and_element(float bad) {
        Path dir = goodAdapter();
        String b = name(1, LoraModule.V, "B");
        editWeights(dir, t -> t.get(b).values()[37] = bad);
        refused(dir, "tensor '" + b + "' contains " + bad + " at element 37");
    }

    @Test
    void refuses_nan_in_a_half_precision_adapter() {
        Path dir = tmp.resolve("bf16");
        ModelMaker.writeAdapter(dir, BASE, new ModelMaker.AdapterSpec("a", 8, 16, List.of(LoraModule.Q), false),
                DType.BF16, 1);
        Path file = dir.resolve("adapter_model.safetensors");
        SafeTensorsWriter w = new SafeTensorsWriter();
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            for (TensorInfo t : f.tensors().values()) {
                float[] v = f.readFloats(t.name());
                if (t.name().equals(name(0, LoraModule.Q, "A"))) {
                    v[0] = Float.NaN;
                }
                w.add(t.name(), DType.BF16, v, t.shape());
            }
        }
        w.write(file);
        refused(dir, "tensor '" + name(0, LoraModule.Q, "A") + "' contains NaN at element 0");
    }

    @Test
    void refuses_dora_magnitude_vector() {
        Path dir = goodAdapter();
        editWeights(dir, t -> t.put(PREFIX + "0.self_attn.q_proj.lora_magnitude_vector",
                new Tensor(new long[] {64}, new float[64])));
        refused(dir, "lora_magnitude_vector", "DoRA");
    }

    @Test
    void refuses_trained_bias_tensor() {
        Path dir = goodAdapter();
        editWeights(dir, t -> t.put(PREFIX + "0.self_attn.q_proj.lora_B.bias", new Tensor(new long[] {64}, new float[64])));
        refused(dir, "lora_B.bias", "trained bias");
    }

    @Test
    void refuses_tensor_that_is_not_a_lora_weight_of_a_decoder_projection() {
        Path dir = goodAdapter();
        editWeights(dir, t -> t.put("base_model.model.lm_head.weight", new Tensor(new long[] {2}, new float[2])));
        refused(dir, "tensor 'base_model.model.lm_head.weight' is not a LoRA A/B weight");
    }

    @Test
    void refuses_weights_of_a_module_under_the_wrong_parent() {
        Path dir = goodAdapter();
        editWeights(dir, t -> {
            t.put(PREFIX + "0.mlp.q_proj.lora_A.weight", t.remove(name(0, LoraModule.Q, "A")));
        });
        refused(dir, "targets unknown module 'q_proj'");
    }

    @Test
    void refuses_pickled_weights_without_reading_them() throws IOException {
        Path dir = goodAdapter();
        Files.delete(dir.resolve("adapter_model.safetensors"));
        Files.write(dir.resolve("adapter_model.bin"), new byte[] {(byte) 0x80, 0x02, 'c', 'o', 's', '\n'});
        AdapterRefusedException e = refused(dir, "adapter_model.safetensors not found", "adapter_model.bin",
                "pickle", "never loaded", "safetensors");
        assertNull(e.getCause());
    }

    @Test
    void refuses_missing_weights_naming_the_file_and_no_pickle_hint() throws IOException {
        Path dir = goodAdapter();
        Files.delete(dir.resolve("adapter_model.safetensors"));
        AdapterRefusedException e = refused(dir, "adapter_model.safetensors not found in " + dir);
        assertFalse(e.getMessage().contains("pickle"), e.getMessage());
    }

    @Test
    void refuses_corrupt_safetensors_wrapping_the_file_problem() throws IOException {
        Path dir = goodAdapter();
        Path file = dir.resolve("adapter_model.safetensors");
        Files.write(file, "this is not a safetensors file".getBytes(StandardCharsets.US_ASCII));
        AdapterRefusedException e = refused(dir, file.toString(), "header length", "is invalid");
        SafeTensorsException cause = assertInstanceOf(SafeTensorsException.class, e.getCause());
        assertTrue(e.getMessage().endsWith(cause.getMessage()), e.getMessage());
    }

    @Test
    void refuses_safetensors_with_a_bad_tensor_entry_naming_the_tensor() throws IOException {
        Path dir = goodAdapter();
        Path file = dir.resolve("adapter_model.safetensors");
        String header = "{\"" + name(0, LoraModule.Q, "A") + "\":{\"dtype\":\"F32\",\"shape\":[8,64],"
                + "\"data_offsets\":[0,2048]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + h.length + 100).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Files.write(file, b.array());
        AdapterRefusedException e = refused(dir, "tensor '" + name(0, LoraModule.Q, "A") + "'", "out of bounds");
        assertInstanceOf(SafeTensorsException.class, e.getCause());
    }
}
