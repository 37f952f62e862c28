package dev.quiver.gpu.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * safetensors files as the engine reads them: hostile files written byte by byte (8-byte little-endian header
 * length, header text, data bytes) are refused before any tensor is handed out, with a message naming the file
 * and the tensor; files from {@link SafeTensorsWriter} read back within each dtype's rounding.
 */
class SafeTensorsFileTest {
    @TempDir
    Path dir;

    private int files;

    /** Writes the 8-byte little-endian {@code declaredLength}, the header text, then {@code dataBytes} bytes 0, 1, 2... */
    Path raw(long declaredLength, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(h);
        for (int i = 0; i < dataBytes; i++) {
            b.put((byte) i);
        }
        Path f = dir.resolve("hostile-" + (files++) + ".safetensors");
        Files.write(f, b.array());
        return f;
    }

    /** A well-formed frame: the declared length is the header's own length. */
    Path hostile(String header, int dataBytes) throws IOException {
        return raw(header.getBytes(StandardCharsets.UTF_8).length, header, dataBytes);
    }

    /** One-tensor header with the given entry body, named "w". */
    static String single(String entry) {
        return "{\"w\":" + entry + "}";
    }

    /** Opens the file expecting a refusal; checks the message names the file and returns it. */
    static String refusal(Path f) {
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensorsFile.open(f).close());
        assertTrue(e.getMessage().startsWith(f.toString()), "message should name the file: " + e.getMessage());
        return e.getMessage();
    }

    static void assertContains(String message, String... fragments) {
        for (String s : fragments) {
            assertTrue(message.contains(s), "expected '" + s + "' in: " + message);
        }
    }

    // ---- the frame: header length and header text -------------------------------------------------------

    @Test
    void refuses_file_shorter_than_the_8_byte_header_length() throws IOException {
        Path f = dir.resolve("short.safetensors");
        Files.write(f, new byte[] {2, 0, 0, 0, 0});
        assertContains(refusal(f), "file is 5 bytes", "shorter than the 8-byte header length");
    }

    @Test
    void refuses_a_header_naming_one_tensor_twice() throws IOException {
        Path f = hostile("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
        assertContains(refusal(f), "not valid JSON", "Duplicate field 'w'");
    }

    @Test
    void refuses_header_length_larger_than_the_file() throws IOException {
        Path f = raw(1000, "{}", 0);
        assertContains(refusal(f), "header length 1000 is invalid for a file of 10 bytes");
    }

    @Test
    void refuses_absurd_header_length_without_allocating_it() throws IOException {
        Path f = raw(1L << 62, "{}", 0);
        assertContains(refusal(f), "header length 4611686018427387904 is invalid");
    }

    @Test
    void refuses_negative_header_length_and_reports_it_unsigned() throws IOException {
        Path f = raw(-1L, "{}", 0);
        assertContains(refusal(f), "header length 18446744073709551615 is invalid");
    }

    @Test
    void refuses_zero_header_length() throws IOException {
        Path f = raw(0, "{}", 0);
        assertContains(refusal(f), "header length 0 is invalid");
    }

    @Test
    void refuses_header_over_the_sanity_cap_even_when_the_file_is_large_enough() throws IOException {
        long declared = SafeTensorsFile.MAX_HEADER_BYTES + 1;
        Path f = raw(declared, "{}", 0);
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(8 + declared + 16); // sparse: costs no disk
        }
        assertContains(refusal(f), "header length " + declared + " is invalid");
    }

    @Test
    void refuses_header_that_is_not_json() throws IOException {
        assertContains(refusal(hostile("{\"w\": {\"dtype\": ", 0)), "header is not valid JSON");
    }

    @ParameterizedTest
    @ValueSource(strings = {"[1, 2, 3]", "\"text\"", "42", "null"})
    void refuses_header_json_that_is_not_an_object(String header) throws IOException {
        assertContains(refusal(hostile(header, 0)), "header is not a JSON object");
    }

    @Test
    void refuses_metadata_that_is_not_an_object() throws IOException {
        assertContains(refusal(hostile("{\"__metadata__\": [\"pt\"]}", 0)), "__metadata__ is not an object");
    }

    // ---- one header entry ---------------------------------------------------------------------------------

    @Test
    void refuses_entry_that_is_not_an_object() throws IOException {
        assertContains(refusal(hostile(single("[\"F32\"]"), 0)), "tensor 'w'", "entry is not an object");
    }

    @Test
    void refuses_entry_without_dtype() throws IOException {
        assertContains(refusal(hostile(single("{\"shape\":[1],\"data_offsets\":[0,4]}"), 4)), "tensor 'w'",
                "missing dtype");
    }

    @ParameterizedTest
    @ValueSource(strings = {"F8_E4M3", "Q4_K", "complex64"})
    void refuses_unknown_dtype_naming_it(String dtype) throws IOException {
        Path f = hostile(single("{\"dtype\":\"" + dtype + "\",\"shape\":[1],\"data_offsets\":[0,1]}"), 1);
        assertContains(refusal(f), "tensor 'w'", "unknown dtype '" + dtype + "'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"dtype\":\"F32\",\"data_offsets\":[0,4]}",
                            "{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}",
                            "{\"dtype\":\"F32\",\"shape\":null,\"data_offsets\":[0,4]}"})
    void refuses_missing_shape(String entry) throws IOException {
        assertContains(refusal(hostile(single(entry), 16)), "tensor 'w'", "missing shape");
    }

    @ParameterizedTest
    @ValueSource(strings = {"[-1]", "[2, -2]", "[2.5]", "[1e0]", "[\"4\"]", "[null]", "[[4]]"})
    void refuses_shape_with_a_negative_or_non_integer_dimension(String shape) throws IOException {
        Path f = hostile(single("{\"dtype\":\"U8\",\"shape\":" + shape + ",\"data_offsets\":[0,4]}"), 4);
        assertContains(refusal(f), "tensor 'w'", "has an invalid dimension");
    }

    @ParameterizedTest
    @ValueSource(strings = {"[0]", "[0, 4, 8]", "\"0-4\"", "[0, \"4\"]", "[0.0, 4.0]", "[null, 4]"})
    void refuses_data_offsets_that_are_not_two_integers(String offsets) throws IOException {
        Path f = hostile(single("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" + offsets + "}"), 8);
        assertContains(refusal(f), "tensor 'w'", "data_offsets must be two integers");
    }

    @Test
    void refuses_data_offsets_beyond_64_bits_rather_than_reading_them_wrapped() throws IOException {
        // 2^64 + 4 read as a long wraps to 4, which would pass every later check
        Path f = hostile(single("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551620]}"), 4);
        assertContains(refusal(f), "tensor 'w'", "data_offsets must be two integers");
    }

    @Test
    void refuses_entry_without_data_offsets() throws IOException {
        Path f = hostile(single("{\"dtype\":\"F32\",\"shape\":[1]}"), 4);
        assertContains(refusal(f), "tensor 'w'", "data_offsets must be two integers");
    }

    @ParameterizedTest(name = "[{0}, {1}) in 8 data bytes")
    @CsvSource({"0, 12", "4, 12", "-4, 0", "8, 4", "12, 12", "0, 9223372036854775807"})
    void refuses_data_offsets_out_of_bounds_or_reversed(long begin, long end) throws IOException {
        Path f = hostile(single("{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[" + begin + "," + end + "]}"), 8);
        assertContains(refusal(f), "tensor 'w'", "data_offsets [" + begin + ", " + end + ")",
                "out of bounds of the 8-byte data section");
    }

    @Test
    void refuses_shape_times_dtype_size_that_differs_from_the_byte_length() throws IOException {
        Path f = hostile(single("{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}"), 24);
        assertContains(refusal(f), "tensor 'w'", "is 24 bytes but data_offsets span 20");
    }

    @Test
    void refuses_half_precision_tensor_declared_with_float32_byte_length() throws IOException {
        Path f = hostile(single("{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,16]}"), 16);
        assertContains(refusal(f), "tensor 'w'", "is 8 bytes but data_offsets span 16");
    }

    @Test
    void refuses_shape_whose_element_count_overflows_even_when_it_wraps_to_the_byte_length() throws IOException {
        // (2^61 + 1) * 8 = 2^64 + 8, which wraps to 8: only overflow-checked arithmetic catches it
        Path f = hostile(single("{\"dtype\":\"U8\",\"shape\":[2305843009213693953,8],\"data_offsets\":[0,8]}"), 8);
        assertContains(refusal(f), "tensor 'w'", "overflows");
    }

    @Test
    void refuses_shape_whose_byte_size_overflows() throws IOException {
        // 2^62 elements fit in a long; 2^62 * 4 bytes do not (and wrap to 0, matching the empty range)
        Path f = hostile(single("{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}"), 0);
        assertContains(refusal(f), "tensor 'w'", "overflows");
    }

    // ---- the tensors together -----------------------------------------------------------------------------

    @Test
    void refuses_two_tensors_whose_data_overlap_naming_both() throws IOException {
        Path f = hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        assertContains(refusal(f), "tensor 'b'", "data overlaps tensor 'a'");
    }

    @Test
    void refuses_tensor_nested_inside_another_listed_first() throws IOException {
        Path f = hostile("{\"inner\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[10,12]},"
                + "\"outer\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]},"
                + "\"after\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[16,20]}}", 20);
        assertContains(refusal(f), "tensor 'inner'", "data overlaps tensor 'outer'");
    }

    @Test
    void accepts_empty_tensor_at_an_offset_inside_another() throws IOException {
        Path f = hostile("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]}}", 8);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertEquals(0, st.info("empty").numElements());
            assertEquals(0, st.readFloats("empty").length);
        }
    }

    @Test
    void refuses_truncated_file_naming_the_tensor_that_lost_its_data() throws IOException {
        Path f = dir.resolve("truncated.safetensors");
        new SafeTensorsWriter()
                .add("first", DType.F32, new float[] {1, 2, 3, 4}, 4)
                .add("second", DType.F32, new float[] {5, 6, 7, 8}, 2, 2)
                .write(f);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 3);
        }
        assertContains(refusal(f), "tensor 'second'", "data_offsets [16, 32)", "of the 29-byte data section");
    }

    // ---- the happy path -----------------------------------------------------------------------------------

    /** Values that probe each format: signs, exact ones, ones needing rounding, very small and very large. */
    static final float[] PROBES = {0f, -0f, 1f, -1f, 0.5f, -2.75f, 3.14159265f, -0.1f, 1e-3f, -7.5e-5f, 3e-6f,
            -6e-8f, 1e-30f, -1e-39f, 1000.125f, -65504f, 60000f, 1e20f, -3e38f, 123456.789f};

    /** The most a value may move when stored in dtype: half its last-place unit, normal or subnormal. */
    static double tolerance(DType dtype, float v) {
        double a = Math.abs(v);
        return switch (dtype) {
            case F32 -> 0;
            case BF16 -> Math.max(a * 0x1p-8, 0x1p-134);
            case F16 -> Math.max(a * 0x1p-11, 0x1p-25);
            default -> throw new IllegalArgumentException();
        };
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void writer_round_trip_reads_values_back_within_the_dtype_rounding(DType dtype) {
        float[] values = PROBES.clone();
        if (dtype == DType.F16) {
            for (int i = 0; i < values.length; i++) { // beyond f16 range is infinity, checked in DTypesTest
                values[i] = Math.abs(values[i]) > 65504f ? Math.copySign(65504f, values[i]) : values[i];
            }
        }
        Path f = dir.resolve("round-trip.safetensors");
        new SafeTensorsWriter().add("t", dtype, values, 4, 5).write(f);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            TensorInfo info = st.info("t");
            assertEquals(dtype, info.dtype());
            assertArrayEquals(new long[] {4, 5}, info.shape());
            assertEquals(20L * dtype.size(), info.byteLength());
            float[] back = st.readFloats("t");
            assertEquals(values.length, back.length);
            for (int i = 0; i < values.length; i++) {
                double err = Math.abs((double) back[i] - values[i]);
                assertTrue(err <= tolerance(dtype, values[i]),
                        dtype + " " + values[i] + " read back as " + back[i] + " (error " + err + ")");
                assertEquals(Math.copySign(1f, values[i]), Math.copySign(1f, back[i]), "sign of " + values[i]);
            }
        }
    }

    @Test
    void float32_round_trip_is_bit_exact() {
        Path f = dir.resolve("f32.safetensors");
        float[] values = {Float.MIN_VALUE, -Float.MAX_VALUE, Math.nextUp(1f), -0f, 1e-42f};
        new SafeTensorsWriter().add("t", DType.F32, values, 5).write(f);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            float[] back = st.readFloats("t");
            for (int i = 0; i < values.length; i++) {
                assertEquals(Float.floatToRawIntBits(values[i]), Float.floatToRawIntBits(back[i]), "value " + i);
            }
        }
    }

    @Test
    void float64_tensor_reads_back_as_nearest_floats() {
        Path f = dir.resolve("f64.safetensors");
        new SafeTensorsWriter().add("d", DType.F64, new float[] {1.5f, -0.1f, 1e-40f}, 3).write(f);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertEquals(24, st.info("d").byteLength());
            assertArrayEquals(new float[] {1.5f, -0.1f, 1e-40f}, st.readFloats("d"));
        }
    }

    @Test
    void metadata_round_trips() {
        Path f = dir.resolve("meta.safetensors");
        new SafeTensorsWriter().metadata("format", "pt").metadata("note", "quiver test ✓")
                .add("t", DType.F32, new float[] {1}, 1).write(f);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertEquals(Map.of("format", "pt", "note", "quiver test ✓"), st.metadata());
            assertEquals(List.of("t"), List.copyOf(st.tensors().keySet()), "__metadata__ is not a tensor");
        }
    }

    @Test
    void tensors_are_listed_in_header_order_with_their_data() {
        Path f = dir.resolve("order.safetensors");
        new SafeTensorsWriter()
                .add("zeta", DType.F32, new float[] {1, 2}, 2)
                .add("alpha", DType.BF16, new float[] {3, 4, 5, 6, 7, 8}, 3, 2)
                .add("mid", DType.F16, new float[] {9}, 1)
                .write(f);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            assertEquals(List.of("zeta", "alpha", "mid"), List.copyOf(st.tensors().keySet()));
            assertArrayEquals(new float[] {1, 2}, st.readFloats("zeta"));
            assertArrayEquals(new float[] {3, 4, 5, 6, 7, 8}, st.readFloats("alpha"));
            assertArrayEquals(new float[] {9}, st.readFloats("mid"));
            assertArrayEquals(new long[] {8, 20}, new long[] {st.info("alpha").begin(), st.info("alpha").end()});
        }
    }

    @Test
    void data_is_little_endian_and_read_only() {
        Path f = dir.resolve("le.safetensors");
        new SafeTensorsWriter().add("t", DType.F32, new float[] {1f}, 1).write(f);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            ByteBuffer b = st.data("t");
            assertEquals(ByteOrder.LITTLE_ENDIAN, b.order());
            assertEquals(0x3f800000, b.getInt(0));
            assertTrue(b.isReadOnly());
        }
    }

    @Test
    void asking_for_an_absent_tensor_names_it() {
        Path f = dir.resolve("one.safetensors");
        new SafeTensorsWriter().add("t", DType.F32, new float[] {1f}, 1).write(f);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> st.data("missing"));
            assertContains(e.getMessage(), f.toString(), "tensor 'missing'", "no such tensor");
        }
    }

    @Test
    void refuses_to_read_an_integer_tensor_as_floats() throws IOException {
        Path f = hostile(single("{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}"), 8);
        try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
            SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> st.readFloats("w"));
            assertContains(e.getMessage(), "tensor 'w'", "dtype I32 is not a floating type");
        }
    }

    @Test
    void refuses_a_missing_file_naming_it() {
        Path f = dir.resolve("nowhere.safetensors");
        assertContains(refusal(f), "cannot open");
    }
}
