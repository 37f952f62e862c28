package dev.quiver.gpu.bench.peer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small GGUF reader for the tests, written from the format's description independently of {@link GgufWriter}:
 * header, metadata of every value kind (values kept with their type), tensor headers, and each tensor's bytes.
 */
final class GgufReader {
    record Value(int type, Object value) {
    }

    record Tensor(String name, long[] ne, int type, long offset, long absoluteOffset, ByteBuffer data) {
    }

    final int version;
    final long dataStart;
    final Map<String, Value> metadata = new LinkedHashMap<>();
    final Map<String, Tensor> tensors = new LinkedHashMap<>();

    private final ByteBuffer b;

    GgufReader(Path file) {
        try {
            b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        byte[] magic = new byte[4];
        b.get(magic);
        if (!new String(magic, StandardCharsets.US_ASCII).equals("GGUF")) {
            throw new IllegalStateException("bad magic");
        }
        version = b.getInt();
        long nTensors = b.getLong();
        long nKv = b.getLong();
        for (long i = 0; i < nKv; i++) {
            String key = string();
            int type = b.getInt();
            metadata.put(key, new Value(type, value(type)));
        }
        List<Object[]> headers = new ArrayList<>();
        for (long i = 0; i < nTensors; i++) {
            String name = string();
            int dims = b.getInt();
            long[] ne = new long[dims];
            for (int d = 0; d < dims; d++) {
                ne[d] = b.getLong();
            }
            headers.add(new Object[] {name, ne, b.getInt(), b.getLong()});
        }
        int alignment = metadata.containsKey("general.alignment") ? (int) metadata.get("general.alignment").value() : 32;
        dataStart = (b.position() + alignment - 1) / alignment * alignment;
        for (int i = 0; i < headers.size(); i++) {
            Object[] h = headers.get(i);
            long offset = (long) h[3];
            long end = i + 1 < headers.size() ? (long) headers.get(i + 1)[3] : b.capacity() - dataStart;
            ByteBuffer data = b.duplicate().position((int) (dataStart + offset)).limit((int) (dataStart + end))
                    .slice().order(ByteOrder.LITTLE_ENDIAN);
            tensors.put((String) h[0], new Tensor((String) h[0], (long[]) h[1], (int) h[2], offset,
                    dataStart + offset, data));
        }
    }

    Object get(String key) {
        Value v = metadata.get(key);
        if (v == null) {
            throw new AssertionError("no metadata key " + key);
        }
        return v.value();
    }

    /** A tensor's first {@code n} values as F32. */
    float[] f32(String name, int n) {
        float[] out = new float[n];
        tensors.get(name).data().asFloatBuffer().get(out);
        return out;
    }

    private String string() {
        long n = b.getLong();
        byte[] s = new byte[(int) n];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private Object value(int type) {
        return switch (type) {
            case 0, 1 -> b.get();
            case 2, 3 -> b.getShort();
            case 4 -> Integer.toUnsignedLong(b.getInt());
            case 5 -> b.getInt();
            case 6 -> b.getFloat();
            case 7 -> b.get() != 0;
            case 8 -> string();
            case 9 -> {
                int elementType = b.getInt();
                long n = b.getLong();
                List<Object> list = new ArrayList<>();
                for (long i = 0; i < n; i++) {
                    list.add(value(elementType));
                }
                yield list;
            }
            case 10, 11 -> b.getLong();
            case 12 -> b.getDouble();
            default -> throw new IllegalStateException("unknown value type " + type);
        };
    }
}
