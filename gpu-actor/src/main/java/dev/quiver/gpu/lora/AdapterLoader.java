package dev.quiver.gpu.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.SafeTensorsException;
import dev.quiver.gpu.model.SafeTensorsFile;
import dev.quiver.gpu.model.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads and validates a PEFT LoRA adapter directory ({@code adapter_config.json} + {@code
 * adapter_model.safetensors}; pickled {@code .bin} files are never read) against the base model's config.
 *
 * <p>Refused, each with a message naming the problem: a peft_type other than LORA, DoRA, trained biases,
 * {@code fan_in_fan_out}, {@code modules_to_save}, per-module rank or alpha patterns, an unknown target module, a
 * declared target with no weights or weights for an undeclared one, a layer the base does not have, a shape
 * that does not match the base projection (a different base model), a rank over {@code maxRank}, and NaN or
 * Inf anywhere in the weights.
 */
public final class AdapterLoader {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern TENSOR = Pattern.compile(
            "^base_model\\.model\\.model\\.layers\\.(\\d+)\\.(self_attn|mlp)\\.(\\w+)\\.lora_([AB])(?:\\.default)?\\.weight$");

    private AdapterLoader() {
    }

    /** The parts of adapter_config.json that matter for serving. */
    public record AdapterConfig(int rank, float alpha, boolean rsLora, Set<LoraModule> targets, String baseModel) {
        public float scale() {
            return rsLora ? (float) (alpha / Math.sqrt(rank)) : alpha / rank;
        }
    }

    /** How {@link #load} reads the weights from the file. */
    public enum Reads {
        /**
         * Each tensor with one positional read into a reused buffer, then widened, stored and checked finite in
         * one vector pass (the default).
         */
        VECTOR,
        /**
         * Each tensor mapped and copied into its array, then checked one value at a time: the readable twin, and
         * how loads went before 2026-12-06 ({@code bench engine --only cold} times both).
         */
        MAPPED_SCALAR
    }

    public static LoraAdapter load(Path dir, String id, ModelConfig base, int maxRank) {
        return load(dir, id, base, maxRank, Reads.VECTOR);
    }

    /** As {@link #load(Path, String, ModelConfig, int)}, reading the weights as {@code reads} says. */
    public static LoraAdapter load(Path dir, String id, ModelConfig base, int maxRank, Reads reads) {
        AdapterConfig cfg = readConfig(dir, id, maxRank);
        Path file = dir.resolve("adapter_model.safetensors");
        if (!Files.isRegularFile(file)) {
            String hint = Files.exists(dir.resolve("adapter_model.bin"))
                    ? " (adapter_model.bin is a pickle and is never loaded; save the adapter with safetensors)" : "";
            throw new AdapterRefusedException("adapter '" + id + "': adapter_model.safetensors not found in " + dir + hint);
        }
        int layers = base.numLayers();
        float[][] a = new float[layers * LoraModule.COUNT][];
        float[][] b = new float[layers * LoraModule.COUNT][];
        EnumSet<LoraModule> seen = EnumSet.noneOf(LoraModule.class);
        ByteBuffer scratch = null; // VECTOR: each tensor's bytes in turn, grown to the largest
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            for (TensorInfo t : st.tensors().values()) {
                String name = t.name();
                if (name.contains("lora_magnitude_vector")) {
                    throw refuse(id, "tensor '" + name + "' is a DoRA magnitude vector; DoRA is not supported");
                }
                if (name.endsWith(".bias")) {
                    throw refuse(id, "tensor '" + name + "' is a trained bias; bias training is not supported");
                }
                Matcher m = TENSOR.matcher(name);
                if (!m.matches()) {
                    throw refuse(id, "tensor '" + name + "' is not a LoRA A/B weight of a decoder projection");
                }
                int layer;
                try {
                    layer = Integer.parseInt(m.group(1));
                } catch (NumberFormatException e) { // more digits than an int holds
                    throw refuse(id, "tensor '" + name + "' is for layer " + m.group(1) + " but the base model has "
                            + layers + " layers");
                }
                LoraModule mod = LoraModule.byPeftName(m.group(3));
                if (mod == null || !mod.parent.equals(m.group(2))) {
                    throw refuse(id, "tensor '" + name + "' targets unknown module '" + m.group(3) + "'");
                }
                if (!cfg.targets().contains(mod)) {
                    throw refuse(id, "tensor '" + name + "' is for " + mod.peftName
                            + ", which adapter_config.json target_modules does not list");
                }
                if (layer >= layers) {
                    throw refuse(id, "tensor '" + name + "' is for layer " + layer + " but the base model has "
                            + layers + " layers");
                }
                if (!t.dtype().isWeightType()) {
                    throw refuse(id, "tensor '" + name + "' has dtype " + t.dtype());
                }
                boolean isA = m.group(4).equals("A");
                long[] expected = isA ? new long[] {cfg.rank(), mod.in(base)} : new long[] {mod.out(base), cfg.rank()};
                long[] shape = t.shape();
                if (shape.length != 2 || shape[0] != expected[0] || shape[1] != expected[1]) {
                    throw refuse(id, "tensor '" + name + "' has shape " + t.shapeString() + " but the base model's "
                            + mod.peftName + " at rank " + cfg.rank() + " needs [" + expected[0] + ", " + expected[1]
                            + "] (adapter trained for a different base model?)");
                }
                float[] values;
                int bad;
                if (reads == Reads.VECTOR) {
                    if (scratch == null || scratch.capacity() < t.byteLength()) {
                        scratch = ByteBuffer.allocateDirect((int) t.byteLength());
                    }
                    values = new float[(int) (expected[0] * expected[1])];
                    bad = LoraTensors.toFloats(st.readInto(name, scratch), t.dtype(), values, values.length);
                } else {
                    values = st.readFloats(name);
                    bad = -1;
                    for (int i = 0; i < values.length && bad < 0; i++) {
                        bad = Float.isFinite(values[i]) ? -1 : i;
                    }
                }
                if (bad >= 0) {
                    throw refuse(id, "tensor '" + name + "' contains " + values[bad] + " at element " + bad);
                }
                (isA ? a : b)[layer * LoraModule.COUNT + mod.ordinal()] = values;
                seen.add(mod);
            }
        } catch (SafeTensorsException e) {
            throw new AdapterRefusedException("adapter '" + id + "': " + e.getMessage(), e);
        }
        for (int i = 0; i < a.length; i++) {
            if ((a[i] == null) != (b[i] == null)) {
                LoraModule mod = LoraModule.values()[i % LoraModule.COUNT];
                throw refuse(id, "layer " + (i / LoraModule.COUNT) + " " + mod.peftName + " has lora_"
                        + (a[i] == null ? "B without lora_A" : "A without lora_B"));
            }
        }
        for (LoraModule mod : cfg.targets()) {
            if (!seen.contains(mod)) {
                throw refuse(id, "target module " + mod.peftName + " is listed in adapter_config.json but has no weights");
            }
        }
        return new LoraAdapter(id, cfg.rank(), cfg.scale(), layers, a, b);
    }

    /** Reads and checks adapter_config.json alone (cheap: used before fetching weights). */
    public static AdapterConfig readConfig(Path dir, String id, int maxRank) {
        Path file = dir.resolve("adapter_config.json");
        JsonNode n;
        try {
            n = JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw refuse(id, "cannot read " + file + ": " + e.getMessage());
        }
        if (n == null || !n.isObject()) {
            throw refuse(id, file + " is not a JSON object");
        }
        String type = n.path("peft_type").asText("LORA");
        if (!type.equalsIgnoreCase("LORA")) {
            throw refuse(id, "peft_type '" + type + "' is not supported (only LORA)");
        }
        if (n.path("use_dora").asBoolean(false)) {
            throw refuse(id, "use_dora is set; DoRA adapters are not supported");
        }
        if (n.path("fan_in_fan_out").asBoolean(false)) {
            throw refuse(id, "fan_in_fan_out is set; only the standard [out, in] layout is supported");
        }
        JsonNode mts = n.get("modules_to_save");
        if (mts != null && !mts.isNull() && (mts.size() > 0 || (mts.isTextual() && !mts.asText().isEmpty()))) {
            throw refuse(id, "modules_to_save " + mts + " is not supported (fully trained modules are not LoRA)");
        }
        String bias = n.path("bias").asText("none");
        if (!bias.equals("none")) {
            throw refuse(id, "bias '" + bias + "' is not supported (only 'none')");
        }
        for (String pattern : new String[] {"rank_pattern", "alpha_pattern"}) {
            JsonNode p = n.get(pattern);
            if (p != null && !p.isNull() && p.size() > 0) {
                throw refuse(id, pattern + " " + p + " is not supported (one rank and alpha per adapter)");
            }
        }
        int r = n.path("r").asInt(0);
        if (r <= 0) {
            throw refuse(id, "rank r=" + n.path("r") + " is invalid");
        }
        if (r > maxRank) {
            throw refuse(id, "rank " + r + " exceeds max-lora-rank " + maxRank);
        }
        float alpha = (float) n.path("lora_alpha").asDouble(r);
        return new AdapterConfig(r, alpha, n.path("use_rslora").asBoolean(false), targets(id, n.get("target_modules")),
                n.path("base_model_name_or_path").asText(""));
    }

    private static Set<LoraModule> targets(String id, JsonNode tm) {
        EnumSet<LoraModule> out = EnumSet.noneOf(LoraModule.class);
        if (tm == null || tm.isNull()) {
            throw refuse(id, "target_modules is missing");
        }
        if (tm.isTextual()) {
            String s = tm.asText();
            if (s.equals("all-linear")) {
                return EnumSet.allOf(LoraModule.class);
            }
            Pattern p;
            try {
                p = Pattern.compile(s);
            } catch (PatternSyntaxException e) {
                throw refuse(id, "target_modules regex '" + s + "' is invalid: " + e.getDescription());
            }
            for (LoraModule m : LoraModule.values()) {
                if (p.matcher("model.layers.0." + m.parent + "." + m.peftName).matches()
                        || p.matcher(m.peftName).matches()) {
                    out.add(m);
                }
            }
            if (out.isEmpty()) {
                throw refuse(id, "target_modules regex '" + s + "' matches no projection of the base model");
            }
            return out;
        }
        for (JsonNode x : tm) {
            LoraModule m = LoraModule.byPeftName(x.asText());
            if (m == null) {
                throw refuse(id, "target module '" + x.asText() + "' is not supported (supported: q_proj, k_proj, "
                        + "v_proj, o_proj, gate_proj, up_proj, down_proj)");
            }
            out.add(m);
        }
        if (out.isEmpty()) {
            throw refuse(id, "target_modules is empty");
        }
        return out;
    }

    private static AdapterRefusedException refuse(String id, String problem) {
        return new AdapterRefusedException("adapter '" + id + "': " + problem);
    }
}
