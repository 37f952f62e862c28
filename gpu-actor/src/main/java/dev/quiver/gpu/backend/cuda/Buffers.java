package dev.quiver.gpu.backend.cuda;

import dev.quiver.gpu.lora.LoraModule;

/** Names of the device buffers that launch plans point into; each backend maps a name to one allocation. */
public final class Buffers {
    private Buffers() {
    }

    // activations, float32, sized for the largest batch (maxRows)
    public static final String X = "x";              // [rows, hidden] residual stream
    public static final String XB = "xb";            // [rows, hidden] normed
    public static final String Q = "q";              // [rows, qDim]
    public static final String K = "k";              // [rows, kvDim]
    public static final String V = "v";              // [rows, kvDim]
    public static final String ATT = "att";          // [rows, qDim]
    public static final String GATE = "gate";        // [rows, intermediate]
    public static final String UP = "up";            // [rows, intermediate]
    public static final String NORMED = "normed";    // [logitRows, hidden]
    public static final String LOGITS = "logits";    // [logitRows, vocab]
    public static final String LORA_TMP = "lora_tmp"; // [rows, maxLoraRank]
    public static final String IDS = "ids";          // [logitRows] int32, argmax output
    /** The step's int32 inputs packed by {@link StepLayout}. */
    public static final String STEP = "step";

    // model
    public static final String EMBED = "embed";      // [vocab, hidden] BF16/F16
    public static final String LM_HEAD = "lm_head";  // [vocab, hidden]; EMBED itself when tied
    public static final String FINAL_NORM = "final_norm";
    public static final String INV_FREQ = "inv_freq"; // [headDim / 2] f32
    public static final String K_CACHE = "k_cache";  // [layers, blocks * blockSize, kvDim] f32
    public static final String V_CACHE = "v_cache";

    /** Every adapter slot's A and B matrices, f32: slot s owns floats [s · capacity, (s + 1) · capacity). */
    public static final String SLOTS = "slots";
    // where each slot's A / B of each (layer, module) begins in SLOTS, in floats: [layers * 7, numSlots] int64,
    // −1 where the slot's adapter does not target the module; ranks and scales [numSlots]
    public static final String LORA_A = "lora_a_offset";
    public static final String LORA_B = "lora_b_offset";
    public static final String LORA_RANK = "lora_rank";
    public static final String LORA_SCALE = "lora_scale";

    public static String weight(int layer, LoraModule m) {
        return "L" + layer + "." + m.peftName;
    }

    public static String attnNorm(int layer) {
        return "L" + layer + ".attn_norm";
    }

    public static String mlpNorm(int layer) {
        return "L" + layer + ".mlp_norm";
    }

    /** q/k/v bias (Qwen2); m is Q, K or V. */
    public static String bias(int layer, LoraModule m) {
        return "L" + layer + "." + m.peftName + ".bias";
    }
}
