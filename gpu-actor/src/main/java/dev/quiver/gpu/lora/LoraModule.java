package dev.quiver.gpu.lora;

import dev.quiver.gpu.model.ModelConfig;

/** The seven projections of a Llama decoder layer that a LoRA adapter may target, in kernel order. */
public enum LoraModule {
    Q("q_proj", "self_attn"), K("k_proj", "self_attn"), V("v_proj", "self_attn"), O("o_proj", "self_attn"),
    GATE("gate_proj", "mlp"), UP("up_proj", "mlp"), DOWN("down_proj", "mlp");

    public static final int COUNT = 7;

    public final String peftName;
    public final String parent;

    LoraModule(String peftName, String parent) {
        this.peftName = peftName;
        this.parent = parent;
    }

    public static LoraModule byPeftName(String name) {
        for (LoraModule m : values()) {
            if (m.peftName.equals(name)) {
                return m;
            }
        }
        return null;
    }

    /** Input features of this projection in the base model. */
    public int in(ModelConfig c) {
        return switch (this) {
            case Q, K, V, GATE, UP -> c.hiddenSize();
            case O -> c.qDim();
            case DOWN -> c.intermediateSize();
        };
    }

    /** Output features of this projection in the base model. */
    public int out(ModelConfig c) {
        return switch (this) {
            case Q -> c.qDim();
            case K, V -> c.kvDim();
            case O, DOWN -> c.hiddenSize();
            case GATE, UP -> c.intermediateSize();
        };
    }
}
