package dev.quiver.gpu.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.quiver.gpu.lora.LoraModule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Base-model weights loaded from Hugging Face layout — one model.safetensors or shards listed in
 * model.safetensors.index.json — and checked tensor by tensor against config.json.
 */
class ModelWeightsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final ModelMaker.Shape TINY = ModelMaker.Shape.tiny(96); // hidden 64, 4 heads, 2 kv heads, 2 layers

    @TempDir
    Path tmp;

    /** A tensor read back as floats, to rewrite a file with changes. */
    record Tensor(DType dtype, long[] shape, float[] values) {
    }

    static Map<String, Tensor> readAll(Path file) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            for (TensorInfo t : f.tensors().values()) {
                out.put(t.name(), new Tensor(t.dtype(), t.shape(), f.readFloats(t.name())));
            }
        }
        return out;
    }

    static void writeAll(Path file, Map<String, Tensor> tensors) {
        SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
        tensors.forEach((name, t) -> w.add(name, t.dtype(), t.values(), t.shape()));
        w.write(file);
    }

    /** Rewrites dir/model.safetensors after letting the test change its tensors. */
    static void editWeights(Path dir, Consumer<Map<String, Tensor>> edit) {
        Path file = dir.resolve("model.safetensors");
        Map<String, Tensor> t = readAll(file);
        edit.accept(t);
        writeAll(file, t);
    }

    static void editConfig(Path dir, Consumer<ObjectNode> edit) throws IOException {
        Path file = dir.resolve("config.json");
        ObjectNode n = (ObjectNode) JSON.readTree(file.toFile());
        edit.accept(n);
        JSON.writeValue(file.toFile(), n);
    }

    Path model(String name, ModelMaker.Shape shape, DType dtype) {
        Path dir = tmp.resolve(name);
        ModelMaker.writeModel(dir, shape, dtype, 42, 1, 2);
        return dir;
    }

    /** Writes shards of {@code tensors} into dir, the first {@code split} tensors in the first shard, plus the index. */
    static void writeSharded(Path dir, Map<String, Tensor> tensors, int split, Map<String, String> extraIndexEntries)
            throws IOException {
        List<String> names = new ArrayList<>(tensors.keySet());
        String[] shards = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
        Map<String, Tensor> first = new LinkedHashMap<>(), second = new LinkedHashMap<>();
        Map<String, String> weightMap = new LinkedHashMap<>();
        long total = 0;
        for (int i = 0; i < names.size(); i++) {
            Tensor t = tensors.get(names.get(i));
            (i < split ? first : second).put(names.get(i), t);
            weightMap.put(names.get(i), shards[i < split ? 0 : 1]);
            total += (long) t.values().length * t.dtype().size();
        }
        weightMap.putAll(extraIndexEntries);
        writeAll(dir.resolve(shards[0]), first);
        writeAll(dir.resolve(shards[1]), second);
        writeIndex(dir, weightMap, total);
    }

    static void writeIndex(Path dir, Map<String, String> weightMap, long totalSize) throws IOException {
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("metadata", Map.of("total_size", totalSize));
        index.put("weight_map", weightMap);
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("model.safetensors.index.json").toFile(), index);
    }

    static void assertMatrixIs(float[] expected, WeightMatrix m) {
        assertEquals(expected.length, m.rows() * m.cols(), m.name());
        for (int r = 0; r < m.rows(); r++) {
            for (int c = 0; c < m.cols(); c++) {
                float e = expected[r * m.cols() + c];
                if (Float.floatToRawIntBits(e) != Float.floatToRawIntBits(m.get(r, c))) {
                    assertEquals(e, m.get(r, c), m.name() + " at (" + r + ", " + c + ")");
                }
            }
        }
    }

    static void assertSameWeights(ModelWeights a, ModelWeights b) {
        assertEquals(a.config, b.config);
        assertEquals(a.dtype, b.dtype);
        assertMatrixIs(dense(a.embedding), b.embedding);
        assertMatrixIs(dense(a.lmHead), b.lmHead);
        assertArrayEquals(a.finalNorm, b.finalNorm);
        for (int l = 0; l < a.layers.length; l++) {
            assertArrayEquals(a.layers[l].attnNorm(), b.layers[l].attnNorm(), "layer " + l);
            assertArrayEquals(a.layers[l].mlpNorm(), b.layers[l].mlpNorm(), "layer " + l);
            for (LoraModule m : LoraModule.values()) {
                assertMatrixIs(dense(a.layers[l].module(m.peftName)), b.layers[l].module(m.peftName));
            }
        }
    }

    static float[] dense(WeightMatrix m) {
        float[] out = new float[m.rows() * m.cols()];
        for (int r = 0; r < m.rows(); r++) {
            m.row(r, out, r * m.cols());
        }
        return out;
    }

    // ---- loading ------------------------------------------------------------------------------------------

    @Test
    void loads_single_file_model_with_every_projection_from_its_named_tensor() {
        Path dir = model("single", TINY, DType.BF16);
        Map<String, Tensor> file = readAll(dir.resolve("model.safetensors"));
        try (ModelWeights w = ModelWeights.load(dir)) {
            ModelConfig c = w.config;
            assertEquals(64, c.hiddenSize());
            assertEquals(2, c.numLayers());
            assertEquals(DType.BF16, w.dtype);
            assertEquals(2, w.layers.length);
            assertEquals(96, w.embedding.rows());
            assertEquals(64, w.embedding.cols());
            assertNotSame(w.embedding, w.lmHead);
            assertMatrixIs(file.get("model.embed_tokens.weight").values(), w.embedding);
            assertMatrixIs(file.get("lm_head.weight").values(), w.lmHead);
            assertArrayEquals(file.get("model.norm.weight").values(), w.finalNorm);
            for (int l = 0; l < 2; l++) {
                ModelWeights.Layer layer = w.layers[l];
                String p = "model.layers." + l + ".";
                assertArrayEquals(file.get(p + "input_layernorm.weight").values(), layer.attnNorm());
                assertArrayEquals(file.get(p + "post_attention_layernorm.weight").values(), layer.mlpNorm());
                for (LoraModule m : LoraModule.values()) {
                    WeightMatrix wm = layer.module(m.peftName);
                    assertEquals(p + m.parent + "." + m.peftName + ".weight", wm.name());
                    assertEquals(m.out(c), wm.rows(), wm.name());
                    assertEquals(m.in(c), wm.cols(), wm.name());
                    assertMatrixIs(file.get(wm.name()).values(), wm);
                }
                assertNull(layer.qBias());
            }
            assertEquals(32, w.layers[0].k().rows(), "grouped-query k: 2 kv heads of 16");
        }
    }

    @Test
    void loads_qkv_biases_of_a_qwen2_model() {
        Path dir = model("qwen", TINY.withQkvBias(true), DType.F32);
        Map<String, Tensor> file = readAll(dir.resolve("model.safetensors"));
        try (ModelWeights w = ModelWeights.load(dir)) {
            assertTrue(w.config.qkvBias());
            assertArrayEquals(file.get("model.layers.1.self_attn.q_proj.bias").values(), w.layers[1].qBias());
            assertArrayEquals(file.get("model.layers.1.self_attn.k_proj.bias").values(), w.layers[1].kBias());
            assertArrayEquals(file.get("model.layers.1.self_attn.v_proj.bias").values(), w.layers[1].vBias());
            assertEquals(32, w.layers[1].vBias().length);
        }
    }

    @Test
    void sharded_model_gives_the_same_weights_as_the_single_file() throws IOException {
        Path single = model("single", TINY, DType.BF16);
        Path sharded = tmp.resolve("sharded");
        Files.createDirectories(sharded);
        Files.copy(single.resolve("config.json"), sharded.resolve("config.json"));
        Map<String, Tensor> tensors = readAll(single.resolve("model.safetensors"));
        writeSharded(sharded, tensors, tensors.size() / 2, Map.of());
        assertTrue(Files.notExists(sharded.resolve("model.safetensors")));
        try (ModelWeights a = ModelWeights.load(single); ModelWeights b = ModelWeights.load(sharded)) {
            assertSameWeights(a, b);
        }
    }

    @Test
    void tied_embeddings_without_lm_head_use_the_embedding_as_head() {
        Path dir = model("tied", TINY.withTied(true), DType.F32);
        assertTrue(!readAll(dir.resolve("model.safetensors")).containsKey("lm_head.weight"));
        try (ModelWeights w = ModelWeights.load(dir)) {
            assertTrue(w.config.tieWordEmbeddings());
            assertSame(w.embedding, w.lmHead);
        }
    }

    // ---- refusals -----------------------------------------------------------------------------------------

    @Test
    void refuses_untied_model_without_lm_head() throws IOException {
        Path dir = model("untied", TINY.withTied(true), DType.F32);
        editConfig(dir, n -> n.put("tie_word_embeddings", false));
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> ModelWeights.load(dir));
        assertTrue(e.getMessage().contains("lm_head.weight is missing and tie_word_embeddings is false"),
                e.getMessage());
    }

    @Test
    void refuses_matrix_with_the_wrong_shape_naming_tensor_and_expected_shape() {
        Path dir = model("transposed", TINY, DType.F32);
        String k = "model.layers.1.self_attn.k_proj.weight";
        editWeights(dir, t -> t.put(k, new Tensor(DType.F32, new long[] {64, 32}, t.get(k).values())));
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> ModelWeights.load(dir));
        assertContains(e.getMessage(), dir.resolve("model.safetensors").toString(), "tensor '" + k + "'",
                "shape [64, 32]", "expected [32, 64]");
    }

    @Test
    void refuses_norm_vector_with_the_wrong_length() {
        Path dir = model("short-norm", TINY, DType.F32);
        editWeights(dir, t -> t.put("model.norm.weight", new Tensor(DType.F32, new long[] {63}, new float[63])));
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> ModelWeights.load(dir));
        assertContains(e.getMessage(), "tensor 'model.norm.weight'", "shape [63]", "expected [64]");
    }

    @Test
    void refuses_weights_for_a_config_with_another_hidden_size() throws IOException {
        Path dir = model("other-config", TINY, DType.F32);
        editConfig(dir, n -> n.put("hidden_size", 128).put("head_dim", 32));
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> ModelWeights.load(dir));
        assertContains(e.getMessage(), "tensor 'model.embed_tokens.weight'", "expected [96, 128]");
    }

    @Test
    void refuses_missing_tensor_by_name() {
        Path dir = model("missing", TINY, DType.F32);
        String gone = "model.layers.1.post_attention_layernorm.weight";
        editWeights(dir, t -> t.remove(gone));
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> ModelWeights.load(dir));
        assertContains(e.getMessage(), "tensor '" + gone + "' is missing");
    }

    @Test
    void refuses_missing_layer_of_a_deeper_config() throws IOException {
        Path dir = model("shallow", TINY, DType.F32);
        editConfig(dir, n -> n.put("num_hidden_layers", 3));
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> ModelWeights.load(dir));
        assertContains(e.getMessage(), "tensor 'model.layers.2.input_layernorm.weight' is missing");
    }

    @Test
    void refuses_directory_without_weights() throws IOException {
        Path dir = model("empty", TINY, DType.F32);
        Files.delete(dir.resolve("model.safetensors"));
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> ModelWeights.load(dir));
        assertContains(e.getMessage(), "neither model.safetensors nor model.safetensors.index.json");
    }

    @ParameterizedTest(name = "shard named {0}")
    @ValueSource(strings = {"../outside.safetensors", "ABSOLUTE", "shards/../../outside.safetensors"})
    void refuses_index_whose_shard_path_escapes_the_model_directory(String shard) throws IOException {
        Path source = model("source", TINY, DType.F32);
        // a complete, valid model file just outside the model directory: only the path check stops it loading
        Path outside = tmp.resolve("outside.safetensors");
        Files.copy(source.resolve("model.safetensors"), outside);
        Path dir = tmp.resolve("escaping");
        Files.createDirectories(dir);
        Files.copy(source.resolve("config.json"), dir.resolve("config.json"));
        String name = shard.equals("ABSOLUTE") ? outside.toAbsolutePath().toString() : shard;
        Map<String, String> weightMap = new LinkedHashMap<>();
        readAll(outside).keySet().forEach(t -> weightMap.put(t, name));
        writeIndex(dir, weightMap, 0);
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> ModelWeights.load(dir));
        assertContains(e.getMessage(), "shard '" + name + "' is outside the model directory");
    }

    @Test
    void refuses_index_listing_a_tensor_its_shard_does_not_hold() throws IOException {
        Path single = model("single", TINY, DType.F32);
        Path dir = tmp.resolve("bad-index");
        Files.createDirectories(dir);
        Files.copy(single.resolve("config.json"), dir.resolve("config.json"));
        Map<String, Tensor> tensors = readAll(single.resolve("model.safetensors"));
        writeSharded(dir, tensors, 5, Map.of("model.layers.0.extra.weight", "model-00002-of-00002.safetensors"));
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> ModelWeights.load(dir));
        assertContains(e.getMessage(), "model-00002-of-00002.safetensors", "tensor 'model.layers.0.extra.weight'",
                "listed in the index but missing");
    }

    @Test
    void refuses_index_without_weight_map() throws IOException {
        Path dir = model("no-map", TINY, DType.F32);
        Files.delete(dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"metadata\": {}}");
        ModelConfigException e = assertThrows(ModelConfigException.class, () -> ModelWeights.load(dir));
        assertContains(e.getMessage(), "no weight_map");
    }

    static void assertContains(String message, String... fragments) {
        for (String s : fragments) {
            assertTrue(message.contains(s), "expected '" + s + "' in: " + message);
        }
    }
}
