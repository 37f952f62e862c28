package dev.quiver.gpu.bench.peer;

/**
 * The ggml tensor types that {@link GgufWriter} writes, with their numbers in the GGUF format. A type stores
 * {@code blockSize} consecutive elements of a row in {@code blockBytes} bytes (Q8_0: an F16 scale and 32 signed
 * bytes), so a row's length must be a multiple of the block size.
 */
public enum GgmlType {
    F32(0, 1, 4), F16(1, 1, 2), Q8_0(8, 32, 34), BF16(30, 1, 2);

    /** The number ggml gives the type (a GGUF tensor header's type field). */
    public final int id;
    public final int blockSize;
    public final int blockBytes;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** Bytes of {@code elements} values stored in this type; refuses a count that is not whole blocks. */
    public long bytes(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(name() + " stores blocks of " + blockSize + " elements; " + elements
                    + " is not a multiple");
        }
        return elements / blockSize * blockBytes;
    }

    /** The type numbered {@code id}, or null when this writer does not know it. */
    public static GgmlType byId(int id) {
        for (GgmlType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        return null;
    }
}
