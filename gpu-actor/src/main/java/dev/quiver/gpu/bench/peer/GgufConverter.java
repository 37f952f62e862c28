package dev.quiver.gpu.bench.peer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.DTypes;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.SafeTensorsFile;
import dev.quiver.gpu.model.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Converts a Llama-layout Hugging Face model directory (config.json, a single model.safetensors, a byte-level BPE
 * tokenizer.json) and a PEFT LoRA adapter to the GGUF files llama.cpp loads, for the side-by-side benchmark.
 *
 * <p>What llama.cpp expects, and this writes: {@code llama.*} hyper-parameters, the tokenizer as {@code gpt2}
 * (byte-level BPE) tokens, token types and merges padded with unused tokens up to the model's vocabulary, GGUF
 * tensor names ({@code blk.N.attn_q.weight}, ...), and the rows of {@code q_proj} and {@code k_proj} permuted
 * ({@link #qkRowOrder}). Hugging Face checkpoints rotate the two halves of each head (rotate-half RoPE) while
 * ggml's llama graph rotates adjacent pairs, so llama.cpp's own converter reorders each head's rows from
 * {@code [x0..x(d/2-1), y0..y(d/2-1)]} to {@code [x0, y0, x1, y1, ...]}; the same holds for an adapter's
 * {@code lora_B} of q and k (its rows are q's or k's output features). Vectors (norms) are always F32.
 */
public final class GgufConverter {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The pre-tokenizer split of Llama 3 (and of Quiver's made models), which llama.cpp calls "llama-bpe". */
    static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final Pattern ADAPTER_TENSOR = Pattern.compile(
            "^base_model\\.model\\.model\\.layers\\.(\\d+)\\.(?:self_attn|mlp)\\.(\\w+)\\.lora_([AB])(?:\\.default)?"
                    + "\\.weight$");
    /** llama.cpp's token types (llama_token_type). */
    static final int TOKEN_NORMAL = 1, TOKEN_CONTROL = 3, TOKEN_USER_DEFINED = 4, TOKEN_UNUSED = 5;

    private GgufConverter() {
    }

    /** GGUF name of a projection's weight in layer {@code layer}. */
    static String tensorName(int layer, LoraModule m) {
        String part = switch (m) {
            case Q -> "attn_q";
            case K -> "attn_k";
            case V -> "attn_v";
            case O -> "attn_output";
            case GATE -> "ffn_gate";
            case UP -> "ffn_up";
            case DOWN -> "ffn_down";
        };
        return "blk." + layer + "." + part + ".weight";
    }

    /**
     * The row order ggml's RoPE needs for a q or k projection of {@code rows = heads * headDim} rows: row {@code
     * r} of the converted matrix is row {@code order[r]} of the Hugging Face one. Within a head, converted row
     * {@code 2i + j} (j = 0, 1) is source row {@code j * headDim / 2 + i}.
     */
    public static int[] qkRowOrder(int rows, int heads) {
        if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0) {
            throw new IllegalArgumentException(rows + " rows do not split into " + heads + " heads of even size");
        }
        int headDim = rows / heads;
        int half = headDim / 2;
        int[] order = new int[rows];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                for (int j = 0; j < 2; j++) {
                    order[h * headDim + 2 * i + j] = h * headDim + j * half + i;
                }
            }
        }
        return order;
    }

    /** A row-major {@code [rows, cols]} matrix with its rows reordered: row r of the result is row order[r]. */
    public static float[] permuteRows(float[] m, int rows, int cols, int[] order) {
        if (m.length != (long) rows * cols || order.length != rows) {
            throw new IllegalArgumentException("matrix of " + m.length + " values is not " + rows + " x " + cols);
        }
        float[] out = new float[m.length];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(m, order[r] * cols, out, r * cols, cols);
        }
        return out;
    }

    /** Encodes values (a whole number of rows) in a ggml type, little-endian. */
    public static ByteBuffer encode(float[] v, GgmlType type) {
        ByteBuffer b = ByteBuffer.allocate((int) type.bytes(v.length)).order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case F32 -> b.asFloatBuffer().put(v);
            case F16 -> {
                for (float f : v) {
                    b.putShort(DTypes.floatToF16(f));
                }
            }
            case BF16 -> {
                for (float f : v) {
                    b.putShort(DTypes.floatToBf16(f));
                }
            }
            case Q8_0 -> quantizeQ8_0(v, b);
        }
        return b.rewind();
    }

    /**
     * ggml's Q8_0, as its reference quantiser computes it: per block of 32 values a scale {@code d = max|x| / 127}
     * stored as F16, then each value as {@code round(x / d)} in a signed byte (rounding half away from zero).
     */
    static void quantizeQ8_0(float[] v, ByteBuffer out) {
        for (int blk = 0; blk < v.length; blk += 32) {
            float amax = 0;
            for (int i = blk; i < blk + 32; i++) {
                amax = Math.max(amax, Math.abs(v[i]));
            }
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            out.putShort(DTypes.floatToF16(d));
            for (int i = blk; i < blk + 32; i++) {
                float x = v[i] * id;
                out.put((byte) (Math.signum(x) * Math.floor(Math.abs(x) + 0.5f)));
            }
        }
    }

    /** Converts a model directory to {@code out}, with every matrix in {@code matrixType}. */
    public static void convertModel(Path modelDir, Path out, GgmlType matrixType) {
        ModelConfig c = ModelConfig.load(modelDir);
        if (c.qkvBias()) {
            throw new IllegalArgumentException(modelDir + ": q/k/v biases (model_type " + c.modelType()
                    + ") are not converted; only the Llama layout is");
        }
        if (c.ropeScaling() != null) {
            throw new IllegalArgumentException(modelDir + ": rope_scaling " + c.ropeScaling().type()
                    + " is not converted (llama.cpp needs a rope_freqs tensor for it)");
        }
        Path weights = modelDir.resolve("model.safetensors");
        if (!Files.isRegularFile(weights)) {
            throw new IllegalArgumentException(modelDir + ": needs a single model.safetensors (sharded models are not "
                    + "converted)");
        }
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.putString("general.type", "model");
        w.putString("general.name", "quiver-" + modelDir.getFileName());
        w.putUint32("general.file_type", fileType(matrixType));
        w.putUint32("llama.vocab_size", c.vocabSize());
        w.putUint32("llama.context_length", c.maxContext());
        w.putUint32("llama.embedding_length", c.hiddenSize());
        w.putUint32("llama.block_count", c.numLayers());
        w.putUint32("llama.feed_forward_length", c.intermediateSize());
        w.putUint32("llama.attention.head_count", c.numHeads());
        w.putUint32("llama.attention.head_count_kv", c.numKvHeads());
        w.putUint32("llama.attention.key_length", c.headDim());
        w.putUint32("llama.attention.value_length", c.headDim());
        w.putUint32("llama.rope.dimension_count", c.headDim());
        w.putFloat32("llama.rope.freq_base", (float) c.ropeTheta());
        w.putFloat32("llama.attention.layer_norm_rms_epsilon", c.rmsNormEps());
        putTokenizer(w, modelDir, c);

        SafeTensorsFile st = SafeTensorsFile.open(weights);
        try {
            matrix(w, st, "model.embed_tokens.weight", "token_embd.weight", matrixType, null);
            for (int l = 0; l < c.numLayers(); l++) {
                String p = "model.layers." + l + ".";
                vector(w, st, p + "input_layernorm.weight", "blk." + l + ".attn_norm.weight");
                for (LoraModule m : LoraModule.values()) {
                    int[] order = switch (m) {
                        case Q -> qkRowOrder(c.qDim(), c.numHeads());
                        case K -> qkRowOrder(c.kvDim(), c.numKvHeads());
                        default -> null;
                    };
                    matrix(w, st, p + m.parent + "." + m.peftName + ".weight", tensorName(l, m), matrixType, order);
                    if (m == LoraModule.O) {
                        vector(w, st, p + "post_attention_layernorm.weight", "blk." + l + ".ffn_norm.weight");
                    }
                }
            }
            vector(w, st, "model.norm.weight", "output_norm.weight");
            if (!c.tieWordEmbeddings() && st.has("lm_head.weight")) {
                matrix(w, st, "lm_head.weight", "output.weight", matrixType, null);
            }
            w.write(out);
        } finally {
            st.close();
        }
    }

    /**
     * Converts a PEFT LoRA adapter of the model in {@code modelDir} to a GGUF LoRA ({@code adapter.type = lora}),
     * its A and B in F32. llama.cpp scales by {@code adapter.lora.alpha / rank}; an rsLoRA adapter (scale {@code
     * alpha / sqrt(rank)}) is written with the alpha that gives its scale.
     */
    public static void convertAdapter(Path modelDir, Path adapterDir, Path out) {
        ModelConfig c = ModelConfig.load(modelDir);
        AdapterLoader.AdapterConfig ac = AdapterLoader.readConfig(adapterDir, adapterDir.getFileName().toString(),
                Integer.MAX_VALUE);
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.putString("general.type", "adapter");
        w.putString("general.name", "quiver-" + adapterDir.getFileName());
        w.putString("adapter.type", "lora");
        w.putFloat32("adapter.lora.alpha", ac.scale() * ac.rank());
        SafeTensorsFile st = SafeTensorsFile.open(adapterDir.resolve("adapter_model.safetensors"));
        try {
            // (layer, module) -> {A name, B name}, in layer then kernel order
            TreeMap<Integer, String[]> pairs = new TreeMap<>();
            for (TensorInfo t : st.tensors().values()) {
                Matcher mt = ADAPTER_TENSOR.matcher(t.name());
                LoraModule m = mt.matches() ? LoraModule.byPeftName(mt.group(2)) : null;
                if (m == null) {
                    throw new IllegalArgumentException(adapterDir + ": tensor '" + t.name()
                            + "' is not a LoRA A or B of a Llama projection");
                }
                int layer = Integer.parseInt(mt.group(1));
                if (layer >= c.numLayers()) {
                    throw new IllegalArgumentException(adapterDir + ": tensor '" + t.name() + "' names layer " + layer
                            + " of a model with " + c.numLayers());
                }
                pairs.computeIfAbsent(layer * LoraModule.COUNT + m.ordinal(), k -> new String[2])
                        [mt.group(3).equals("A") ? 0 : 1] = t.name();
            }
            for (Map.Entry<Integer, String[]> e : pairs.entrySet()) {
                int layer = e.getKey() / LoraModule.COUNT;
                LoraModule m = LoraModule.values()[e.getKey() % LoraModule.COUNT];
                String[] ab = e.getValue();
                if (ab[0] == null || ab[1] == null) {
                    throw new IllegalArgumentException(adapterDir + ": layer " + layer + " " + m.peftName
                            + " has only one of lora_A and lora_B");
                }
                int[] order = switch (m) {
                    case Q -> qkRowOrder(c.qDim(), c.numHeads());
                    case K -> qkRowOrder(c.kvDim(), c.numKvHeads());
                    default -> null;
                };
                String name = tensorName(layer, m);
                matrix(w, st, ab[0], name + ".lora_a", GgmlType.F32, null);   // [rank, in]  -> ne {in, rank}
                matrix(w, st, ab[1], name + ".lora_b", GgmlType.F32, order);  // [out, rank] -> ne {rank, out}
            }
            w.write(out);
        } finally {
            st.close();
        }
    }

    /** llama.cpp's general.file_type (llama_ftype) for a model whose matrices are all of one type. */
    static int fileType(GgmlType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case Q8_0 -> 7;
            case BF16 -> 32;
        };
    }

    private static void matrix(GgufWriter w, SafeTensorsFile st, String hfName, String ggufName, GgmlType type,
                               int[] rowOrder) {
        TensorInfo t = st.info(hfName);
        if (t.rank() != 2) {
            throw new IllegalArgumentException(st.path() + ": tensor '" + hfName + "' has shape " + t.shapeString()
                    + ", not a matrix");
        }
        int rows = (int) t.shape()[0];
        int cols = (int) t.shape()[1];
        w.addTensor(ggufName, type, new long[] {cols, rows}, () -> {
            float[] v = st.readFloats(hfName);
            return encode(rowOrder == null ? v : permuteRows(v, rows, cols, rowOrder), type);
        });
    }

    private static void vector(GgufWriter w, SafeTensorsFile st, String hfName, String ggufName) {
        TensorInfo t = st.info(hfName);
        w.addTensor(ggufName, GgmlType.F32, new long[] {t.numElements()}, () -> encode(st.readFloats(hfName),
                GgmlType.F32));
    }

    /**
     * The tokenizer as llama.cpp's byte-level BPE ("gpt2") vocabulary: one token string per id up to the model's
     * vocabulary size (ids the tokenizer does not use become unused {@code [PADn]} tokens), added special tokens
     * as control tokens, the merges as "left right" strings, and BOS/EOS from config.json.
     */
    static void putTokenizer(GgufWriter w, Path modelDir, ModelConfig c) {
        JsonNode tj = readJson(modelDir.resolve("tokenizer.json"));
        JsonNode model = tj.path("model");
        if (!model.path("type").asText("").equals("BPE") || !tj.toString().contains("\"ByteLevel\"")) {
            throw new IllegalArgumentException(modelDir.resolve("tokenizer.json") + ": model.type "
                    + model.path("type") + " is not a byte-level BPE tokenizer (the only kind converted)");
        }
        String[] tokens = new String[c.vocabSize()];
        int[] types = new int[c.vocabSize()];
        for (Iterator<Map.Entry<String, JsonNode>> it = model.path("vocab").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int id = e.getValue().asInt();
            if (id >= 0 && id < tokens.length) {
                tokens[id] = e.getKey();
                types[id] = TOKEN_NORMAL;
            }
        }
        for (JsonNode a : tj.path("added_tokens")) {
            int id = a.path("id").asInt(-1);
            if (id >= 0 && id < tokens.length) {
                tokens[id] = a.path("content").asText();
                types[id] = a.path("special").asBoolean(false) ? TOKEN_CONTROL : TOKEN_USER_DEFINED;
            }
        }
        List<String> tokenList = new ArrayList<>(tokens.length);
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] == null) {
                tokens[i] = "[PAD" + i + "]";
                types[i] = TOKEN_UNUSED;
            }
            tokenList.add(tokens[i]);
        }
        List<String> merges = new ArrayList<>();
        for (JsonNode m : model.path("merges")) {
            merges.add(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText());
        }
        w.putString("tokenizer.ggml.model", "gpt2");
        w.putString("tokenizer.ggml.pre", tj.toString().contains(JSON.valueToTree(LLAMA3_SPLIT).toString())
                ? "llama-bpe" : "default");
        w.putStringArray("tokenizer.ggml.tokens", tokenList);
        w.putInt32Array("tokenizer.ggml.token_type", types);
        w.putStringArray("tokenizer.ggml.merges", merges);
        if (!c.bosTokenIds().isEmpty()) {
            w.putUint32("tokenizer.ggml.bos_token_id", c.bosTokenIds().get(0));
        }
        if (!c.eosTokenIds().isEmpty()) {
            w.putUint32("tokenizer.ggml.eos_token_id", c.eosTokenIds().get(0));
        }
        Path tc = modelDir.resolve("tokenizer_config.json");
        JsonNode cfg = Files.isRegularFile(tc) ? readJson(tc) : JSON.createObjectNode();
        w.putBool("tokenizer.ggml.add_bos_token", cfg.path("add_bos_token").asBoolean(false));
        w.putBool("tokenizer.ggml.add_eos_token", cfg.path("add_eos_token").asBoolean(false));
    }

    private static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
