package dev.quiver.gpu.model;

import java.nio.ByteBuffer;

/**
 * A 2-D weight as stored: [rows = output features, cols = input features], row-major, in its file dtype,
 * usually a memory-mapped view into a safetensors file. Backends read it in place (the CPU backend) or copy it
 * to device memory (CUDA); nothing converts the whole matrix to float on the heap.
 */
public record WeightMatrix(String name, int rows, int cols, DType dtype, ByteBuffer data) {
    public WeightMatrix {
        if ((long) rows * cols * dtype.size() != data.capacity()) {
            throw new IllegalArgumentException(name + ": " + rows + "x" + cols + " " + dtype + " does not match "
                    + data.capacity() + " bytes");
        }
    }

    /** Element (r, c) as float; slow, for tests and reference code. */
    public float get(int r, int c) {
        long i = (long) r * cols + c;
        return switch (dtype) {
            case F32 -> data.getFloat((int) (i * 4));
            case BF16 -> DTypes.bf16ToFloat(data.getShort((int) (i * 2)));
            case F16 -> DTypes.f16ToFloat(data.getShort((int) (i * 2)));
            default -> throw new IllegalStateException("not a weight dtype: " + dtype);
        };
    }

    /** Row r converted to floats into dst[off, off + cols). */
    public void row(int r, float[] dst, int off) {
        DTypes.toFloats(data, dtype, (long) r * cols, dst, off, cols);
    }

    public long bytes() {
        return (long) rows * cols * dtype.size();
    }
}
