package dev.quiver.gpu.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A validated, memory-mapped safetensors file. Layout: an 8-byte little-endian header length N, N bytes of
 * JSON header, then the data section; each header entry names dtype, shape and [begin, end) offsets into it.
 *
 * <p>Everything in the header is checked before any tensor is handed out: the header length against the
 * file size and a sanity cap, the JSON, every dtype, shape × dtype size = byte length, offsets inside the
 * data section and no two tensors overlapping. A file that fails is refused with a {@link
 * SafeTensorsException} naming file and tensor. Tensor data is mapped lazily, one mapping per tensor, so
 * files larger than the heap (and larger than 2 GiB) load; a single tensor over 2 GiB is refused.
 */
public final class SafeTensorsFile implements AutoCloseable {
    /** A header is JSON describing tensors; 100 MB is far beyond any real one and stops hostile lengths. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    /** Duplicate tensor names in a header are refused rather than silently keeping the last one. */
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafeTensorsFile(Path path, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors,
                            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens and validates a file. The caller closes it; buffers already handed out stay valid. */
    public static SafeTensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new SafeTensorsException(path, "cannot open: " + e.getMessage(), e);
        }
        try {
            return read(path, ch);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static SafeTensorsFile read(Path path, FileChannel ch) {
        try {
            long fileSize = ch.size();
            if (fileSize < 8) {
                throw new SafeTensorsException(path, null, "file is " + fileSize + " bytes, shorter than the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || headerLen > fileSize - 8) {
                throw new SafeTensorsException(path, null, "header length " + Long.toUnsignedString(headerLen)
                        + " is invalid for a file of " + fileSize + " bytes");
            }
            ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
            readFully(ch, headerBuf, 8);
            String headerText = new String(headerBuf.array(), StandardCharsets.UTF_8);
            long dataStart = 8 + headerLen;
            long dataLen = fileSize - dataStart;
            JsonNode header;
            try {
                header = JSON.readTree(headerText);
            } catch (JsonProcessingException e) {
                throw new SafeTensorsException(path, null, "header is not valid JSON: " + e.getOriginalMessage());
            }
            if (header == null || !header.isObject()) {
                throw new SafeTensorsException(path, null, "header is not a JSON object");
            }
            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals("__metadata__")) {
                    if (!e.getValue().isObject()) {
                        throw new SafeTensorsException(path, null, "__metadata__ is not an object");
                    }
                    e.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                tensors.put(e.getKey(), parseEntry(path, e.getKey(), e.getValue(), dataLen));
            }
            checkNoOverlap(path, tensors);
            return new SafeTensorsFile(path, ch, dataStart, Collections.unmodifiableMap(tensors),
                    Collections.unmodifiableMap(metadata));
        } catch (IOException e) {
            throw new SafeTensorsException(path, "cannot read: " + e.getMessage(), e);
        }
    }

    private static TensorInfo parseEntry(Path path, String name, JsonNode node, long dataLen) {
        if (!node.isObject()) {
            throw new SafeTensorsException(path, name, "entry is not an object");
        }
        JsonNode dt = node.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw new SafeTensorsException(path, name, "missing dtype");
        }
        DType dtype = DType.parse(dt.asText());
        if (dtype == null) {
            throw new SafeTensorsException(path, name, "unknown dtype '" + dt.asText() + "'");
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new SafeTensorsException(path, name, "missing shape");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw new SafeTensorsException(path, name, "shape " + shapeNode + " has an invalid dimension");
            }
            shape[i] = d.asLong();
        }
        JsonNode offs = node.get("data_offsets");
        if (offs == null || !offs.isArray() || offs.size() != 2 || !offs.get(0).isIntegralNumber()
                || !offs.get(1).isIntegralNumber() || !offs.get(0).canConvertToLong()
                || !offs.get(1).canConvertToLong()) {
            throw new SafeTensorsException(path, name, "data_offsets must be two integers");
        }
        long begin = offs.get(0).asLong();
        long end = offs.get(1).asLong();
        if (begin < 0 || end < begin || end > dataLen) {
            throw new SafeTensorsException(path, name, "data_offsets [" + begin + ", " + end
                    + ") out of bounds of the " + dataLen + "-byte data section");
        }
        long elements;
        try {
            elements = 1;
            for (long d : shape) {
                elements = Math.multiplyExact(elements, d);
            }
            long expected = Math.multiplyExact(elements, dtype.size());
            if (expected != end - begin) {
                throw new SafeTensorsException(path, name, "shape " + shapeNode + " × " + dtype + " is " + expected
                        + " bytes but data_offsets span " + (end - begin));
            }
        } catch (ArithmeticException e) {
            throw new SafeTensorsException(path, name, "shape " + shapeNode + " overflows");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static void checkNoOverlap(Path path, Map<String, TensorInfo> tensors) {
        List<TensorInfo> sorted = new ArrayList<>(tensors.values());
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        TensorInfo prev = null;
        for (TensorInfo t : sorted) {
            if (prev != null && t.begin() < prev.end() && t.byteLength() > 0) {
                throw new SafeTensorsException(path, t.name(), "data overlaps tensor '" + prev.name() + "'");
            }
            if (t.byteLength() > 0) {
                prev = t;
            }
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
            pos += n;
        }
    }

    public Path path() {
        return path;
    }

    /** Tensors in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new SafeTensorsException(path, name, "no such tensor");
        }
        return t;
    }

    /** The tensor's bytes, little-endian, read-only, memory-mapped. */
    public ByteBuffer data(String name) {
        TensorInfo t = info(name);
        if (t.byteLength() > Integer.MAX_VALUE) {
            throw new SafeTensorsException(path, name, "tensor of " + t.byteLength()
                    + " bytes exceeds the 2 GiB per-tensor mapping limit");
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin(), t.byteLength())
                    .order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new SafeTensorsException(path, "cannot map tensor '" + name + "': " + e.getMessage(), e);
        }
    }

    /**
     * Reads tensor {@code name}'s bytes into {@code dst} with positional reads (no mapping) and returns it cleared,
     * filled, flipped and little-endian. For many small tensors read once (adapters): unlike {@link #data}, a read
     * sets up no mapping, touches no page table and leaves nothing to unmap at the next GC.
     *
     * @throws IllegalArgumentException when {@code dst} cannot hold the tensor
     */
    public ByteBuffer readInto(String name, ByteBuffer dst) {
        TensorInfo t = info(name);
        if (t.byteLength() > dst.capacity()) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + t.byteLength() + " bytes, the buffer "
                    + dst.capacity());
        }
        dst.clear().limit((int) t.byteLength());
        try {
            readFully(channel, dst, dataStart + t.begin());
        } catch (IOException e) {
            throw new SafeTensorsException(path, "cannot read tensor '" + name + "': " + e.getMessage(), e);
        }
        return dst.flip().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Reads a floating tensor fully into a new float array (adapters and small vectors; not for large weights). */
    public float[] readFloats(String name) {
        TensorInfo t = info(name);
        if (!t.dtype().isWeightType() && t.dtype() != DType.F64) {
            throw new SafeTensorsException(path, name, "dtype " + t.dtype() + " is not a floating type");
        }
        long n = t.numElements();
        if (n > Integer.MAX_VALUE - 8) {
            throw new SafeTensorsException(path, name, "too large to read into one array");
        }
        float[] out = new float[(int) n];
        DTypes.toFloats(data(name), t.dtype(), 0, out, 0, (int) n);
        return out;
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // closing a read-only channel: nothing to recover
        }
    }
}
