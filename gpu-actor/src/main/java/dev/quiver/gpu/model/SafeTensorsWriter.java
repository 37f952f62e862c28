package dev.quiver.gpu.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes safetensors files from float data, converting to the requested dtype. Used by the demo-model maker
 * and by tests; tensors are streamed to disk one at a time so a large model needs no second copy in heap.
 */
public final class SafeTensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One tensor to write: values are row-major floats, converted to {@code dtype} on write. */
    public record Entry(String name, DType dtype, long[] shape, FloatSource values) {
    }

    /** Supplies a tensor's values lazily, so the writer can produce them one tensor at a time. */
    @FunctionalInterface
    public interface FloatSource {
        float[] get();
    }

    public static Entry entry(String name, DType dtype, float[] values, long... shape) {
        return new Entry(name, dtype, shape, () -> values);
    }

    private final List<Entry> entries = new ArrayList<>();
    private final ObjectNode metadata = JSON.createObjectNode();

    public SafeTensorsWriter add(Entry e) {
        entries.add(e);
        return this;
    }

    public SafeTensorsWriter add(String name, DType dtype, float[] values, long... shape) {
        return add(entry(name, dtype, values, shape));
    }

    public SafeTensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    public void write(Path file) {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            header.set("__metadata__", metadata);
        }
        long offset = 0;
        for (Entry e : entries) {
            long n = 1;
            for (long d : e.shape()) {
                n *= d;
            }
            long bytes = n * e.dtype().size();
            ObjectNode t = header.putObject(e.name());
            t.put("dtype", e.dtype().name());
            var shape = t.putArray("shape");
            for (long d : e.shape()) {
                shape.add(d);
            }
            var offs = t.putArray("data_offsets");
            offs.add(offset);
            offs.add(offset + bytes);
            offset += bytes;
        }
        byte[] headerBytes = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (headerBytes.length + 7) / 8 * 8; // the format recommends 8-byte alignment of the data
        byte[] headerPadded = new byte[padded];
        System.arraycopy(headerBytes, 0, headerPadded, 0, headerBytes.length);
        for (int i = headerBytes.length; i < padded; i++) {
            headerPadded[i] = ' ';
        }
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).flip();
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(headerPadded));
                for (Entry e : entries) {
                    float[] v = e.values().get();
                    long expected = 1;
                    for (long d : e.shape()) {
                        expected *= d;
                    }
                    if (v.length != expected) {
                        throw new IllegalArgumentException(e.name() + ": " + v.length + " values for shape "
                                + java.util.Arrays.toString(e.shape()));
                    }
                    writeFully(ch, encode(v, e.dtype()));
                }
            }
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot write " + file, ex);
        }
    }

    static ByteBuffer encode(float[] v, DType dtype) {
        ByteBuffer b = ByteBuffer.allocate(v.length * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case F32 -> b.asFloatBuffer().put(v);
            case BF16 -> {
                for (float f : v) {
                    b.putShort(DTypes.floatToBf16(f));
                }
            }
            case F16 -> {
                for (float f : v) {
                    b.putShort(DTypes.floatToF16(f));
                }
            }
            case F64 -> {
                for (float f : v) {
                    b.putDouble(f);
                }
            }
            default -> throw new IllegalArgumentException("cannot write floats as " + dtype);
        }
        b.position(0).limit(v.length * dtype.size());
        return b;
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Writes a small JSON document (config files next to weights). */
    public static void writeJson(Path file, Map<String, ?> value) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), value);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
