package dev.quiver.gpu.backend.cuda;

import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.model.ModelWeights;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The CUDA backend's host logic with device memory as heap byte buffers and every launch run by the kernel's
 * Java twin ({@link KernelTwins}). Single-threaded and slow: it exists so that everything {@link CudaBackend}
 * does except talk to the driver (weight upload and BF16 conversion, slot layout and offset tables, step
 * packing, launch plans, kernel indexing) is tested against the CPU backend on machines without a GPU.
 * Never for serving.
 */
public final class TwinBackend extends DeviceBackend {
    private final Map<String, ByteBuffer> memory = new HashMap<>();
    private long launches;

    public TwinBackend(ModelWeights weights, Settings settings) {
        super(weights.config, weights.dtype, settings);
        allocateAndUpload(weights);
    }

    @Override
    public String name() {
        return "cuda-twin";
    }

    /** Kernel launches run so far. */
    public long launches() {
        return launches;
    }

    /** Bytes of every buffer allocated so far except the per-step ints (what {@link DeviceBudget} counts). */
    public long allocatedBytes() {
        return memory.entrySet().stream().filter(e -> !e.getKey().equals(Buffers.STEP))
                .mapToLong(e -> e.getValue().capacity()).sum();
    }

    @Override
    protected void allocate(String buffer, long bytes) {
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(buffer + ": " + bytes + " bytes is too large for the twin backend");
        }
        memory.put(buffer, ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN));
    }

    private ByteBuffer buffer(String name) {
        ByteBuffer b = memory.get(real(name));
        if (b == null) {
            throw new IllegalStateException("no device buffer '" + name + "'");
        }
        return b;
    }

    @Override
    protected void copyIn(String buffer, long offset, ByteBuffer src) {
        ByteBuffer dst = buffer(buffer).duplicate();
        dst.position((int) offset);
        dst.put(src.duplicate());
    }

    @Override
    protected void copyStep(int[] data) {
        ByteBuffer b = ByteBuffer.allocate(Math.max(4, 4 * data.length)).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(data);
        memory.put(Buffers.STEP, b);
    }

    @Override
    protected void copySlot(int slot, long byteOffset, SlotLayout layout, LoraAdapter a) {
        ByteBuffer staging = ByteBuffer.allocate((int) layout.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        layout.pack(a, staging);
        copyIn(Buffers.SLOTS, byteOffset, staging);
    }

    @Override
    protected void awaitSlots(Set<Integer> slots) {
        // copies complete at once here
    }

    @Override
    protected void launch(Launch l) {
        launches++;
        KernelTwins.run(l, this::buffer);
    }

    @Override
    protected void copyOut(String buffer, float[] dst, int n) {
        buffer(buffer).duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(dst, 0, n);
    }

    @Override
    protected void copyOut(String buffer, int[] dst, int n) {
        buffer(buffer).duplicate().order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(dst, 0, n);
    }

    @Override
    protected void synchronize() {
        // every launch has completed when it returns here
    }

    @Override
    protected long bufferBytes(String buffer) {
        return buffer(buffer).capacity();
    }

    @Override
    public void close() {
        memory.clear();
    }
}
