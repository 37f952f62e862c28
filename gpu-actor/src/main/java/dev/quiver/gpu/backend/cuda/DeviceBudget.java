package dev.quiver.gpu.backend.cuda;

import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.ModelConfig;
import java.util.Locale;

/**
 * The device memory the CUDA backend allocates at start, by part, computed from the model shape and the
 * engine settings before anything is allocated, so a model or cache that does not fit is refused with the
 * numbers rather than failing half-way through uploading. (The per-step int buffer is small and grows on
 * demand; it is not counted.)
 *
 * @param weights     base weights in BF16/F16 plus the float32 norms, biases and rotary frequencies
 * @param kvCache     K and V of every layer, float32
 * @param slots       adapter slots at the largest rank, their pointer tables, ranks and scales
 * @param activations per-step buffers for maxRows rows: residual, normed, q/k/v, attention, gate/up, LoRA
 *                    scratch, final norm, logits and ids
 */
public record DeviceBudget(long weights, long kvCache, long slots, long activations) {

    public static DeviceBudget of(ModelConfig c, WeightType w, int numKvBlocks, int blockSize, int numSlots,
                                  int maxLoraRank, int maxRows) {
        long h = c.hiddenSize();
        long perLayer = 0;
        for (LoraModule m : LoraModule.values()) {
            perLayer += (long) m.in(c) * m.out(c);
        }
        long emb = (long) c.vocabSize() * h;
        long matrices = emb * (c.tieWordEmbeddings() ? 1 : 2) + perLayer * c.numLayers();
        long vectors = (2L * c.numLayers() + 1) * h + c.headDim() / 2
                + (c.qkvBias() ? (long) c.numLayers() * (c.qDim() + 2L * c.kvDim()) : 0);
        long weights = matrices * w.size() + vectors * 4;
        long kv = 2L * c.numLayers() * numKvBlocks * blockSize * c.kvDim() * 4;
        long tables = 2L * c.numLayers() * LoraModule.COUNT * numSlots * 8 + numSlots * 8L;
        long slots = numSlots * SlotLayout.capacityFloats(c, maxLoraRank) * 4 + tables;
        long perRow = 2 * h + 2L * c.qDim() + 2L * c.kvDim() + 2L * c.intermediateSize() + maxLoraRank
                + h + c.vocabSize() + 1;
        long activations = perRow * maxRows * 4;
        return new DeviceBudget(weights, kv, slots, activations);
    }

    public long total() {
        return weights + kvCache + slots + activations;
    }

    /** Throws with the breakdown when the total exceeds {@code freeBytes} less {@code reserveBytes}. */
    public void check(long freeBytes, long reserveBytes) {
        if (total() > freeBytes - reserveBytes) {
            throw new IllegalStateException(String.format(Locale.ROOT, "the CUDA backend needs %s of device memory "
                    + "(weights %s, KV cache %s, adapter slots %s, activations %s) but the device has %s free "
                    + "(keeping %s for the driver); lower quiver.engine.kv-cache-memory, max-loras, max-lora-rank or "
                    + "max-num-batched-tokens", mib(total()), mib(weights), mib(kvCache), mib(slots),
                    mib(activations), mib(freeBytes), mib(reserveBytes)));
        }
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
    }
}
