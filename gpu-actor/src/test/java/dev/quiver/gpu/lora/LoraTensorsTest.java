package dev.quiver.gpu.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelMaker;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The adapter weights' one-pass widen-and-check against its scalar twin, B's transpose, and the loader's two ways of
 * reading giving the same host copy and the same refusals.
 */
class LoraTensorsTest {
    private static final int L = FloatVector.SPECIES_PREFERRED.length();

    @TempDir
    Path tmp;

    /** n values of dtype as file bytes: normal, subnormal, zero and negative values, from a seed. */
    private static ByteBuffer bytes(DType dtype, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        ByteBuffer b = ByteBuffer.allocateDirect(n * dtype.size()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            float v = switch (i % 5) {
                case 0 -> (float) r.nextGaussian();
                case 1 -> Float.MIN_VALUE * r.nextInt(1, 1000);
                case 2 -> -0f;
                case 3 -> (float) (r.nextGaussian() * 1e30);
                default -> (float) -r.nextDouble();
            };
            put(b, dtype, i, v);
        }
        return b;
    }

    private static void put(ByteBuffer b, DType dtype, int i, float v) {
        switch (dtype) {
            case F32 -> b.putFloat(i * 4, v);
            case BF16 -> b.putShort(i * 2, (short) (Float.floatToRawIntBits(v) >>> 16));
            case F16 -> b.putShort(i * 2, Float.isNaN(v) ? (short) 0x7e00
                    : Float.isInfinite(v) ? (short) (v > 0 ? 0x7c00 : 0xfc00) : (short) 0x3c00);
            default -> throw new IllegalArgumentException(dtype.toString());
        }
    }

    private static void assertSameBits(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]),
                    what + ": element " + i);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void vector_pass_stores_the_bits_of_its_scalar_twin_at_every_length(DType dtype) {
        for (int n = 0; n <= 4 * L + 3; n++) {
            ByteBuffer src = bytes(dtype, n, n);
            float[] fast = new float[n];
            float[] twin = new float[n];
            assertEquals(-1, LoraTensors.toFloats(src, dtype, fast, n), "all finite, n = " + n);
            assertEquals(-1, LoraTensors.toFloatsScalar(src, dtype, twin, n));
            assertSameBits(twin, fast, dtype + " n = " + n);
        }
    }

    @Test
    void still_stores_the_twin_bits_and_finds_the_bad_value_once_the_jit_has_compiled_it() {
        int n = 2 * L + 3;
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            ByteBuffer good = bytes(dtype, n, 3);
            ByteBuffer bad = bytes(dtype, n, 3);
            put(bad, dtype, L + 1, Float.POSITIVE_INFINITY);
            float[] twin = new float[n];
            LoraTensors.toFloatsScalar(good, dtype, twin, n);
            float[] fast = new float[n];
            for (int round = 0; round < 30_000; round++) { // enough calls for C2 to compile the vector loop
                assertEquals(-1, LoraTensors.toFloats(good, dtype, fast, n));
                assertEquals(L + 1, LoraTensors.toFloats(bad, dtype, fast, n));
            }
            assertEquals(-1, LoraTensors.toFloats(good, dtype, fast, n));
            assertSameBits(twin, fast, dtype.toString());
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void finds_the_first_nan_or_infinity_in_the_vector_body_and_in_the_tail(DType dtype) {
        int n = 3 * L + 5; // three full vectors and a tail
        float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
        for (int at = 0; at < n; at++) {
            for (float v : bad) {
                ByteBuffer src = bytes(dtype, n, 99);
                put(src, dtype, at, v);
                if (at + L < n) {
                    put(src, dtype, at + L, Float.NaN); // a later bad value must not be the one reported
                }
                float[] fast = new float[n];
                float[] twin = new float[n];
                int expected = LoraTensors.toFloatsScalar(src, dtype, twin, n);
                assertEquals(at, expected, "twin");
                assertEquals(at, LoraTensors.toFloats(src, dtype, fast, n), dtype + " " + v + " at " + at);
                assertSameBits(twin, fast, dtype + " " + v + " at " + at);
            }
        }
    }

    @Test
    void widening_bfloat16_puts_its_bits_in_the_float_high_half() {
        ByteBuffer src = ByteBuffer.allocateDirect(2 * L + 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < L + 1; i++) {
            src.putShort(i * 2, (short) 0xbfc0); // -1.5
        }
        float[] out = new float[L + 1];
        assertEquals(-1, LoraTensors.toFloats(src, DType.BF16, out, L + 1));
        for (float v : out) {
            assertEquals(-1.5f, v);
        }
    }

    @Test
    void transpose_puts_b_row_o_column_k_at_row_k_column_o() {
        int out = 37;
        int rank = 5;
        float[] b = new float[out * rank];
        for (int i = 0; i < b.length; i++) {
            b[i] = i;
        }
        float[] t = LoraTensors.transpose(b, out, rank);
        for (int o = 0; o < out; o++) {
            for (int k = 0; k < rank; k++) {
                assertEquals(b[o * rank + k], t[k * out + o], "o " + o + " k " + k);
            }
        }
    }

    @Test
    void transposed_b_is_made_once_per_host_copy_and_null_for_an_untargeted_module() {
        Path dir = tmp.resolve("qv");
        ModelMaker.writeAdapter(dir, AdapterLoaderTest.BASE, new ModelMaker.AdapterSpec("a", 8, 16,
                List.of(LoraModule.Q, LoraModule.V), false), DType.F32, 5);
        LoraAdapter a = AdapterLoader.load(dir, "qv@1", AdapterLoaderTest.BASE, 64);
        long before = a.bytes();
        float[] bt = a.bt(1, LoraModule.V);
        assertArrayEquals(LoraTensors.transpose(a.b(1, LoraModule.V), 32, 8), bt);
        assertSame(bt, a.bt(1, LoraModule.V), "kept with the host copy, not made again");
        assertNull(a.bt(1, LoraModule.K));
        assertEquals(before + 4L * bt.length, a.bytes(), "the copy counts as host memory");
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
    void both_ways_of_reading_give_the_same_host_copy(DType dtype) {
        Path dir = tmp.resolve("all-" + dtype);
        ModelMaker.writeAdapter(dir, AdapterLoaderTest.BASE, new ModelMaker.AdapterSpec("a", 4, 8,
                List.of(LoraModule.values()), false), dtype, 11);
        LoraAdapter fast = AdapterLoader.load(dir, "x@1", AdapterLoaderTest.BASE, 64, AdapterLoader.Reads.VECTOR);
        LoraAdapter twin = AdapterLoader.load(dir, "x@1", AdapterLoaderTest.BASE, 64,
                AdapterLoader.Reads.MAPPED_SCALAR);
        assertEquals(twin.rank, fast.rank);
        assertEquals(twin.scale, fast.scale);
        for (int i = 0; i < twin.a.length; i++) {
            assertSameBits(twin.a[i], fast.a[i], "A " + i);
            assertSameBits(twin.b[i], fast.b[i], "B " + i);
        }
    }

    @Test
    void both_ways_of_reading_refuse_a_non_finite_weight_with_the_same_message() {
        Path dir = tmp.resolve("inf");
        ModelMaker.writeAdapter(dir, AdapterLoaderTest.BASE, new ModelMaker.AdapterSpec("a", 8, 16,
                List.of(LoraModule.Q, LoraModule.V), false), DType.F32, 5);
        String b = AdapterLoaderTest.name(1, LoraModule.V, "B");
        AdapterLoaderTest.editWeights(dir, t -> t.get(b).values()[45] = Float.NEGATIVE_INFINITY);
        String expected = "adapter 'x@1': tensor '" + b + "' contains -Infinity at element 45";
        for (AdapterLoader.Reads reads : AdapterLoader.Reads.values()) {
            AdapterRefusedException e = assertThrows(AdapterRefusedException.class,
                    () -> AdapterLoader.load(dir, "x@1", AdapterLoaderTest.BASE, 64, reads));
            assertEquals(expected, e.getMessage(), reads.toString());
        }
    }
}
