package dev.quiver.gpu.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The base model's weights, checked against its {@link ModelConfig}: every expected tensor present with the
 * expected shape and a weight dtype. Large matrices stay memory-mapped ({@link WeightMatrix}); the small
 * vectors (norms, biases) are read into float arrays.
 *
 * <p>Reads {@code model.safetensors}, or sharded {@code model-0000x-of-0000y.safetensors} through {@code
 * model.safetensors.index.json}.
 */
public final class ModelWeights implements AutoCloseable {
    public final ModelConfig config;
    public final WeightMatrix embedding;   // [vocab, hidden]
    public final WeightMatrix lmHead;      // [vocab, hidden]; the embedding itself when tied
    public final float[] finalNorm;        // [hidden]
    public final Layer[] layers;
    public final DType dtype;
    private final List<SafeTensorsFile> files;

    /** One decoder layer. Projections are [out, in]. */
    public record Layer(float[] attnNorm, WeightMatrix q, WeightMatrix k, WeightMatrix v, WeightMatrix o,
                        float[] qBias, float[] kBias, float[] vBias, float[] mlpNorm, WeightMatrix gate,
                        WeightMatrix up, WeightMatrix down) {
        /** The projection a LoRA target module names. */
        public WeightMatrix module(String name) {
            return switch (name) {
                case "q_proj" -> q;
                case "k_proj" -> k;
                case "v_proj" -> v;
                case "o_proj" -> o;
                case "gate_proj" -> gate;
                case "up_proj" -> up;
                case "down_proj" -> down;
                default -> throw new IllegalArgumentException("unknown module " + name);
            };
        }
    }

    private ModelWeights(ModelConfig config, WeightMatrix embedding, WeightMatrix lmHead, float[] finalNorm,
                         Layer[] layers, List<SafeTensorsFile> files) {
        this.config = config;
        this.embedding = embedding;
        this.lmHead = lmHead;
        this.finalNorm = finalNorm;
        this.layers = layers;
        this.files = files;
        this.dtype = embedding.dtype();
    }

    public static ModelWeights load(Path modelDir) {
        return load(modelDir, ModelConfig.load(modelDir));
    }

    public static ModelWeights load(Path modelDir, ModelConfig config) {
        Map<String, SafeTensorsFile> byTensor = new HashMap<>();
        List<SafeTensorsFile> files = new ArrayList<>();
        try {
            Path single = modelDir.resolve("model.safetensors");
            Path index = modelDir.resolve("model.safetensors.index.json");
            if (Files.exists(single)) {
                SafeTensorsFile f = SafeTensorsFile.open(single);
                files.add(f);
                f.tensors().keySet().forEach(t -> byTensor.put(t, f));
            } else if (Files.exists(index)) {
                JsonNode map = new ObjectMapper().readTree(index.toFile()).get("weight_map");
                if (map == null || !map.isObject()) {
                    throw new ModelConfigException(index + ": no weight_map");
                }
                Set<String> shardNames = new LinkedHashSet<>();
                map.fields().forEachRemaining(e -> shardNames.add(e.getValue().asText()));
                Map<String, SafeTensorsFile> shards = new HashMap<>();
                for (String s : shardNames) {
                    Path p = modelDir.resolve(s).normalize();
                    if (!p.startsWith(modelDir.normalize())) {
                        throw new ModelConfigException(index + ": shard '" + s + "' is outside the model directory");
                    }
                    SafeTensorsFile f = SafeTensorsFile.open(p);
                    files.add(f);
                    shards.put(s, f);
                }
                map.fields().forEachRemaining(e -> {
                    SafeTensorsFile f = shards.get(e.getValue().asText());
                    if (!f.has(e.getKey())) {
                        throw new SafeTensorsException(f.path(), e.getKey(), "listed in the index but missing");
                    }
                    byTensor.put(e.getKey(), f);
                });
            } else {
                throw new ModelConfigException(modelDir + ": neither model.safetensors nor model.safetensors.index.json");
            }
            return assemble(config, byTensor, files);
        } catch (IOException e) {
            files.forEach(SafeTensorsFile::close);
            throw new ModelConfigException(modelDir + ": cannot read weights: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            files.forEach(SafeTensorsFile::close);
            throw e;
        }
    }

    private static ModelWeights assemble(ModelConfig c, Map<String, SafeTensorsFile> t, List<SafeTensorsFile> files) {
        WeightMatrix emb = matrix(t, "model.embed_tokens.weight", c.vocabSize(), c.hiddenSize());
        WeightMatrix head = c.tieWordEmbeddings() || !t.containsKey("lm_head.weight") ? emb
                : matrix(t, "lm_head.weight", c.vocabSize(), c.hiddenSize());
        if (!c.tieWordEmbeddings() && !t.containsKey("lm_head.weight")) {
            throw new ModelConfigException("lm_head.weight is missing and tie_word_embeddings is false");
        }
        Layer[] layers = new Layer[c.numLayers()];
        int h = c.hiddenSize();
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            layers[i] = new Layer(
                    vector(t, p + "input_layernorm.weight", h),
                    matrix(t, p + "self_attn.q_proj.weight", c.qDim(), h),
                    matrix(t, p + "self_attn.k_proj.weight", c.kvDim(), h),
                    matrix(t, p + "self_attn.v_proj.weight", c.kvDim(), h),
                    matrix(t, p + "self_attn.o_proj.weight", h, c.qDim()),
                    c.qkvBias() ? vector(t, p + "self_attn.q_proj.bias", c.qDim()) : null,
                    c.qkvBias() ? vector(t, p + "self_attn.k_proj.bias", c.kvDim()) : null,
                    c.qkvBias() ? vector(t, p + "self_attn.v_proj.bias", c.kvDim()) : null,
                    vector(t, p + "post_attention_layernorm.weight", h),
                    matrix(t, p + "mlp.gate_proj.weight", c.intermediateSize(), h),
                    matrix(t, p + "mlp.up_proj.weight", c.intermediateSize(), h),
                    matrix(t, p + "mlp.down_proj.weight", h, c.intermediateSize()));
        }
        return new ModelWeights(c, emb, head, vector(t, "model.norm.weight", h), layers, files);
    }

    private static SafeTensorsFile file(Map<String, SafeTensorsFile> t, String name) {
        SafeTensorsFile f = t.get(name);
        if (f == null) {
            throw new ModelConfigException("weights: tensor '" + name + "' is missing");
        }
        return f;
    }

    private static WeightMatrix matrix(Map<String, SafeTensorsFile> t, String name, int rows, int cols) {
        SafeTensorsFile f = file(t, name);
        TensorInfo info = f.info(name);
        if (info.rank() != 2 || info.shape()[0] != rows || info.shape()[1] != cols) {
            throw new SafeTensorsException(f.path(), name, "shape " + info.shapeString() + ", expected ["
                    + rows + ", " + cols + "] from config.json");
        }
        if (!info.dtype().isWeightType()) {
            throw new SafeTensorsException(f.path(), name, "dtype " + info.dtype() + " cannot hold weights");
        }
        return new WeightMatrix(name, rows, cols, info.dtype(), f.data(name));
    }

    private static float[] vector(Map<String, SafeTensorsFile> t, String name, int len) {
        SafeTensorsFile f = file(t, name);
        TensorInfo info = f.info(name);
        if (info.rank() != 1 || info.shape()[0] != len) {
            throw new SafeTensorsException(f.path(), name, "shape " + info.shapeString() + ", expected [" + len + "]");
        }
        return f.readFloats(name);
    }

    /** Bytes of weights read per decode step (every matrix once), for bandwidth figures. */
    public long matrixBytes() {
        long b = embedding.bytes() / embedding.rows(); // one embedding row per token, negligible
        b += lmHead.bytes();
        for (Layer l : layers) {
            b += l.q().bytes() + l.k().bytes() + l.v().bytes() + l.o().bytes() + l.gate().bytes() + l.up().bytes()
                    + l.down().bytes();
        }
        return b;
    }

    @Override
    public void close() {
        files.forEach(SafeTensorsFile::close);
    }
}
