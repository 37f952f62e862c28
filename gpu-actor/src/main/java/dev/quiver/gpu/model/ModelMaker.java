package dev.quiver.gpu.model;

import dev.quiver.gpu.lora.LoraModule;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes random Llama-architecture models and PEFT LoRA adapters in Hugging Face layout, so the demo and the
 * tests never download weights. Deterministic for a given seed. {@link #writeDemo} writes a whole model
 * directory with its tokenizer; the other methods write one part each.
 */
public final class ModelMaker {
    private ModelMaker() {
    }

    /** The shape of a generated model. */
    public record Shape(int hidden, int intermediate, int layers, int heads, int kvHeads, int vocab, int maxPositions,
                        boolean tied, boolean qkvBias) {
        /** ≈ 0.1 M parameters: fast enough for every unit test. */
        public static Shape tiny(int vocab) {
            return new Shape(64, 176, 2, 4, 2, vocab, 512, false, false);
        }

        /** ≈ 100 M parameters at an 8 k vocabulary: the benchmark model. */
        public static Shape small(int vocab) {
            return new Shape(768, 2304, 12, 12, 4, vocab, 2048, false, false);
        }

        public Shape withVocab(int v) {
            return new Shape(hidden, intermediate, layers, heads, kvHeads, v, maxPositions, tied, qkvBias);
        }

        public Shape withQkvBias(boolean b) {
            return new Shape(hidden, intermediate, layers, heads, kvHeads, vocab, maxPositions, tied, b);
        }

        public Shape withTied(boolean t) {
            return new Shape(hidden, intermediate, layers, heads, kvHeads, vocab, maxPositions, t, qkvBias);
        }

        public int headDim() {
            return hidden / heads;
        }
    }

    /** Writes config.json and model.safetensors; returns the config as the engine will read it. */
    public static ModelConfig writeModel(Path dir, Shape s, DType dtype, long seed, int bosId, int eosId) {
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("architectures", List.of(s.qkvBias() ? "Qwen2ForCausalLM" : "LlamaForCausalLM"));
        cfg.put("model_type", s.qkvBias() ? "qwen2" : "llama");
        cfg.put("vocab_size", s.vocab());
        cfg.put("hidden_size", s.hidden());
        cfg.put("intermediate_size", s.intermediate());
        cfg.put("num_hidden_layers", s.layers());
        cfg.put("num_attention_heads", s.heads());
        cfg.put("num_key_value_heads", s.kvHeads());
        cfg.put("head_dim", s.headDim());
        cfg.put("max_position_embeddings", s.maxPositions());
        cfg.put("rms_norm_eps", 1e-5);
        cfg.put("rope_theta", 10000.0);
        cfg.put("hidden_act", "silu");
        cfg.put("tie_word_embeddings", s.tied());
        cfg.put("bos_token_id", bosId);
        cfg.put("eos_token_id", eosId);
        cfg.put("torch_dtype", dtype == DType.F32 ? "float32" : dtype == DType.BF16 ? "bfloat16" : "float16");
        SafeTensorsWriter.writeJson(dir.resolve("config.json"), cfg);

        SplittableRandom root = new SplittableRandom(seed);
        SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
        int h = s.hidden();
        int q = s.heads() * s.headDim();
        int kv = s.kvHeads() * s.headDim();
        w.add(lazy("model.embed_tokens.weight", dtype, root.split(), 1.0, s.vocab(), h));
        for (int l = 0; l < s.layers(); l++) {
            String p = "model.layers." + l + ".";
            w.add(norm(p + "input_layernorm.weight", dtype, root.split(), h));
            w.add(lazy(p + "self_attn.q_proj.weight", dtype, root.split(), 1.0 / Math.sqrt(h), q, h));
            w.add(lazy(p + "self_attn.k_proj.weight", dtype, root.split(), 1.0 / Math.sqrt(h), kv, h));
            w.add(lazy(p + "self_attn.v_proj.weight", dtype, root.split(), 1.0 / Math.sqrt(h), kv, h));
            if (s.qkvBias()) {
                w.add(lazy(p + "self_attn.q_proj.bias", dtype, root.split(), 0.1, q));
                w.add(lazy(p + "self_attn.k_proj.bias", dtype, root.split(), 0.1, kv));
                w.add(lazy(p + "self_attn.v_proj.bias", dtype, root.split(), 0.1, kv));
            }
            w.add(lazy(p + "self_attn.o_proj.weight", dtype, root.split(), 1.0 / Math.sqrt(q), h, q));
            w.add(norm(p + "post_attention_layernorm.weight", dtype, root.split(), h));
            w.add(lazy(p + "mlp.gate_proj.weight", dtype, root.split(), 1.0 / Math.sqrt(h), s.intermediate(), h));
            w.add(lazy(p + "mlp.up_proj.weight", dtype, root.split(), 1.0 / Math.sqrt(h), s.intermediate(), h));
            w.add(lazy(p + "mlp.down_proj.weight", dtype, root.split(), 1.0 / Math.sqrt(s.intermediate()), h,
                    s.intermediate()));
        }
        w.add(norm("model.norm.weight", dtype, root.split(), h));
        if (!s.tied()) {
            w.add(lazy("lm_head.weight", dtype, root.split(), 1.0 / Math.sqrt(h), s.vocab(), h));
        }
        w.write(dir.resolve("model.safetensors"));
        return ModelConfig.load(dir);
    }

    /**
     * A complete demo model directory, as {@code bin/quiver model make} writes it: a byte-level BPE tokenizer of
     * about {@code targetVocab} tokens (tokenizer.json, tokenizer_config.json), the model with the shape
     * {@code shape} gives for the final vocabulary (config.json, model.safetensors), generation_config.json with
     * BOS/EOS, and {@code adapters} of {@link #demoAdapters} under {@code adapters/} (adapter {@code i} seeded
     * {@code seed * 1000 + i}). Returns the model's config.
     */
    public static ModelConfig writeDemo(Path dir, int targetVocab, java.util.function.IntFunction<Shape> shape,
                                        DType dtype, long seed, int adapters) {
        int tokenizerVocab = dev.quiver.gpu.tokenizer.TokenizerMaker.writeByteLevel(dir, targetVocab);
        // NOTE: like many released models (Qwen2, padded Llama ports), the embedding table may be larger than
        // the tokenizer; ids past the tokenizer decode to nothing.
        int vocab = Math.max(tokenizerVocab, targetVocab);
        dev.quiver.gpu.tokenizer.Tokenizer tok = dev.quiver.gpu.tokenizer.Tokenizers.load(dir);
        int bos = tok.bosId().orElseThrow();
        int eos = tok.eosIds().iterator().next();
        ModelConfig cfg = writeModel(dir, shape.apply(vocab), dtype, seed, bos, eos);
        Map<String, Object> gen = new LinkedHashMap<>();
        gen.put("bos_token_id", bos);
        gen.put("eos_token_id", List.copyOf(tok.eosIds()));
        SafeTensorsWriter.writeJson(dir.resolve("generation_config.json"), gen);
        List<AdapterSpec> specs = demoAdapters(adapters);
        for (int i = 0; i < specs.size(); i++) {
            writeAdapter(dir.resolve("adapters").resolve(specs.get(i).name()), cfg, specs.get(i), dtype,
                    seed * 1000 + i);
        }
        return cfg;
    }

    /** An adapter to generate: rank, alpha, which modules, rsLoRA or not. */
    public record AdapterSpec(String name, int rank, int alpha, List<LoraModule> targets, boolean rsLora) {
    }

    /** The varied set `model make --adapters N` writes: ranks 4..64 and different target subsets. */
    public static List<AdapterSpec> demoAdapters(int n) {
        int[] ranks = {8, 16, 4, 32, 16, 8, 64, 16};
        List<List<LoraModule>> targets = List.of(
                List.of(LoraModule.Q, LoraModule.V),
                List.of(LoraModule.values()),
                List.of(LoraModule.Q, LoraModule.K, LoraModule.V, LoraModule.O),
                List.of(LoraModule.GATE, LoraModule.UP, LoraModule.DOWN),
                List.of(LoraModule.O, LoraModule.DOWN));
        List<AdapterSpec> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int r = ranks[i % ranks.length];
            out.add(new AdapterSpec(String.format("adapter-%02d", i + 1), r, 2 * r, targets.get(i % targets.size()),
                    i % 3 == 2));
        }
        return out;
    }

    /**
     * Writes adapter_config.json and adapter_model.safetensors for one adapter. B is non-zero (unlike a fresh
     * PEFT init), so the adapter visibly changes the model's output.
     */
    public static void writeAdapter(Path dir, ModelConfig base, AdapterSpec spec, DType dtype, long seed) {
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("peft_type", "LORA");
        cfg.put("task_type", "CAUSAL_LM");
        cfg.put("base_model_name_or_path", "quiver-demo");
        cfg.put("r", spec.rank());
        cfg.put("lora_alpha", spec.alpha());
        cfg.put("lora_dropout", 0.0);
        cfg.put("use_rslora", spec.rsLora());
        cfg.put("use_dora", false);
        cfg.put("fan_in_fan_out", false);
        cfg.put("bias", "none");
        cfg.put("modules_to_save", null);
        cfg.put("target_modules", spec.targets().stream().map(m -> m.peftName).toList());
        SafeTensorsWriter.writeJson(dir.resolve("adapter_config.json"), cfg);
        SplittableRandom rnd = new SplittableRandom(seed);
        SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
        for (int l = 0; l < base.numLayers(); l++) {
            for (LoraModule m : spec.targets()) {
                String p = "base_model.model.model.layers." + l + "." + m.parent + "." + m.peftName + ".";
                w.add(lazy(p + "lora_A.weight", dtype, rnd.split(), 1.0 / Math.sqrt(m.in(base)), spec.rank(), m.in(base)));
                w.add(lazy(p + "lora_B.weight", dtype, rnd.split(), 0.5 / Math.sqrt(spec.rank()) / spec.alpha() * spec.rank(),
                        m.out(base), spec.rank()));
            }
        }
        w.write(dir.resolve("adapter_model.safetensors"));
    }

    private static SafeTensorsWriter.Entry lazy(String name, DType dtype, SplittableRandom r, double std, long... shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        int count = Math.toIntExact(n);
        return new SafeTensorsWriter.Entry(name, dtype, shape, () -> gaussian(r, count, std));
    }

    private static SafeTensorsWriter.Entry norm(String name, DType dtype, SplittableRandom r, int n) {
        return new SafeTensorsWriter.Entry(name, dtype, new long[] {n}, () -> {
            float[] v = gaussian(r, n, 0.1);
            for (int i = 0; i < n; i++) {
                v[i] += 1f;
            }
            return v;
        });
    }

    private static float[] gaussian(SplittableRandom r, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i += 2) {
            // Box-Muller: two normals per pair of uniforms
            double u1 = 1.0 - r.nextDouble();
            double u2 = r.nextDouble();
            double mag = std * Math.sqrt(-2 * Math.log(u1));
            v[i] = (float) (mag * Math.cos(2 * Math.PI * u2));
            if (i + 1 < n) {
                v[i + 1] = (float) (mag * Math.sin(2 * Math.PI * u2));
            }
        }
        return v;
    }
}
