import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The JDK question of issue 10, measured: the CPU backend's float32 product (4 rows x 4 tokens and 4 rows x 1 token
 * register blocks) reading weights through JDK 17's {@code FloatVector.fromByteBuffer}. {@code SegmentKernelProbe}
 * is the same loop through {@code fromMemorySegment}, which is all JDK 25 offers. Single-file programs, outside the
 * Maven build (the project stays on Java 17):
 * {@code java --add-modules jdk.incubator.vector BufferKernelProbe.java} on 17,
 * {@code .../temurin-25-jdk-amd64/bin/java --add-modules jdk.incubator.vector SegmentKernelProbe.java} on 25.
 * Prints GFLOP per thread-CPU second (median of 5) for a 2304x768 matrix (L2/L3-resident) and tokens 1, 4, 32, and
 * GB/s of weights per thread-CPU second for a 96 MiB matrix at 1 token (memory-bound).
 */
public class BufferKernelProbe {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    static void mul(ByteBuffer w, int rows, int cols, float[] x, int T, float[] y) {
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
                    FloatVector w0 = FloatVector.fromByteBuffer(F, w, rb0 + i * 4, LE);
                    a00 = v0.fma(w0, a00); a01 = v1.fma(w0, a01); a02 = v2.fma(w0, a02); a03 = v3.fma(w0, a03);
                    FloatVector w1 = FloatVector.fromByteBuffer(F, w, rb1 + i * 4, LE);
                    a10 = v0.fma(w1, a10); a11 = v1.fma(w1, a11); a12 = v2.fma(w1, a12); a13 = v3.fma(w1, a13);
                    FloatVector w2 = FloatVector.fromByteBuffer(F, w, rb2 + i * 4, LE);
                    a20 = v0.fma(w2, a20); a21 = v1.fma(w2, a21); a22 = v2.fma(w2, a22); a23 = v3.fma(w2, a23);
                    FloatVector w3 = FloatVector.fromByteBuffer(F, w, rb3 + i * 4, LE);
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
                    a0 = v.fma(FloatVector.fromByteBuffer(F, w, rb0 + i * 4, LE), a0);
                    a1 = v.fma(FloatVector.fromByteBuffer(F, w, rb1 + i * 4, LE), a1);
                    a2 = v.fma(FloatVector.fromByteBuffer(F, w, rb2 + i * 4, LE), a2);
                    a3 = v.fma(FloatVector.fromByteBuffer(F, w, rb3 + i * 4, LE), a3);
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
            ByteBuffer w = ByteBuffer.allocateDirect(rows * cols * 4).order(LE);
            for (int i = 0; i < rows * cols; i++) {
                w.putFloat(i * 4, (i % 97) * 0.01f - 0.5f);
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
                        "ByteBuffer", rows, cols, T, rate[2], rows > 4096 ? "GB/s" : "GFLOP/s");
            }
        }
    }
}
