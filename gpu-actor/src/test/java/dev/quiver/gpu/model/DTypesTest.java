package dev.quiver.gpu.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The scalar half-precision conversions: exact on every representable value, round-to-nearest-even on every
 * halfway case (checked against an independent nearest-value search over all representable values), infinities
 * and NaN kept, IEEE half subnormals.
 */
class DTypesTest {

    /** Non-negative values of a 16-bit format, by bit pattern, up to and including the pattern of +infinity. */
    static final class Format {
        final String name;
        final int infBits;
        final double[] value; // value[bits] for bits in [0, infBits]; infinity counts as the next binade's start

        Format(String name, int infBits, java.util.function.IntToDoubleFunction decode, double infAsFinite) {
            this.name = name;
            this.infBits = infBits;
            this.value = new double[infBits + 1];
            for (int b = 0; b < infBits; b++) {
                value[b] = decode.applyAsDouble(b);
            }
            value[infBits] = infAsFinite;
        }

        /** Nearest representable bit pattern to |x| (ties to the even pattern), by binary search: the reference. */
        int nearestEven(double abs) {
            if (abs >= value[infBits]) {
                return infBits;
            }
            int lo = 0, hi = infBits; // value[lo] <= abs < value[hi]
            while (hi - lo > 1) {
                int mid = (lo + hi) >>> 1;
                if (value[mid] <= abs) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            double dLo = abs - value[lo], dHi = value[hi] - abs;
            if (dLo != dHi) {
                return dLo < dHi ? lo : hi;
            }
            return (lo & 1) == 0 ? lo : hi;
        }
    }

    /** bfloat16 decoded by its definition: sign, 8-bit exponent (bias 127), 7-bit fraction. */
    static final Format BF16 = new Format("bf16", 0x7f80, b -> {
        int e = b >>> 7, m = b & 0x7f;
        return e == 0 ? m * 0x1p-133 : (1 + m / 128.0) * Math.pow(2, e - 127);
    }, 0x1p128);

    /** IEEE binary16 decoded by its definition: 5-bit exponent (bias 15), 10-bit fraction, subnormals at 2^-24. */
    static final Format F16 = new Format("f16", 0x7c00, b -> {
        int e = b >>> 10, m = b & 0x3ff;
        return e == 0 ? m * 0x1p-24 : (1 + m / 1024.0) * Math.pow(2, e - 15);
    }, 65536.0);

    static int bits(short s) {
        return s & 0xffff;
    }

    static void assertBits(int expected, short actual, String what) {
        assertEquals(Integer.toHexString(expected), Integer.toHexString(bits(actual)), what);
    }

    // ---- decoding -----------------------------------------------------------------------------------------

    @Test
    void bf16_decodes_every_non_nan_pattern_to_its_defined_value() {
        for (int b = 0; b < 0x10000; b++) {
            int mag = b & 0x7fff;
            float f = DTypes.bf16ToFloat((short) b);
            if (mag > 0x7f80) {
                assertTrue(Float.isNaN(f), "pattern " + Integer.toHexString(b));
                continue;
            }
            double expected = mag == 0x7f80 ? Double.POSITIVE_INFINITY : BF16.value[mag];
            assertEquals((b & 0x8000) == 0 ? expected : -expected, f, 0.0, "pattern " + Integer.toHexString(b));
            assertEquals((b & 0x8000) != 0, (Float.floatToRawIntBits(f) & 0x80000000) != 0, "sign of " + b);
        }
    }

    @Test
    void f16_decodes_every_non_nan_pattern_to_its_defined_value() {
        for (int b = 0; b < 0x10000; b++) {
            int mag = b & 0x7fff;
            float f = DTypes.f16ToFloat((short) b);
            if (mag > 0x7c00) {
                assertTrue(Float.isNaN(f), "pattern " + Integer.toHexString(b));
                continue;
            }
            double expected = mag == 0x7c00 ? Double.POSITIVE_INFINITY : F16.value[mag];
            assertEquals((b & 0x8000) == 0 ? expected : -expected, f, 0.0, "pattern " + Integer.toHexString(b));
            assertEquals((b & 0x8000) != 0, (Float.floatToRawIntBits(f) & 0x80000000) != 0, "sign of " + b);
        }
    }

    @ParameterizedTest(name = "f16 {0} = {1}")
    @CsvSource({"0001, 5.9604645E-8", "0002, 1.1920929E-7", "03ff, 6.097555E-5", "0400, 6.1035156E-5",
                "3c00, 1.0", "3c01, 1.0009766", "c000, -2.0", "7bff, 65504.0", "fbff, -65504.0",
                "7c00, Infinity", "fc00, -Infinity", "3555, 0.33325195"})
    void f16_known_values_including_subnormals(String hex, float expected) {
        assertEquals(expected, DTypes.f16ToFloat((short) Integer.parseInt(hex, 16)));
    }

    // ---- encoding: exact on representable values ----------------------------------------------------------

    @Test
    void every_bf16_value_round_trips_exactly() {
        for (int b = 0; b < 0x10000; b++) {
            float f = DTypes.bf16ToFloat((short) b);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(DTypes.bf16ToFloat(DTypes.floatToBf16(f))), "NaN " + Integer.toHexString(b));
            } else {
                assertBits(b, DTypes.floatToBf16(f), "bf16 pattern " + Integer.toHexString(b));
            }
        }
    }

    @Test
    void every_f16_value_round_trips_exactly_subnormals_included() {
        for (int b = 0; b < 0x10000; b++) {
            float f = DTypes.f16ToFloat((short) b);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(DTypes.f16ToFloat(DTypes.floatToF16(f))), "NaN " + Integer.toHexString(b));
            } else {
                assertBits(b, DTypes.floatToF16(f), "f16 pattern " + Integer.toHexString(b));
            }
        }
    }

    // ---- encoding: round to nearest, ties to even ---------------------------------------------------------

    @ParameterizedTest(name = "bf16({0}) = {1}")
    @CsvSource({
            "3f808000, 3f80", // 1 + 2^-8, halfway between 1 (even) and 1 + 2^-7: stays 1
            "3f818000, 3f82", // halfway between 3f81 (odd) and 3f82 (even): up
            "3f808001, 3f81", // just above halfway: up
            "3f807fff, 3f80", // just below halfway: down
            "bf808000, bf80", // negative halfway: to even, sign kept
            "bf818000, bf82",
            "3fff8000, 4000", // halfway from 3fff (odd) at the top of a binade: carries into the exponent
            "7f7fffff, 7f80", // Float.MAX_VALUE rounds to infinity
            "7f7f7fff, 7f7f", // just below the halfway point to infinity: largest finite
            "00008000, 0000", // float subnormal halfway between 0 and the least bf16 subnormal: to zero
            "00018000, 0002"})
    void float_to_bf16_rounds_to_nearest_even(String floatHex, String bf16Hex) {
        float f = Float.intBitsToFloat(Integer.parseUnsignedInt(floatHex, 16));
        assertBits(Integer.parseInt(bf16Hex, 16), DTypes.floatToBf16(f), "bf16 of " + f);
    }

    @ParameterizedTest(name = "f16({0}) = {1}")
    @CsvSource({
            "0x1.002p0, 3c00",      // 1 + 2^-11: halfway between 3c00 (even) and 3c01: stays 1
            "0x1.006p0, 3c02",      // 1 + 3 * 2^-11: halfway between 3c01 and 3c02 (even): up
            "0x1.002002p0, 3c01",   // the float just above 1 + 2^-11: up
            "0x1.ffep0, 4000",      // 2 - 2^-11: halfway between 3fff (odd) and 4000: carries into the exponent
            "0x1.fffp0, 4000",      // 2 - 2^-12: above halfway, carries too
            "65504.0, 7bff",        // the largest finite half
            "65519.996, 7bff",      // the float just below the halfway point to infinity
            "65520.0, 7c00",        // halfway between 65504 (odd) and 'infinity': to infinity
            "1.0E10, 7c00",
            "-65520.0, fc00",
            "0x1p-25, 0000",        // halfway between 0 and the least subnormal 2^-24: to zero (even)
            "0x1.000002p-25, 0001", // just above: the least subnormal
            "0x1.8p-24, 0002",      // 3 * 2^-25: halfway between subnormals 1 and 2 (even): up
            "0x1.ffcp-15, 0400",    // 1023.5 * 2^-24: halfway from the largest subnormal to the least normal
            "-0x1p-24, 8001",
            "0x1.4p-25, 0001",      // 1.25 * 2^-25: nearer the least subnormal than zero
            "1.0E-10, 0000",
            "-1.0E-10, 8000"})
    void float_to_f16_rounds_to_nearest_even(float f, String f16Hex) {
        assertBits(Integer.parseInt(f16Hex, 16), DTypes.floatToF16(f), "f16 of " + f);
    }

    /** Every halfway point between neighbouring values, and the floats either side of it, against the reference. */
    @Test
    void every_halfway_case_and_its_neighbours_round_like_the_reference() {
        for (Format fmt : new Format[] {BF16, F16}) {
            for (int b = 0; b < fmt.infBits; b++) {
                float mid = (float) ((fmt.value[b] + fmt.value[b + 1]) / 2); // exact: both formats are narrower
                for (float x : new float[] {mid, Math.nextDown(mid), Math.nextUp(mid)}) {
                    checkAgainstReference(fmt, x);
                    checkAgainstReference(fmt, -x);
                }
            }
        }
    }

    @Test
    void random_floats_round_like_the_reference() {
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            float any = Float.intBitsToFloat(r.nextInt());
            if (!Float.isNaN(any)) {
                checkAgainstReference(BF16, any);
            }
            // concentrate on the f16 range: exponents from below its subnormals to beyond its largest value
            float inRange = (float) Math.scalb(r.nextDouble(1, 2), r.nextInt(-27, 17)) * (r.nextBoolean() ? 1 : -1);
            checkAgainstReference(F16, inRange);
        }
    }

    static void checkAgainstReference(Format fmt, float x) {
        int mag = fmt.nearestEven(Math.abs((double) x));
        int expected = (Float.floatToRawIntBits(x) < 0 ? 0x8000 : 0) | mag;
        short got = fmt == BF16 ? DTypes.floatToBf16(x) : DTypes.floatToF16(x);
        assertBits(expected, got, fmt.name + " of " + x + " (" + Integer.toHexString(Float.floatToRawIntBits(x)) + ")");
    }

    // ---- infinities and NaN -------------------------------------------------------------------------------

    @Test
    void infinities_stay_infinite_with_their_sign() {
        assertBits(0x7f80, DTypes.floatToBf16(Float.POSITIVE_INFINITY), "bf16 +inf");
        assertBits(0xff80, DTypes.floatToBf16(Float.NEGATIVE_INFINITY), "bf16 -inf");
        assertBits(0x7c00, DTypes.floatToF16(Float.POSITIVE_INFINITY), "f16 +inf");
        assertBits(0xfc00, DTypes.floatToF16(Float.NEGATIVE_INFINITY), "f16 -inf");
    }

    @ParameterizedTest(name = "NaN {0}")
    @CsvSource({"7fc00000", "7f800001", "ff800001", "7fbfffff", "7fffffff", "ffffffff", "7f80ffff"})
    void nan_stays_nan_even_when_its_payload_lies_only_in_the_dropped_bits(String hex) {
        // 7f800001 truncated to its top 16 bits would read as infinity
        float nan = Float.intBitsToFloat(Integer.parseUnsignedInt(hex, 16));
        assertTrue(Float.isNaN(nan));
        assertTrue(Float.isNaN(DTypes.bf16ToFloat(DTypes.floatToBf16(nan))), "bf16 of NaN " + hex);
        assertTrue(Float.isNaN(DTypes.f16ToFloat(DTypes.floatToF16(nan))), "f16 of NaN " + hex);
    }

    @Test
    void negative_zero_keeps_its_sign() {
        assertBits(0x8000, DTypes.floatToBf16(-0f), "bf16 -0");
        assertBits(0x8000, DTypes.floatToF16(-0f), "f16 -0");
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(DTypes.f16ToFloat((short) 0x8000)));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(DTypes.bf16ToFloat((short) 0x8000)));
    }

    // ---- buffers ------------------------------------------------------------------------------------------

    @Test
    void to_floats_reads_little_endian_elements_from_an_element_offset() {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(0, (short) 0x3c00).putShort(2, (short) 0xc000).putShort(4, (short) 0x0001).putShort(6, (short) 0x7bff);
        float[] out = new float[4];
        DTypes.toFloats(b, DType.F16, 1, out, 1, 3);
        assertEquals(0f, out[0], "left untouched");
        assertEquals(-2f, out[1]);
        assertEquals(0x1p-24f, out[2]);
        assertEquals(65504f, out[3]);

        b.putShort(8, (short) 0x3f80).putShort(10, (short) 0xc0a0);
        DTypes.toFloats(b, DType.BF16, 4, out, 0, 2);
        assertEquals(1f, out[0]);
        assertEquals(-5f, out[1]);
    }
}
