package dev.quiver.gpu.model;

import java.nio.ByteBuffer;

/** Scalar conversions between the stored half-precision formats and float. */
public final class DTypes {
    private DTypes() {
    }

    /** Lookup table from an IEEE half's 16 bits to its float value. */
    private static final float[] F16_TABLE = new float[65536];

    static {
        for (int i = 0; i < 65536; i++) {
            F16_TABLE[i] = halfToFloatSlow((short) i);
        }
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** Round-to-nearest-even float → bfloat16 (NaN stays NaN). */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float f16ToFloat(short bits) {
        return F16_TABLE[bits & 0xffff];
    }

    private static float halfToFloatSlow(short h) {
        int bits = h & 0xffff;
        int sign = (bits >>> 15) << 31;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        if (exp == 31) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** Round-to-nearest-even float → IEEE half. */
    public static short floatToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7fffffff;
        if (abs > 0x7f800000) {
            return (short) (sign | 0x7e00);
        }
        if (abs >= 0x477ff000) { // rounds to >= 65520: infinity
            return (short) (sign | 0x7c00);
        }
        if (abs < 0x38800000) { // subnormal half (or zero)
            float v = Float.intBitsToFloat(abs) * 0x1p24f;
            return (short) (sign | (int) Math.rint(v));
        }
        int e = (abs >>> 23) - 127 + 15;
        int m = abs & 0x7fffff;
        int half = (e << 10) | (m >>> 13);
        int rem = m & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1)) {
            half++;
        }
        return (short) (sign | half);
    }

    /** Converts n elements starting at element index {@code from} of a little-endian buffer to floats. */
    public static void toFloats(ByteBuffer src, DType dtype, long from, float[] dst, int dstOff, int n) {
        switch (dtype) {
            case F32 -> src.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).position((int) (from * 4))
                    .slice().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(dst, dstOff, n);
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOff + i] = bf16ToFloat(src.getShort((int) ((from + i) * 2)));
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOff + i] = f16ToFloat(src.getShort((int) ((from + i) * 2)));
                }
            }
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    dst[dstOff + i] = (float) src.getDouble((int) ((from + i) * 8));
                }
            }
            default -> throw new IllegalArgumentException("not a floating dtype: " + dtype);
        }
    }
}
