package dev.quiver.gpu.model;

import java.util.Arrays;

/** One entry of a safetensors header: dtype, shape and the byte range relative to the data section. */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {
    public long numElements() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public long byteLength() {
        return end - begin;
    }

    public int rank() {
        return shape.length;
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }
}
