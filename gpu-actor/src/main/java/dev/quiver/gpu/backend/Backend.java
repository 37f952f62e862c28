package dev.quiver.gpu.backend;

import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.model.ModelConfig;

/**
 * A compute backend: owns the base weights in its memory, the paged KV cache and the adapter slots, and runs
 * forward steps over heterogeneous batches. Called from the engine thread only (a CUDA context is bound to one
 * thread); implementations may assert it.
 */
public interface Backend extends AutoCloseable {
    String name();

    ModelConfig config();

    /** Physical KV blocks the cache holds, and tokens per block. */
    int numKvBlocks();

    int blockSize();

    /** Adapter slots in compute memory (max-loras). */
    int numSlots();

    /** Makes {@code adapter} usable as slot {@code slot}, replacing what was there. */
    void loadSlot(int slot, LoraAdapter adapter);

    /** Releases the slot's memory. */
    void clearSlot(int slot);

    /**
     * Runs the model over the batch, writing the rows' K/V into the cache, and stores the logits of {@code
     * batch.logitRows()} into {@code logits} ([logitRows, vocab], row-major).
     */
    void forward(ForwardBatch batch, float[] logits);

    @Override
    void close();
}
