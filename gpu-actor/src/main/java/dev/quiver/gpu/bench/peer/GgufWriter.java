package dev.quiver.gpu.bench.peer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Writes a GGUF version 3 file, the format llama.cpp loads: the magic {@code GGUF}, version, tensor count and
 * metadata count, then the metadata key/value pairs, then one header per tensor (name, dimensions, ggml type,
 * offset), then the tensor data, every tensor starting at a multiple of {@link #ALIGNMENT} bytes from the start
 * of the data section (which itself starts aligned). All numbers are little-endian; strings are a 64-bit byte
 * length followed by UTF-8 without a terminator.
 *
 * <p>Dimensions are given in ggml order: {@code ne[0]} is the contiguous one, so a row-major {@code [rows, cols]}
 * matrix is {@code ne = {cols, rows}}. Tensor bytes are asked for one tensor at a time while the file is written
 * (a {@link Supplier}), so converting a model never holds more than one tensor in memory.
 */
public final class GgufWriter {
    public static final int VERSION = 3;
    /** {@code general.alignment}'s default; this writer does not write another. */
    public static final int ALIGNMENT = 32;
    static final byte[] MAGIC = {'G', 'G', 'U', 'F'};

    /** GGUF metadata value types (the numbers the format gives them). */
    public enum ValueType {
        UINT8(0), INT8(1), UINT16(2), INT16(3), UINT32(4), INT32(5), FLOAT32(6), BOOL(7), STRING(8), ARRAY(9),
        UINT64(10), INT64(11), FLOAT64(12);

        public final int id;

        ValueType(int id) {
            this.id = id;
        }
    }

    private record Tensor(String name, GgmlType type, long[] ne, long bytes, Supplier<ByteBuffer> data) {
    }

    private final ByteSink kv = new ByteSink();
    private final Set<String> keys = new HashSet<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private final Set<String> tensorNames = new HashSet<>();

    public GgufWriter putString(String key, String value) {
        key(key, ValueType.STRING);
        kv.string(value);
        return this;
    }

    public GgufWriter putUint32(String key, long value) {
        if (value < 0 || value > 0xffffffffL) {
            throw new IllegalArgumentException(key + ": " + value + " does not fit a uint32");
        }
        key(key, ValueType.UINT32);
        kv.i32((int) value);
        return this;
    }

    public GgufWriter putInt32(String key, int value) {
        key(key, ValueType.INT32);
        kv.i32(value);
        return this;
    }

    public GgufWriter putFloat32(String key, float value) {
        key(key, ValueType.FLOAT32);
        kv.i32(Float.floatToRawIntBits(value));
        return this;
    }

    public GgufWriter putBool(String key, boolean value) {
        key(key, ValueType.BOOL);
        kv.u8(value ? 1 : 0);
        return this;
    }

    public GgufWriter putStringArray(String key, List<String> values) {
        key(key, ValueType.ARRAY);
        kv.i32(ValueType.STRING.id);
        kv.i64(values.size());
        values.forEach(kv::string);
        return this;
    }

    public GgufWriter putInt32Array(String key, int[] values) {
        key(key, ValueType.ARRAY);
        kv.i32(ValueType.INT32.id);
        kv.i64(values.length);
        for (int v : values) {
            kv.i32(v);
        }
        return this;
    }

    /**
     * Adds a tensor of ggml dimensions {@code ne} (ne[0] contiguous); {@code data} is called once, during {@link
     * #write}, and must give exactly the bytes that {@code type} stores for that many elements.
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] ne, Supplier<ByteBuffer> data) {
        if (!tensorNames.add(name)) {
            throw new IllegalArgumentException("tensor '" + name + "' added twice");
        }
        if (ne.length < 1 || ne.length > 4) {
            throw new IllegalArgumentException("tensor '" + name + "': ggml tensors have 1 to 4 dimensions, not "
                    + ne.length);
        }
        long elements = 1;
        for (long d : ne) {
            if (d < 1) {
                throw new IllegalArgumentException("tensor '" + name + "': dimension " + d + " is not positive");
            }
            elements = Math.multiplyExact(elements, d);
        }
        if (ne[0] % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': rows of " + ne[0] + " are not whole " + type
                    + " blocks of " + type.blockSize);
        }
        tensors.add(new Tensor(name, type, ne.clone(), type.bytes(elements), data));
        return this;
    }

    /** Number of metadata pairs added so far. */
    public int metadataCount() {
        return keys.size();
    }

    public int tensorCount() {
        return tensors.size();
    }

    /** Writes the file (replacing one that exists). */
    public void write(Path file) {
        ByteSink head = new ByteSink();
        head.bytes(MAGIC);
        head.i32(VERSION);
        head.i64(tensors.size());
        head.i64(keys.size());
        head.bytes(kv.toByteArray());
        long offset = 0;
        for (Tensor t : tensors) {
            head.string(t.name);
            head.i32(t.ne.length);
            for (long d : t.ne) {
                head.i64(d);
            }
            head.i32(t.type.id);
            head.i64(offset);
            offset += padded(t.bytes);
        }
        head.zeros((int) (padded(head.size()) - head.size()));
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(ch, ByteBuffer.wrap(head.toByteArray()));
            for (Tensor t : tensors) {
                ByteBuffer b = t.data.get();
                if (b.remaining() != t.bytes) {
                    throw new IllegalStateException("tensor '" + t.name + "': " + t.type + " " + shape(t.ne)
                            + " is " + t.bytes + " bytes, the data given is " + b.remaining());
                }
                writeFully(ch, b);
                writeFully(ch, ByteBuffer.allocate((int) (padded(t.bytes) - t.bytes)));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    static long padded(long n) {
        return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private void key(String key, ValueType type) {
        if (!keys.add(key)) {
            throw new IllegalArgumentException("metadata key '" + key + "' added twice");
        }
        kv.string(key);
        kv.i32(type.id);
    }

    private static String shape(long[] ne) {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < ne.length; i++) {
            s.append(i == 0 ? "" : ", ").append(ne[i]);
        }
        return s.append(']').toString();
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Little-endian primitive output into a growing byte array. */
    private static final class ByteSink extends ByteArrayOutputStream {
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

        void u8(int v) {
            write(v);
        }

        void i32(int v) {
            scratch.clear();
            scratch.putInt(v);
            write(scratch.array(), 0, 4);
        }

        void i64(long v) {
            scratch.clear();
            scratch.putLong(v);
            write(scratch.array(), 0, 8);
        }

        void bytes(byte[] b) {
            write(b, 0, b.length);
        }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            bytes(b);
        }

        void zeros(int n) {
            bytes(new byte[n]);
        }
    }
}
