package dev.quiver.gpu.lora;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.DTypes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * An adapter tensor's file bytes to the host copy's float32 in one pass: widened (BF16, F16, F64 → F32), stored
 * and checked finite as each value goes by, so a load reads every byte once ({@link AdapterLoader}). And B ([out,
 * rank]) transposed to the [rank, out] layout the CPU expand reads ({@link LoraAdapter#bt}).
 *
 * <p>{@link #toFloatsScalar} is the readable twin of {@link #toFloats}: the same values, bit for bit, and the same
 * first non-finite index (differential test: {@code LoraTensorsTest}).
 */
final class LoraTensors {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED.withShape(
            VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(F.vectorShape());
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private LoraTensors() {
    }

    /**
     * Widens the {@code n} values of {@code dtype} at the start of {@code src} (little-endian) into {@code dst} and
     * returns the index of the first value that is NaN or infinite, or -1 when all are finite. {@code dst} holds
     * every value either way (so a caller can name the bad one).
     */
    static int toFloats(ByteBuffer src, DType dtype, float[] dst, int n) {
        int upper = n - n % L;
        VectorMask<Float> finite = F.maskAll(true);
        switch (dtype) {
            case F32 -> {
                for (int i = 0; i < upper; i += L) {
                    FloatVector v = FloatVector.fromByteBuffer(F, src, i * 4, LE);
                    v.intoArray(dst, i);
                    finite = finite.and(v.abs().compare(VectorOperators.LE, Float.MAX_VALUE));
                }
                for (int i = upper; i < n; i++) {
                    dst[i] = src.getFloat(i * 4);
                }
            }
            case BF16 -> {
                for (int i = 0; i < upper; i += L) {
                    // S2I sign-extends; the shift drops the extension: the bfloat16 bits become the float's high half
                    FloatVector v = ((IntVector) ShortVector.fromByteBuffer(S, src, i * 2, LE)
                            .convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16)
                            .reinterpretAsFloats();
                    v.intoArray(dst, i);
                    finite = finite.and(v.abs().compare(VectorOperators.LE, Float.MAX_VALUE));
                }
                for (int i = upper; i < n; i++) {
                    dst[i] = DTypes.bf16ToFloat(src.getShort(i * 2));
                }
            }
            default -> {
                // F16 and F64 adapters are rare: widened one value at a time, still in the same single pass
                upper = 0;
                DTypes.toFloats(src, dtype, 0, dst, 0, n);
            }
        }
        // NOTE: the check is folded into one mask and the bad index searched for only when it fails, so the
        // common all-finite case has no branch per vector.
        int from = finite.allTrue() ? upper : 0;
        for (int i = from; i < n; i++) {
            if (!Float.isFinite(dst[i])) {
                return i;
            }
        }
        return -1;
    }

    /** The readable twin of {@link #toFloats}: one value at a time. */
    static int toFloatsScalar(ByteBuffer src, DType dtype, float[] dst, int n) {
        int bad = -1;
        for (int i = 0; i < n; i++) {
            float v = switch (dtype) {
                case F32 -> src.getFloat(i * 4);
                case BF16 -> DTypes.bf16ToFloat(src.getShort(i * 2));
                case F16 -> DTypes.f16ToFloat(src.getShort(i * 2));
                case F64 -> (float) src.getDouble(i * 8);
                default -> throw new IllegalArgumentException("not a floating dtype: " + dtype);
            };
            dst[i] = v;
            if (bad < 0 && !Float.isFinite(v)) {
                bad = i;
            }
        }
        return bad;
    }

    /**
     * B ([out, rank] row-major, as PEFT stores it) transposed to [rank, out]. Row by row of the result, so the
     * writes are sequential and each pass over B reads one float of every 64-byte row (B of one projection fits
     * the L2 cache).
     */
    static float[] transpose(float[] b, int out, int rank) {
        float[] t = new float[rank * out];
        for (int k = 0; k < rank; k++) {
            int row = k * out;
            for (int o = 0, src = k; o < out; o++, src += rank) {
                t[row + o] = b[src];
            }
        }
        return t;
    }
}
