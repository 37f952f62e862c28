package dev.quiver.gpu.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * config.json as published for real Llama-family checkpoints, parsed into the architecture the engine
 * implements; anything it does not implement is refused naming the field.
 */
class ModelConfigTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String WHERE = "models/x/config.json";

    /** Meta-Llama-3.1-8B-Instruct's config.json (the fields the engine reads). */
    static final String LLAMA_3_1_8B = """
            {
              "architectures": ["LlamaForCausalLM"],
              "attention_bias": false,
              "bos_token_id": 128000,
              "eos_token_id": [128001, 128008, 128009],
              "hidden_act": "silu",
              "hidden_size": 4096,
              "intermediate_size": 14336,
              "max_position_embeddings": 131072,
              "mlp_bias": false,
              "model_type": "llama",
              "num_attention_heads": 32,
              "num_hidden_layers": 32,
              "num_key_value_heads": 8,
              "rms_norm_eps": 1e-05,
              "rope_scaling": {
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
                "rope_type": "llama3"
              },
              "rope_theta": 500000.0,
              "tie_word_embeddings": false,
              "torch_dtype": "bfloat16",
              "vocab_size": 128256
            }""";

    /** Mistral-7B-v0.1: 4096-token sliding window over a 32k position table. */
    static final String MISTRAL_7B_V01 = """
            {
              "model_type": "mistral", "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336,
              "max_position_embeddings": 32768, "num_attention_heads": 32, "num_hidden_layers": 32,
              "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096,
              "tie_word_embeddings": false, "vocab_size": 32000, "bos_token_id": 1, "eos_token_id": 2
            }""";

    /** Mistral-Nemo: head_dim 128 given explicitly, while hidden / heads = 5120 / 32 = 160. */
    static final String MISTRAL_NEMO = """
            {
              "model_type": "mistral", "hidden_act": "silu", "hidden_size": 5120, "head_dim": 128,
              "intermediate_size": 14336, "max_position_embeddings": 1024000, "num_attention_heads": 32,
              "num_hidden_layers": 40, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
              "sliding_window": null, "vocab_size": 131072, "bos_token_id": 1, "eos_token_id": 2
            }""";

    /** Qwen2.5-0.5B-Instruct: q/k/v biases, tied embeddings, sliding window declared but unused. */
    static final String QWEN2_5_05B = """
            {
              "model_type": "qwen2", "hidden_act": "silu", "hidden_size": 896, "intermediate_size": 4864,
              "max_position_embeddings": 32768, "max_window_layers": 21, "num_attention_heads": 14,
              "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
              "sliding_window": 32768, "use_sliding_window": false, "tie_word_embeddings": true,
              "vocab_size": 151936, "bos_token_id": 151643, "eos_token_id": 151645
            }""";

    static ObjectNode json(String text) {
        try {
            return (ObjectNode) JSON.readTree(text);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    static ModelConfig parse(String text) {
        return ModelConfig.parse(WHERE, json(text));
    }

    static ModelConfig parse(String text, Consumer<ObjectNode> edit) {
        ObjectNode n = json(text);
        edit.accept(n);
        return ModelConfig.parse(WHERE, n);
    }

    static String refusal(String text, Consumer<ObjectNode> edit) {
        ObjectNode n = json(text);
        edit.accept(n);
        return assertThrows(ModelConfigException.class, () -> ModelConfig.parse(WHERE, n)).getMessage();
    }

    static void assertContains(String message, String... fragments) {
        for (String s : fragments) {
            assertTrue(message.contains(s), "expected '" + s + "' in: " + message);
        }
    }

    // ---- accepted architectures ---------------------------------------------------------------------------

    @Test
    void llama_3_1_reads_its_architecture_with_grouped_query_attention() {
        ModelConfig c = parse(LLAMA_3_1_8B);
        assertEquals("llama", c.modelType());
        assertEquals(128256, c.vocabSize());
        assertEquals(4096, c.hiddenSize());
        assertEquals(14336, c.intermediateSize());
        assertEquals(32, c.numLayers());
        assertEquals(32, c.numHeads());
        assertEquals(8, c.numKvHeads());
        assertEquals(128, c.headDim());
        assertEquals(4096, c.qDim());
        assertEquals(1024, c.kvDim());
        assertEquals(1e-5f, c.rmsNormEps());
        assertEquals(500000.0, c.ropeTheta());
        assertEquals(131072, c.maxContext());
        assertFalse(c.tieWordEmbeddings());
        assertFalse(c.qkvBias());
        assertEquals(List.of(128000), c.bosTokenIds());
        assertEquals(List.of(128001, 128008, 128009), c.eosTokenIds());
        assertEquals(new ModelConfig.RopeScaling("llama3", 8.0, 1.0, 4.0, 8192), c.ropeScaling());
    }

    @Test
    void llama_3_1_parameter_count_is_8_billion() {
        long n = parse(LLAMA_3_1_8B).parameterCount();
        assertEquals(8_030_261_248L, n); // the published count of Meta-Llama-3.1-8B
    }

    /**
     * Llama 3.1's rope scaling, written here from Meta's published description rather than copied: frequencies
     * whose wavelength is under original / high_freq_factor (2048 positions) are kept, those over original /
     * low_freq_factor (8192) are divided by the factor, and in between the result blends the two linearly in
     * the ratio original / wavelength.
     */
    @Test
    void llama3_rope_scaling_keeps_high_frequencies_divides_low_ones_and_blends_between() {
        double[] got = parse(LLAMA_3_1_8B).ropeInverseFrequencies();
        assertEquals(64, got.length);
        double theta = 500000, factor = 8, low = 1, high = 4, original = 8192;
        int kept = 0, divided = 0, blended = 0;
        for (int i = 0; i < 64; i++) {
            double base = Math.pow(theta, -i / 64.0); // theta^(-2i / head_dim)
            double cyclesInOriginal = original * base / (2 * Math.PI); // = original / wavelength
            double expected;
            if (cyclesInOriginal > high) {
                expected = base;
                kept++;
            } else if (cyclesInOriginal < low) {
                expected = base / factor;
                divided++;
            } else {
                double t = (cyclesInOriginal - low) / (high - low); // 0 at the low edge, 1 at the high edge
                expected = base / factor + t * (base - base / factor);
                blended++;
                assertTrue(got[i] > base / factor && got[i] < base, "component " + i + " is strictly between");
            }
            assertEquals(expected, got[i], 1e-12 * base, "inverse frequency " + i);
        }
        // with theta 500000 and head_dim 128 the bands are components 0..28, 29..34 and 35..63
        assertEquals(29, kept);
        assertEquals(6, blended);
        assertEquals(29, divided);
        double[] unscaled = parse(LLAMA_3_1_8B, n -> n.remove("rope_scaling")).ropeInverseFrequencies();
        for (int i = 0; i < 64; i++) {
            if (i <= 28) {
                assertEquals(unscaled[i], got[i], "high-frequency component " + i + " is left exactly as it was");
            } else if (i >= 35) {
                assertEquals(unscaled[i] / 8, got[i], "low-frequency component " + i + " is exactly divided by 8");
            }
        }
        for (int i = 1; i < 64; i++) {
            assertTrue(got[i] < got[i - 1], "frequencies decrease monotonically through the blend, at " + i);
        }
    }

    @Test
    void without_rope_scaling_inverse_frequencies_are_theta_to_the_minus_2i_over_head_dim() {
        ModelConfig c = parse(MISTRAL_7B_V01);
        assertNull(c.ropeScaling());
        double[] inv = c.ropeInverseFrequencies();
        assertEquals(64, inv.length);
        for (int i = 0; i < 64; i++) {
            assertEquals(Math.pow(10000.0, -2.0 * i / 128), inv[i], 1e-15 * inv[i], "component " + i);
        }
    }

    @Test
    void linear_rope_scaling_divides_every_frequency_by_the_factor() {
        ModelConfig c = parse(MISTRAL_7B_V01, n -> n.putObject("rope_scaling").put("type", "linear").put("factor", 4.0));
        double[] inv = c.ropeInverseFrequencies();
        for (int i = 0; i < inv.length; i++) {
            assertEquals(Math.pow(10000.0, -2.0 * i / 128) / 4, inv[i], 1e-15 * inv[i], "component " + i);
        }
    }

    @Test
    void rope_type_default_means_no_scaling() {
        ModelConfig c = parse(LLAMA_3_1_8B, n -> ((ObjectNode) n.get("rope_scaling")).put("rope_type", "default"));
        assertNull(c.ropeScaling());
    }

    @Test
    void explicit_head_dim_overrides_hidden_over_heads() {
        ModelConfig c = parse(MISTRAL_NEMO);
        assertEquals(128, c.headDim());
        assertEquals(32 * 128, c.qDim());
        assertEquals(8 * 128, c.kvDim());
        assertEquals(5120, c.hiddenSize());
        assertEquals(64, c.ropeInverseFrequencies().length);
        assertEquals(1024000, c.maxContext(), "a null sliding_window caps nothing");
    }

    @Test
    void head_dim_defaults_to_hidden_over_heads() {
        ModelConfig c = parse(MISTRAL_NEMO, n -> n.remove("head_dim"));
        assertEquals(160, c.headDim());
        assertEquals(5120, c.qDim());
    }

    @Test
    void missing_key_value_heads_means_one_per_attention_head() {
        ModelConfig c = parse(LLAMA_3_1_8B, n -> n.remove("num_key_value_heads"));
        assertEquals(32, c.numKvHeads());
        assertEquals(c.qDim(), c.kvDim());
    }

    @Test
    void mistral_sliding_window_caps_the_context() {
        ModelConfig c = parse(MISTRAL_7B_V01);
        assertEquals(4096, c.maxContext());
        assertEquals(List.of(1), c.bosTokenIds());
        assertEquals(List.of(2), c.eosTokenIds());
    }

    @Test
    void sliding_window_of_a_llama_model_is_ignored() {
        ModelConfig c = parse(LLAMA_3_1_8B, n -> n.put("sliding_window", 4096));
        assertEquals(131072, c.maxContext());
    }

    @Test
    void qwen2_has_qkv_bias_and_an_unused_sliding_window_caps_nothing() {
        ModelConfig c = parse(QWEN2_5_05B);
        assertEquals("qwen2", c.modelType());
        assertTrue(c.qkvBias());
        assertTrue(c.tieWordEmbeddings());
        assertEquals(64, c.headDim());
        assertEquals(128, c.kvDim());
        assertEquals(32768, c.maxContext());
    }

    @Test
    void qwen2_with_sliding_window_in_use_caps_the_context() {
        ModelConfig c = parse(QWEN2_5_05B, n -> n.put("use_sliding_window", true).put("sliding_window", 4096));
        assertEquals(4096, c.maxContext());
    }

    @Test
    void llama_with_attention_bias_has_qkv_bias() {
        assertTrue(parse(LLAMA_3_1_8B, n -> n.put("attention_bias", true)).qkvBias());
    }

    @Test
    void missing_optional_fields_take_the_hugging_face_defaults() {
        ModelConfig c = parse("""
                {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128, "num_hidden_layers": 2,
                 "vocab_size": 100}""");
        assertEquals("llama", c.modelType());
        assertEquals(4, c.numKvHeads());
        assertEquals(16, c.headDim());
        assertEquals(2048, c.maxContext());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals(1e-6f, c.rmsNormEps());
        assertFalse(c.tieWordEmbeddings());
        assertEquals(List.of(), c.eosTokenIds());
    }

    // ---- refusals, each naming the field ------------------------------------------------------------------

    @Test
    void refuses_unsupported_model_type() {
        assertContains(refusal(LLAMA_3_1_8B, n -> n.put("model_type", "gpt2")), WHERE, "model_type 'gpt2'",
                "not supported");
    }

    @Test
    void refuses_activation_other_than_silu() {
        assertContains(refusal(LLAMA_3_1_8B, n -> n.put("hidden_act", "gelu")), WHERE, "hidden_act 'gelu'");
    }

    @Test
    void refuses_mlp_bias() {
        assertContains(refusal(LLAMA_3_1_8B, n -> n.put("mlp_bias", true)), WHERE, "mlp_bias");
    }

    @ParameterizedTest
    @ValueSource(strings = {"yarn", "dynamic", "longrope"})
    void refuses_rope_scaling_it_does_not_implement(String type) {
        String m = refusal(LLAMA_3_1_8B, n -> ((ObjectNode) n.get("rope_scaling")).put("rope_type", type));
        assertContains(m, WHERE, "rope_scaling type '" + type + "'");
    }

    @Test
    void refuses_rope_scaling_given_by_the_older_type_key() {
        String m = refusal(LLAMA_3_1_8B, n -> n.putObject("rope_scaling").put("type", "yarn").put("factor", 4.0));
        assertContains(m, "rope_scaling type 'yarn'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"hidden_size", "num_attention_heads", "intermediate_size", "num_hidden_layers",
                            "vocab_size"})
    void refuses_missing_required_size_naming_it(String field) {
        assertContains(refusal(LLAMA_3_1_8B, n -> n.remove(field)), WHERE, "'" + field + "'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-4096", "\"4096\""})
    void refuses_invalid_hidden_size_naming_it(String value) {
        assertContains(refusal(LLAMA_3_1_8B, n -> n.set("hidden_size", json("{\"v\":" + value + "}").get("v"))),
                "missing or invalid 'hidden_size'");
    }

    @Test
    void refuses_attention_heads_that_are_not_a_multiple_of_key_value_heads() {
        assertContains(refusal(LLAMA_3_1_8B, n -> n.put("num_key_value_heads", 6)),
                "num_attention_heads 32", "not a multiple of num_key_value_heads 6");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -8})
    void refuses_non_positive_key_value_heads_naming_the_field(int kv) {
        assertContains(refusal(LLAMA_3_1_8B, n -> n.put("num_key_value_heads", kv)), WHERE,
                "'num_key_value_heads'");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -128})
    void refuses_non_positive_head_dim_naming_the_field(int headDim) {
        assertContains(refusal(LLAMA_3_1_8B, n -> n.put("head_dim", headDim)), WHERE, "'head_dim'");
    }

    @Test
    void refuses_odd_head_dim_which_rotary_embeddings_cannot_pair() {
        assertContains(refusal(LLAMA_3_1_8B, n -> n.put("head_dim", 127)), "head_dim 127", "must be even");
    }
}
