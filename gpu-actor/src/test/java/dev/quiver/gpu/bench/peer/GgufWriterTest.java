package dev.quiver.gpu.bench.peer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GGUF v3 container as llama.cpp reads it: header, typed metadata, tensor headers and aligned data. */
class GgufWriterTest {
    @TempDir
    Path tmp;

    static ByteBuffer floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b;
    }

    @Test
    void writes_magic_version_3_and_the_tensor_and_metadata_counts() throws Exception {
        Path f = tmp.resolve("a.gguf");
        new GgufWriter().putString("general.architecture", "llama").putUint32("llama.block_count", 2)
                .addTensor("t", GgmlType.F32, new long[] {2}, () -> floats(1, 2)).write(f);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals('G', b.get(0));
        assertEquals('G', b.get(1));
        assertEquals('U', b.get(2));
        assertEquals('F', b.get(3));
        assertEquals(3, b.getInt(4));
        assertEquals(1L, b.getLong(8));
        assertEquals(2L, b.getLong(16));
    }

    @Test
    void round_trips_every_metadata_kind_with_its_gguf_type_number() {
        Path f = tmp.resolve("kv.gguf");
        new GgufWriter()
                .putString("s", "héllo")
                .putUint32("u", 4_000_000_000L)
                .putInt32("i", -7)
                .putFloat32("f", 1e-5f)
                .putBool("yes", true)
                .putBool("no", false)
                .putStringArray("tokens", List.of("a", "Ġb", "<|eot_id|>"))
                .putInt32Array("types", new int[] {1, 3, 5})
                .write(f);
        GgufReader r = new GgufReader(f);
        assertEquals(new GgufReader.Value(8, "héllo"), r.metadata.get("s"));
        assertEquals(new GgufReader.Value(4, 4_000_000_000L), r.metadata.get("u"));
        assertEquals(new GgufReader.Value(5, -7), r.metadata.get("i"));
        assertEquals(new GgufReader.Value(6, 1e-5f), r.metadata.get("f"));
        assertEquals(new GgufReader.Value(7, true), r.metadata.get("yes"));
        assertEquals(new GgufReader.Value(7, false), r.metadata.get("no"));
        assertEquals(new GgufReader.Value(9, List.of("a", "Ġb", "<|eot_id|>")), r.metadata.get("tokens"));
        assertEquals(new GgufReader.Value(9, List.of(1, 3, 5)), r.metadata.get("types"));
        assertEquals(List.of("s", "u", "i", "f", "yes", "no", "tokens", "types"), List.copyOf(r.metadata.keySet()));
    }

    @Test
    void starts_the_data_section_and_every_tensor_on_a_32_byte_boundary_and_reads_back_their_bytes() {
        Path f = tmp.resolve("t.gguf");
        // odd sizes: 3 floats (12 bytes), 5 BF16 (10 bytes), then a 2 x 3 matrix
        ByteBuffer bf = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN);
        for (short s = 1; s <= 5; s++) {
            bf.putShort(s);
        }
        new GgufWriter().putString("general.name", "x")
                .addTensor("a", GgmlType.F32, new long[] {3}, () -> floats(1, 2, 3))
                .addTensor("b", GgmlType.BF16, new long[] {5}, bf::rewind)
                .addTensor("m", GgmlType.F32, new long[] {3, 2}, () -> floats(1, 2, 3, 4, 5, 6))
                .write(f);
        GgufReader r = new GgufReader(f);
        assertEquals(0, r.dataStart % 32);
        assertEquals(List.of(0L, 32L, 64L), r.tensors.values().stream().map(GgufReader.Tensor::offset).toList());
        for (GgufReader.Tensor t : r.tensors.values()) {
            assertEquals(0, t.absoluteOffset() % 32, t.name());
        }
        assertArrayEquals(new float[] {1, 2, 3}, r.f32("a", 3));
        assertEquals(5, r.tensors.get("b").data().getShort(8));
        assertEquals(30, r.tensors.get("b").type());
        assertArrayEquals(new long[] {3, 2}, r.tensors.get("m").ne());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, r.f32("m", 6));
    }

    @Test
    void refuses_data_whose_length_does_not_match_type_and_shape_naming_the_tensor() {
        GgufWriter w = new GgufWriter().addTensor("blk.0.attn_q.weight", GgmlType.F32, new long[] {4},
                () -> floats(1, 2, 3));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> w.write(tmp.resolve("bad.gguf")));
        assertTrue(e.getMessage().contains("blk.0.attn_q.weight"), e.getMessage());
    }

    @Test
    void refuses_q8_0_rows_that_are_not_whole_32_value_blocks() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new GgufWriter()
                .addTensor("w", GgmlType.Q8_0, new long[] {48, 2}, () -> ByteBuffer.allocate(0)));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("48"), e.getMessage());
    }

    @Test
    void refuses_a_metadata_key_or_tensor_name_given_twice() {
        assertThrows(IllegalArgumentException.class, () -> new GgufWriter().putUint32("k", 1).putInt32("k", 2));
        assertThrows(IllegalArgumentException.class, () -> new GgufWriter()
                .addTensor("t", GgmlType.F32, new long[] {1}, () -> floats(1))
                .addTensor("t", GgmlType.F32, new long[] {1}, () -> floats(1)));
    }
}
