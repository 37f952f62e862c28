package dev.quiver.gpu.bench.peer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.DTypes;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.gpu.model.SafeTensorsFile;
import dev.quiver.gpu.testing.TinyModels;
import dev.quiver.gpu.tokenizer.Tokenizer;
import dev.quiver.gpu.tokenizer.TokenizerMaker;
import dev.quiver.gpu.tokenizer.Tokenizers;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Llama safetensors model and PEFT adapter converted to GGUF the way llama.cpp's converter lays them out: names,
 * hyper-parameters, tokenizer, the q/k row permutation (also on an adapter's B), BF16 and Q8_0 encodings.
 */
class GgufConverterTest {
    @TempDir
    Path tmp;

    /**
     * The permutation's purpose, computed directly: Hugging Face's rotate-half RoPE on {@code W x} (pairs {@code
     * (i, i + d/2)}) equals, after the permutation, ggml's adjacent-pair RoPE (pairs {@code (2i, 2i + 1)}) on
     * {@code P(W) x}, for every head, position and frequency.
     */
    @Test
    void permuted_q_rows_turn_rotate_half_rope_into_adjacent_pair_rope() {
        int heads = 3;
        int headDim = 8;
        int cols = 5;
        int rows = heads * headDim;
        SplittableRandom r = new SplittableRandom(3);
        float[] w = new float[rows * cols];
        float[] x = new float[cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < cols; i++) {
            x[i] = (float) r.nextGaussian();
        }
        int pos = 7;
        double[] hf = matVec(w, rows, cols, x);
        double[] gg = matVec(GgufConverter.permuteRows(w, rows, cols, GgufConverter.qkRowOrder(rows, heads)), rows,
                cols, x);
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                double angle = pos * Math.pow(10000, -2.0 * i / headDim);
                double c = Math.cos(angle);
                double s = Math.sin(angle);
                int a = h * headDim + i;
                int b = a + half;
                double hfA = hf[a] * c - hf[b] * s;
                double hfB = hf[a] * s + hf[b] * c;
                int p = h * headDim + 2 * i;
                double ggA = gg[p] * c - gg[p + 1] * s;
                double ggB = gg[p] * s + gg[p + 1] * c;
                // ggml's rotated pair (2i, 2i + 1) holds HF's rotated pair (i, i + d/2)
                assertEquals(hfA, ggA, 1e-9, "head " + h + " pair " + i);
                assertEquals(hfB, ggB, 1e-9, "head " + h + " pair " + i);
            }
        }
    }

    @Test
    void row_order_is_llama_cpps_reshape_swap_reshape_of_each_head() {
        // numpy: w.reshape(heads, 2, d/2, cols).swapaxes(1, 2).reshape(rows, cols), here for 2 heads of 4 rows
        assertArrayEquals(new int[] {0, 2, 1, 3, 4, 6, 5, 7}, GgufConverter.qkRowOrder(8, 2));
    }

    @Test
    void converts_the_model_with_llama_metadata_gguf_names_and_permuted_q_and_k() {
        Path model = TinyModels.textModel(0);
        ModelConfig c = ModelConfig.load(model);
        Path out = tmp.resolve("m.gguf");
        GgufConverter.convertModel(model, out, GgmlType.F32);
        GgufReader g = new GgufReader(out);
        assertEquals(3, g.version);
        assertEquals("llama", g.get("general.architecture"));
        assertEquals((long) c.numLayers(), g.get("llama.block_count"));
        assertEquals((long) c.hiddenSize(), g.get("llama.embedding_length"));
        assertEquals((long) c.numKvHeads(), g.get("llama.attention.head_count_kv"));
        assertEquals((long) c.headDim(), g.get("llama.rope.dimension_count"));
        assertEquals(c.rmsNormEps(), (float) g.get("llama.attention.layer_norm_rms_epsilon"));
        assertEquals(0L, g.get("general.file_type"));
        assertEquals(2 + 9 * c.numLayers() + 1, g.tensors.size());
        assertTrue(g.tensors.containsKey("output.weight"));
        assertArrayEquals(new long[] {c.hiddenSize(), c.vocabSize()}, g.tensors.get("token_embd.weight").ne());
        assertArrayEquals(new long[] {c.hiddenSize(), c.kvDim()}, g.tensors.get("blk.1.attn_k.weight").ne());
        try (SafeTensorsFile st = SafeTensorsFile.open(model.resolve("model.safetensors"))) {
            float[] q = st.readFloats("model.layers.1.self_attn.q_proj.weight");
            float[] k = st.readFloats("model.layers.1.self_attn.k_proj.weight");
            float[] v = st.readFloats("model.layers.1.self_attn.v_proj.weight");
            int h = c.hiddenSize();
            assertArrayEquals(GgufConverter.permuteRows(q, c.qDim(), h, GgufConverter.qkRowOrder(c.qDim(),
                    c.numHeads())), g.f32("blk.1.attn_q.weight", q.length));
            assertArrayEquals(GgufConverter.permuteRows(k, c.kvDim(), h, GgufConverter.qkRowOrder(c.kvDim(),
                    c.numKvHeads())), g.f32("blk.1.attn_k.weight", k.length));
            assertFalse(java.util.Arrays.equals(k, g.f32("blk.1.attn_k.weight", k.length)));
            assertArrayEquals(v, g.f32("blk.1.attn_v.weight", v.length));
            assertArrayEquals(st.readFloats("model.norm.weight"), g.f32("output_norm.weight", h));
        }
    }

    @Test
    void writes_the_byte_level_bpe_tokenizer_padded_to_the_vocabulary_with_unused_tokens() throws Exception {
        Path model = tmp.resolve("padded");
        int tokenizerVocab = TokenizerMaker.writeByteLevel(model, 300);
        Tokenizer tok = Tokenizers.load(model);
        int bos = tok.bosId().orElseThrow();
        ModelMaker.writeModel(model, ModelMaker.Shape.tiny(tokenizerVocab + 20), DType.F32, 1, bos,
                tok.eosIds().iterator().next());
        Path out = tmp.resolve("m.gguf");
        GgufConverter.convertModel(model, out, GgmlType.F32);
        GgufReader g = new GgufReader(out);
        assertEquals("gpt2", g.get("tokenizer.ggml.model"));
        assertEquals("llama-bpe", g.get("tokenizer.ggml.pre"));
        List<?> tokens = (List<?>) g.get("tokenizer.ggml.tokens");
        List<?> types = (List<?>) g.get("tokenizer.ggml.token_type");
        assertEquals(tokenizerVocab + 20, tokens.size());
        assertEquals(tokenizerVocab + 20, types.size());
        assertEquals((long) bos, g.get("tokenizer.ggml.bos_token_id"));
        assertEquals(tok.tokenString(bos), tokens.get(bos));
        assertEquals(GgufConverter.TOKEN_CONTROL, types.get(bos));
        assertEquals(GgufConverter.TOKEN_NORMAL, types.get(0));
        assertEquals("[PAD" + (tokenizerVocab + 19) + "]", tokens.get(tokenizerVocab + 19));
        assertEquals(GgufConverter.TOKEN_UNUSED, types.get(tokenizerVocab + 19));
        assertFalse(((List<?>) g.get("tokenizer.ggml.merges")).isEmpty());
        assertEquals(true, g.get("tokenizer.ggml.add_bos_token"));
    }

    @Test
    void writes_bf16_matrices_as_rounded_bfloat16_and_norms_as_f32() {
        Path model = TinyModels.textModel(0);
        ModelConfig c = ModelConfig.load(model);
        Path out = tmp.resolve("b.gguf");
        GgufConverter.convertModel(model, out, GgmlType.BF16);
        GgufReader g = new GgufReader(out);
        assertEquals(32L, g.get("general.file_type"));
        assertEquals(30, g.tensors.get("blk.0.ffn_up.weight").type());
        assertEquals(0, g.tensors.get("blk.0.ffn_norm.weight").type());
        try (SafeTensorsFile st = SafeTensorsFile.open(model.resolve("model.safetensors"))) {
            float[] up = st.readFloats("model.layers.0.mlp.up_proj.weight");
            ByteBuffer d = g.tensors.get("blk.0.ffn_up.weight").data();
            for (int i = 0; i < up.length; i += 97) {
                assertEquals(DTypes.floatToBf16(up[i]), d.getShort(2 * i), "element " + i);
            }
            assertArrayEquals(st.readFloats("model.layers.0.post_attention_layernorm.weight"),
                    g.f32("blk.0.ffn_norm.weight", c.hiddenSize()));
        }
    }

    @Test
    void quantises_q8_0_blocks_with_an_f16_scale_of_max_over_127_rounding_half_away_from_zero() {
        float[] v = new float[32];
        v[0] = 127f;     // scale 1
        v[1] = -2.5f;    // -> -3 (half away from zero)
        v[2] = 2.5f;     // -> 3
        v[3] = -127f;
        v[4] = 0.49f;    // -> 0
        ByteBuffer b = GgufConverter.encode(v, GgmlType.Q8_0).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(34, b.remaining());
        assertEquals(1f, DTypes.f16ToFloat(b.getShort(0)));
        assertEquals(127, b.get(2));
        assertEquals(-3, b.get(3));
        assertEquals(3, b.get(4));
        assertEquals(-127, b.get(5));
        assertEquals(0, b.get(6));
        float[] zeros = new float[64];
        ByteBuffer z = GgufConverter.encode(zeros, GgmlType.Q8_0);
        assertEquals(68, z.remaining());
        assertEquals(0, z.getShort(34));
    }

    @Test
    void q8_0_values_dequantise_within_half_a_step_of_the_source() {
        SplittableRandom r = new SplittableRandom(5);
        float[] v = new float[96];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        ByteBuffer b = GgufConverter.encode(v, GgmlType.Q8_0).order(ByteOrder.LITTLE_ENDIAN);
        for (int blk = 0; blk < 3; blk++) {
            float d = DTypes.f16ToFloat(b.getShort(blk * 34));
            for (int i = 0; i < 32; i++) {
                float back = d * b.get(blk * 34 + 2 + i);
                assertEquals(v[blk * 32 + i], back, d * 0.5 + 1e-3 * d, "block " + blk + " value " + i);
            }
        }
    }

    @Test
    void converts_a_peft_adapter_to_a_gguf_lora_with_alpha_and_permuted_b_of_q_and_k() {
        Path model = TinyModels.textModel(1);
        ModelConfig c = ModelConfig.load(model);
        Path adapterDir = model.resolve("adapters").resolve(ModelMaker.demoAdapters(1).get(0).name());
        AdapterLoader.AdapterConfig ac = AdapterLoader.readConfig(adapterDir, "a", 256);
        Path out = tmp.resolve("lora.gguf");
        GgufConverter.convertAdapter(model, adapterDir, out);
        GgufReader g = new GgufReader(out);
        assertEquals("adapter", g.get("general.type"));
        assertEquals("lora", g.get("adapter.type"));
        assertEquals(ac.scale() * ac.rank(), (float) g.get("adapter.lora.alpha"), 1e-6);
        assertEquals(2 * ac.targets().size() * c.numLayers(), g.tensors.size());
        int rank = ac.rank();
        try (SafeTensorsFile st = SafeTensorsFile.open(adapterDir.resolve("adapter_model.safetensors"))) {
            for (LoraModule m : ac.targets()) {
                String hf = "base_model.model.model.layers.0." + m.parent + "." + m.peftName;
                String gg = GgufConverter.tensorName(0, m);
                float[] a = st.readFloats(hf + ".lora_A.weight");
                float[] b = st.readFloats(hf + ".lora_B.weight");
                assertArrayEquals(new long[] {m.in(c), rank}, g.tensors.get(gg + ".lora_a").ne(), m.peftName);
                assertArrayEquals(new long[] {rank, m.out(c)}, g.tensors.get(gg + ".lora_b").ne(), m.peftName);
                assertArrayEquals(a, g.f32(gg + ".lora_a", a.length), m.peftName);
                float[] want = switch (m) {
                    case Q -> GgufConverter.permuteRows(b, c.qDim(), rank, GgufConverter.qkRowOrder(c.qDim(),
                            c.numHeads()));
                    case K -> GgufConverter.permuteRows(b, c.kvDim(), rank, GgufConverter.qkRowOrder(c.kvDim(),
                            c.numKvHeads()));
                    default -> b;
                };
                assertArrayEquals(want, g.f32(gg + ".lora_b", b.length), m.peftName);
            }
        }
    }

    @Test
    void writes_an_rslora_adapter_with_the_alpha_that_gives_its_scale() {
        Path model = TinyModels.model(DType.F32, ModelMaker.Shape.tiny(96), List.of(new ModelMaker.AdapterSpec(
                "rs", 4, 8, List.of(LoraModule.Q, LoraModule.V), true)));
        Path out = tmp.resolve("rs.gguf");
        GgufConverter.convertAdapter(model, model.resolve("adapters/rs"), out);
        // rsLoRA scale 8 / sqrt(4) = 4; llama.cpp scales by alpha / rank, so alpha = 16
        assertEquals(16f, (float) new GgufReader(out).get("adapter.lora.alpha"), 1e-5);
    }

    private static double[] matVec(float[] w, int rows, int cols, float[] x) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < cols; k++) {
                y[r] += (double) w[r * cols + k] * x[k];
            }
        }
        return y;
    }
}
