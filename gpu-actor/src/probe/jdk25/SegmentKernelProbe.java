import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The MemorySegment twin of {@code BufferKernelProbe} (see there for what is measured and how to run both): the
 * same loop, reading the weights through {@code FloatVector.fromMemorySegment}, the only off-heap load JDK 25's
 * Vector API keeps ({@code fromByteBuffer} was removed).
 */
public class SegmentKernelProbe {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    static void mul(MemorySegment w, int rows, int cols, float[] x, int T, float[] y) {
        for (int r = 0; r + 4 <= rows; r += 4) {
            int rb0 = r * cols * 4, rb1 = rb0 + cols * 4, rb2 = rb1 + cols * 4, rb3 = rb2 + cols * 4;
            int t = 0;
            for (; t + 4 <= T; t += 4) {
                FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00,
                        a12 = a00, a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00,
                        a32 = a00, a33 = a00;
                int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
                for (int i = 0; i < cols; i += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, x0 + i), v1 = FloatVector.fromArray(F, x, x1 + i);
                    FloatVector v2 = FloatVector.fromArray(F, x, x2 + i), v3 = FloatVector.fromArray(F, x, x3 + i);
                    FloatVector w0 = FloatVector.fromMemorySegment(F, w, (long)  rb0 + i * 4, LE);
                    a00 = v0.fma(w0, a00); a01 = v1.fma(w0, a01); a02 = v2.fma(w0, a02); a03 = v3.fma(w0, a03);
                    FloatVector w1 = FloatVector.fromMemorySegment(F, w, (long)  rb1 + i * 4, LE);
                    a10 = v0.fma(w1, a10); a11 = v1.fma(w1, a11); a12 = v2.fma(w1, a12); a13 = v3.fma(w1, a13);
                    FloatVector w2 = FloatVector.fromMemorySegment(F, w, (long)  rb2 + i * 4, LE);
                    a20 = v0.fma(w2, a20); a21 = v1.fma(w2, a21); a22 = v2.fma(w2, a22); a23 = v3.fma(w2, a23);
                    FloatVector w3 = FloatVector.fromMemorySegment(F, w, (long)  rb3 + i * 4, LE);
                    a30 = v0.fma(w3, a30); a31 = v1.fma(w3, a31); a32 = v2.fma(w3, a32); a33 = v3.fma(w3, a33);
                }
                // no array of vectors: it would box them
                y[(t + 0) * rows + r + 0] = a00.reduceLanes(VectorOperators.ADD);
                y[(t + 1) * rows + r + 0] = a01.reduceLanes(VectorOperators.ADD);
                y[(t + 2) * rows + r + 0] = a02.reduceLanes(VectorOperators.ADD);
                y[(t + 3) * rows + r + 0] = a03.reduceLanes(VectorOperators.ADD);
                y[(t + 0) * rows + r + 1] = a10.reduceLanes(VectorOperators.ADD);
                y[(t + 1) * rows + r + 1] = a11.reduceLanes(VectorOperators.ADD);
                y[(t + 2) * rows + r + 1] = a12.reduceLanes(VectorOperators.ADD);
                y[(t + 3) * rows + r + 1] = a13.reduceLanes(VectorOperators.ADD);
                y[(t + 0) * rows + r + 2] = a20.reduceLanes(VectorOperators.ADD);
                y[(t + 1) * rows + r + 2] = a21.reduceLanes(VectorOperators.ADD);
                y[(t + 2) * rows + r + 2] = a22.reduceLanes(VectorOperators.ADD);
                y[(t + 3) * rows + r + 2] = a23.reduceLanes(VectorOperators.ADD);
                y[(t + 0) * rows + r + 3] = a30.reduceLanes(VectorOperators.ADD);
                y[(t + 1) * rows + r + 3] = a31.reduceLanes(VectorOperators.ADD);
                y[(t + 2) * rows + r + 3] = a32.reduceLanes(VectorOperators.ADD);
                y[(t + 3) * rows + r + 3] = a33.reduceLanes(VectorOperators.ADD);
            }
            for (; t < T; t++) {
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                int x0 = t * cols;
                for (int i = 0; i < cols; i += L) {
                    FloatVector v = FloatVector.fromArray(F, x, x0 + i);
                    a0 = v.fma(FloatVector.fromMemorySegment(F, w, (long)  rb0 + i * 4, LE), a0);
                    a1 = v.fma(FloatVector.fromMemorySegment(F, w, (long)  rb1 + i * 4, LE), a1);
                    a2 = v.fma(FloatVector.fromMemorySegment(F, w, (long)  rb2 + i * 4, LE), a2);
                    a3 = v.fma(FloatVector.fromMemorySegment(F, w, (long)  rb3 + i * 4, LE), a3);
                }
                y[t * rows + r] = a0.reduceLanes(VectorOperators.ADD);
                y[t * rows + r + 1] = a1.reduceLanes(VectorOperators.ADD);
                y[t * rows + r + 2] = a2.reduceLanes(VectorOperators.ADD);
                y[t * rows + r + 3] = a3.reduceLanes(VectorOperators.ADD);
            }
        }
    }

    public static void main(String[] args) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        for (int[] shape : new int[][] {{2304, 768}, {16384, 1536}}) {
            int rows = shape[0], cols = shape[1];
            MemorySegment w = Arena.ofShared().allocate((long) rows * cols * 4, 64);
            for (int i = 0; i < rows * cols; i++) {
                w.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE), i * 4L, (i % 97) * 0.01f - 0.5f);
            }
            for (int T : rows > 4096 ? new int[] {1} : new int[] {1, 4, 32}) {
                float[] x = new float[T * cols];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (i % 89) * 0.02f - 0.9f;
                }
                float[] y = new float[T * rows];
                double flop = 2.0 * rows * cols * T;
                int reps = (int) Math.max(4, 2e9 / flop);
                for (int i = 0; i < reps; i++) {
                    mul(w, rows, cols, x, T, y);
                }
                double[] rate = new double[5];
                for (int k = 0; k < 5; k++) {
                    long c0 = mx.getCurrentThreadCpuTime();
                    for (int i = 0; i < reps; i++) {
                        mul(w, rows, cols, x, T, y);
                    }
                    double secs = (mx.getCurrentThreadCpuTime() - c0) / 1e9;
                    rate[k] = rows > 4096 ? 4.0 * rows * cols * reps / secs / 1e9 : flop * reps / secs / 1e9;
                }
                java.util.Arrays.sort(rate);
                System.out.printf("PROBE %s %s %dx%d T=%d %.1f %s%n", System.getProperty("java.version"),
                        "MemorySegment", rows, cols, T, rate[2], rows > 4096 ? "GB/s" : "GFLOP/s");
            }
        }
    }
}
