package dev.quiver.gpu.backend;

import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.model.ModelConfig;
import java.util.Arrays;

/**
 * A backend that computes nothing: every logit is 0, so greedy decoding always picks token 0, and adapter slots
 * hold nothing. It exists to measure what surrounds the forward pass (routing through the cluster, the engine's
 * scheduling, streaming) without the forward pass itself: {@code quiver.engine.backend = noop}. Never for serving.
 */
public final class NoopBackend implements Backend {
    private final ModelConfig config;
    private final int blocks;
    private final int blockSize;
    private final int slots;

    public NoopBackend(ModelConfig config, int blocks, int blockSize, int slots) {
        this.config = config;
        this.blocks = blocks;
        this.blockSize = blockSize;
        this.slots = slots;
    }

    @Override
    public String name() {
        return "noop";
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public int numKvBlocks() {
        return blocks;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public int numSlots() {
        return slots;
    }

    @Override
    public void loadSlot(int slot, LoraAdapter adapter) {
        // nothing to hold
    }

    @Override
    public void clearSlot(int slot) {
        // nothing held
    }

    @Override
    public void forward(ForwardBatch batch, float[] logits) {
        Arrays.fill(logits, 0f);
    }

    @Override
    public void close() {
        // nothing to free
    }
}
