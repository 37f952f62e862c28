package dev.quiver.gpu.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The architecture of a Llama-family model, read from a Hugging Face {@code config.json}: Llama 2/3.x
 * (including llama3 rope scaling), Mistral, Qwen2 (q/k/v bias), SmolLM and TinyLlama. Anything the engine does
 * not implement (another activation, MLP bias, yarn/dynamic rope scaling, ...) is refused here, by name.
 *
 * @param headDim        per-head dimension ({@code head_dim} when given, else hidden / heads)
 * @param qkvBias        whether q/k/v projections carry a bias (Qwen2, or {@code attention_bias})
 * @param maxContext     the longest sequence served: max_position_embeddings, capped by a sliding window the
 *                       engine does not implement (Mistral v0.1)
 * @param ropeScaling    null when none
 */
public record ModelConfig(String modelType, int vocabSize, int hiddenSize, int intermediateSize, int numLayers,
                          int numHeads, int numKvHeads, int headDim, float rmsNormEps, double ropeTheta,
                          RopeScaling ropeScaling, int maxContext, boolean tieWordEmbeddings, boolean qkvBias,
                          List<Integer> bosTokenIds, List<Integer> eosTokenIds) {

    private static final Set<String> MODEL_TYPES = Set.of("llama", "mistral", "qwen2");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Llama 3 style frequency-dependent rope scaling, or plain linear position interpolation. */
    public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                              int originalMaxPositions) {
    }

    public ModelConfig {
        if (numHeads % numKvHeads != 0) {
            throw new ModelConfigException("num_attention_heads " + numHeads
                    + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
        if (headDim % 2 != 0) {
            throw new ModelConfigException("head_dim " + headDim + " must be even for rotary embeddings");
        }
    }

    public int qDim() {
        return numHeads * headDim;
    }

    public int kvDim() {
        return numKvHeads * headDim;
    }

    /** Parameters in the base model (embeddings and head counted once when tied). */
    public long parameterCount() {
        long perLayer = (long) hiddenSize * qDim() + 2L * hiddenSize * kvDim() + (long) qDim() * hiddenSize
                + 3L * hiddenSize * intermediateSize + 2L * hiddenSize;
        if (qkvBias) {
            perLayer += qDim() + 2L * kvDim();
        }
        long emb = (long) vocabSize * hiddenSize;
        return perLayer * numLayers + emb * (tieWordEmbeddings ? 1 : 2) + hiddenSize;
    }

    public static ModelConfig load(Path modelDir) {
        Path file = modelDir.resolve("config.json");
        JsonNode n;
        try {
            n = JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw new ModelConfigException(file + ": cannot read: " + e.getMessage(), e);
        }
        return parse(file.toString(), n);
    }

    public static ModelConfig parse(String where, JsonNode n) {
        String type = text(n, "model_type", "llama");
        if (!MODEL_TYPES.contains(type)) {
            throw new ModelConfigException(where + ": model_type '" + type + "' is not supported (supported: "
                    + MODEL_TYPES + ")");
        }
        String act = text(n, "hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new ModelConfigException(where + ": hidden_act '" + act + "' is not supported (only silu)");
        }
        if (n.path("mlp_bias").asBoolean(false)) {
            throw new ModelConfigException(where + ": mlp_bias is not supported");
        }
        int hidden = req(where, n, "hidden_size");
        int heads = req(where, n, "num_attention_heads");
        int kvHeads = n.hasNonNull("num_key_value_heads") ? req(where, n, "num_key_value_heads") : heads;
        int headDim = n.hasNonNull("head_dim") ? req(where, n, "head_dim") : hidden / heads;
        int maxPos = n.path("max_position_embeddings").asInt(2048);
        int maxContext = maxPos;
        if (type.equals("mistral") && n.hasNonNull("sliding_window")) {
            // NOTE: sliding-window attention is not implemented; serving within the window is exact.
            maxContext = Math.min(maxContext, n.get("sliding_window").asInt());
        }
        if (type.equals("qwen2") && n.path("use_sliding_window").asBoolean(false)) {
            maxContext = Math.min(maxContext, n.path("sliding_window").asInt(maxContext));
        }
        boolean qkvBias = type.equals("qwen2") || n.path("attention_bias").asBoolean(false);
        return new ModelConfig(type, req(where, n, "vocab_size"), hidden, req(where, n, "intermediate_size"),
                req(where, n, "num_hidden_layers"), heads, kvHeads, headDim,
                (float) n.path("rms_norm_eps").asDouble(1e-6), n.path("rope_theta").asDouble(10000.0),
                ropeScaling(where, n.get("rope_scaling"), maxPos), maxContext,
                n.path("tie_word_embeddings").asBoolean(false), qkvBias, ids(n.get("bos_token_id")),
                ids(n.get("eos_token_id")));
    }

    private static RopeScaling ropeScaling(String where, JsonNode s, int maxPos) {
        if (s == null || s.isNull()) {
            return null;
        }
        String type = s.hasNonNull("rope_type") ? s.get("rope_type").asText() : s.path("type").asText("");
        return switch (type) {
            case "default" -> null;
            case "llama3" -> new RopeScaling("llama3", s.path("factor").asDouble(8.0),
                    s.path("low_freq_factor").asDouble(1.0), s.path("high_freq_factor").asDouble(4.0),
                    s.path("original_max_position_embeddings").asInt(8192));
            case "linear" -> new RopeScaling("linear", s.path("factor").asDouble(1.0), 0, 0, maxPos);
            default -> throw new ModelConfigException(where + ": rope_scaling type '" + type
                    + "' is not supported (supported: llama3, linear)");
        };
    }

    /**
     * Rotary inverse frequencies, one per pair of dimensions ([headDim / 2]), with the configured scaling
     * applied. Computed in double; the kernels round once to float.
     */
    public double[] ropeInverseFrequencies() {
        int half = headDim / 2;
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) {
            inv[i] = 1.0 / Math.pow(ropeTheta, (2.0 * i) / headDim);
        }
        if (ropeScaling == null) {
            return inv;
        }
        if (ropeScaling.type().equals("linear")) {
            for (int i = 0; i < half; i++) {
                inv[i] /= ropeScaling.factor();
            }
            return inv;
        }
        double old = ropeScaling.originalMaxPositions();
        double lowWavelen = old / ropeScaling.lowFreqFactor();
        double highWavelen = old / ropeScaling.highFreqFactor();
        for (int i = 0; i < half; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen < highWavelen) {
                continue;
            }
            if (wavelen > lowWavelen) {
                inv[i] = inv[i] / ropeScaling.factor();
            } else {
                double smooth = (old / wavelen - ropeScaling.lowFreqFactor())
                        / (ropeScaling.highFreqFactor() - ropeScaling.lowFreqFactor());
                inv[i] = (1 - smooth) * inv[i] / ropeScaling.factor() + smooth * inv[i];
            }
        }
        return inv;
    }

    private static int req(String where, JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.canConvertToInt() || v.asInt() <= 0) {
            throw new ModelConfigException(where + ": missing or invalid '" + field + "'");
        }
        return v.asInt();
    }

    private static String text(JsonNode n, String field, String dflt) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? dflt : v.asText();
    }

    private static List<Integer> ids(JsonNode v) {
        List<Integer> out = new ArrayList<>();
        if (v == null || v.isNull()) {
            return out;
        }
        if (v.isArray()) {
            v.forEach(x -> out.add(x.asInt()));
        } else {
            out.add(v.asInt());
        }
        return List.copyOf(out);
    }
}
