import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Issue 10, F32 decode at ~20 GB/s: is it the weights' home (a file mapping read through JDK 17's
 * {@code FloatVector.fromByteBuffer}) or the memory? The engine's float32 product (VectorKernels.mul at the code of
 * eca6146: 4 rows x 4 tokens and 4 rows x 1 token register blocks, single rows, sequential lane sums, scalar tail;
 * the 16-lane path, AVX2's 4x3 blocks left out) in two copies that differ only in the weights' type. Single-file
 * program, outside the Maven build:
 * {@code java --add-modules jdk.incubator.vector HeapWeightsProbe.java mapped|direct|heap [dir]}, one variant per
 * JVM, alternating (two variants warmed in one JVM have made C2 box vectors before).
 * <ul>
 *   <li>{@code mapped}: a read-only mapping of a file in {@code dir} (default /tmp), as the engine maps a model;
 *   <li>{@code direct}: the same bytes copied into a direct (anonymous-memory) buffer, same kernel;
 *   <li>{@code heap}: the same floats in a {@code float[]}, loaded with {@code FloatVector.fromArray}.
 * </ul>
 * Prints GFLOP per thread-CPU second for a 2304x768 matrix (the small model's gate/up; L2/L3-resident) at 1, 4 and
 * 32 tokens, and GB of weights per thread-CPU second for a 16384x1536 matrix (96 MiB, streamed from memory) at 1
 * token; median of 5 rounds after a warm-up at every size. Every variant prints a hash of its outputs' bits, which
 * must be equal (same FMA chains).
 */
public class HeapWeightsProbe {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    interface Product {
        void mul(float[] x, int T, float[] y);
    }

    // ---- lane sums, tails: as the engine's ----

    static void sumLanes(float[] scratch, int n) {
        int out = 16 * L;
        int j = 0;
        for (; j + 4 <= n; j += 4) {
            int b0 = j * L, b1 = b0 + L, b2 = b1 + L, b3 = b2 + L;
            float s0 = scratch[b0], s1 = scratch[b1], s2 = scratch[b2], s3 = scratch[b3];
            for (int l = 1; l < L; l++) {
                s0 += scratch[b0 + l];
                s1 += scratch[b1 + l];
                s2 += scratch[b2 + l];
                s3 += scratch[b3 + l];
            }
            scratch[out + j] = s0;
            scratch[out + j + 1] = s1;
            scratch[out + j + 2] = s2;
            scratch[out + j + 3] = s3;
        }
        for (; j < n; j++) {
            int base = j * L;
            float s = scratch[base];
            for (int l = 1; l < L; l++) {
                s += scratch[base + l];
            }
            scratch[out + j] = s;
        }
    }

    static float tail(ByteBuffer w, int row, float[] x, int x0, int upper, int cols, float s) {
        for (int i = upper; i < cols; i++) {
            s = Math.fma(x[x0 + i], w.getFloat((row * cols + i) * 4), s);
        }
        return s;
    }

    static float tail(float[] w, int row, float[] x, int x0, int upper, int cols, float s) {
        for (int i = upper; i < cols; i++) {
            s = Math.fma(x[x0 + i], w[row * cols + i], s);
        }
        return s;
    }

    // ---- the engine's kernel, weights in a ByteBuffer ----

    static void mulBuffer(ByteBuffer w, int cols, float[] x, int T, float[] y, int yStride, int r0, int r1,
                          float[] scratch) {
        int upper = F.loopBound(cols);
        int sums = 16 * L;
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            int t = 0;
            for (; t + 4 <= T; t += 4) {
                FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
                FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
                FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
                FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
                int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
                int rb0 = r * cols * 4, rb1 = rb0 + cols * 4, rb2 = rb1 + cols * 4, rb3 = rb2 + cols * 4;
                for (int i = 0; i < upper; i += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
                    FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                    FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                    FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                    FloatVector w0 = FloatVector.fromByteBuffer(F, w, rb0 + i * 4, LE);
                    a00 = v0.fma(w0, a00);
                    a01 = v1.fma(w0, a01);
                    a02 = v2.fma(w0, a02);
                    a03 = v3.fma(w0, a03);
                    FloatVector w1 = FloatVector.fromByteBuffer(F, w, rb1 + i * 4, LE);
                    a10 = v0.fma(w1, a10);
                    a11 = v1.fma(w1, a11);
                    a12 = v2.fma(w1, a12);
                    a13 = v3.fma(w1, a13);
                    FloatVector w2 = FloatVector.fromByteBuffer(F, w, rb2 + i * 4, LE);
                    a20 = v0.fma(w2, a20);
                    a21 = v1.fma(w2, a21);
                    a22 = v2.fma(w2, a22);
                    a23 = v3.fma(w2, a23);
                    FloatVector w3 = FloatVector.fromByteBuffer(F, w, rb3 + i * 4, LE);
                    a30 = v0.fma(w3, a30);
                    a31 = v1.fma(w3, a31);
                    a32 = v2.fma(w3, a32);
                    a33 = v3.fma(w3, a33);
                }
                a00.intoArray(scratch, 0);
                a01.intoArray(scratch, L);
                a02.intoArray(scratch, 2 * L);
                a03.intoArray(scratch, 3 * L);
                a10.intoArray(scratch, 4 * L);
                a11.intoArray(scratch, 5 * L);
                a12.intoArray(scratch, 6 * L);
                a13.intoArray(scratch, 7 * L);
                a20.intoArray(scratch, 8 * L);
                a21.intoArray(scratch, 9 * L);
                a22.intoArray(scratch, 10 * L);
                a23.intoArray(scratch, 11 * L);
                a30.intoArray(scratch, 12 * L);
                a31.intoArray(scratch, 13 * L);
                a32.intoArray(scratch, 14 * L);
                a33.intoArray(scratch, 15 * L);
                sumLanes(scratch, 16);
                for (int j = 0; j < 4; j++) {
                    for (int k = 0; k < 4; k++) {
                        y[(t + k) * yStride + r + j] = tail(w, r + j, x, (t + k) * cols, upper, cols,
                                scratch[sums + j * 4 + k]);
                    }
                }
            }
            for (; t < T; t++) {
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                int x0 = t * cols;
                int rb0 = r * cols * 4, rb1 = rb0 + cols * 4, rb2 = rb1 + cols * 4, rb3 = rb2 + cols * 4;
                for (int i = 0; i < upper; i += L) {
                    FloatVector v = FloatVector.fromArray(F, x, x0 + i);
                    a0 = v.fma(FloatVector.fromByteBuffer(F, w, rb0 + i * 4, LE), a0);
                    a1 = v.fma(FloatVector.fromByteBuffer(F, w, rb1 + i * 4, LE), a1);
                    a2 = v.fma(FloatVector.fromByteBuffer(F, w, rb2 + i * 4, LE), a2);
                    a3 = v.fma(FloatVector.fromByteBuffer(F, w, rb3 + i * 4, LE), a3);
                }
                a0.intoArray(scratch, 0);
                a1.intoArray(scratch, L);
                a2.intoArray(scratch, 2 * L);
                a3.intoArray(scratch, 3 * L);
                sumLanes(scratch, 4);
                for (int j = 0; j < 4; j++) {
                    y[t * yStride + r + j] = tail(w, r + j, x, x0, upper, cols, scratch[sums + j]);
                }
            }
        }
        for (; r < r1; r++) {
            for (int t = 0; t < T; t++) {
                FloatVector a0 = FloatVector.zero(F);
                int x0 = t * cols;
                for (int i = 0; i < upper; i += L) {
                    a0 = FloatVector.fromArray(F, x, x0 + i).fma(FloatVector.fromByteBuffer(F, w, (r * cols + i) * 4, LE), a0);
                }
                a0.intoArray(scratch, 0);
                sumLanes(scratch, 1);
                y[t * yStride + r] = tail(w, r, x, x0, upper, cols, scratch[sums]);
            }
        }
    }

    // ---- the same kernel, weights in a float[] ----

    static void mulArray(float[] w, int cols, float[] x, int T, float[] y, int yStride, int r0, int r1,
                         float[] scratch) {
        int upper = F.loopBound(cols);
        int sums = 16 * L;
        int r = r0;
        for (; r + 4 <= r1; r += 4) {
            int t = 0;
            for (; t + 4 <= T; t += 4) {
                FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
                FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
                FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
                FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
                int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
                int rb0 = r * cols, rb1 = rb0 + cols, rb2 = rb1 + cols, rb3 = rb2 + cols;
                for (int i = 0; i < upper; i += L) {
                    FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
                    FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
                    FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
                    FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
                    FloatVector w0 = FloatVector.fromArray(F, w, rb0 + i);
                    a00 = v0.fma(w0, a00);
                    a01 = v1.fma(w0, a01);
                    a02 = v2.fma(w0, a02);
                    a03 = v3.fma(w0, a03);
                    FloatVector w1 = FloatVector.fromArray(F, w, rb1 + i);
                    a10 = v0.fma(w1, a10);
                    a11 = v1.fma(w1, a11);
                    a12 = v2.fma(w1, a12);
                    a13 = v3.fma(w1, a13);
                    FloatVector w2 = FloatVector.fromArray(F, w, rb2 + i);
                    a20 = v0.fma(w2, a20);
                    a21 = v1.fma(w2, a21);
                    a22 = v2.fma(w2, a22);
                    a23 = v3.fma(w2, a23);
                    FloatVector w3 = FloatVector.fromArray(F, w, rb3 + i);
                    a30 = v0.fma(w3, a30);
                    a31 = v1.fma(w3, a31);
                    a32 = v2.fma(w3, a32);
                    a33 = v3.fma(w3, a33);
                }
                a00.intoArray(scratch, 0);
                a01.intoArray(scratch, L);
                a02.intoArray(scratch, 2 * L);
                a03.intoArray(scratch, 3 * L);
                a10.intoArray(scratch, 4 * L);
                a11.intoArray(scratch, 5 * L);
                a12.intoArray(scratch, 6 * L);
                a13.intoArray(scratch, 7 * L);
                a20.intoArray(scratch, 8 * L);
                a21.intoArray(scratch, 9 * L);
                a22.intoArray(scratch, 10 * L);
                a23.intoArray(scratch, 11 * L);
                a30.intoArray(scratch, 12 * L);
                a31.intoArray(scratch, 13 * L);
                a32.intoArray(scratch, 14 * L);
                a33.intoArray(scratch, 15 * L);
                sumLanes(scratch, 16);
                for (int j = 0; j < 4; j++) {
                    for (int k = 0; k < 4; k++) {
                        y[(t + k) * yStride + r + j] = tail(w, r + j, x, (t + k) * cols, upper, cols,
                                scratch[sums + j * 4 + k]);
                    }
                }
            }
            for (; t < T; t++) {
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                int x0 = t * cols;
                int rb0 = r * cols, rb1 = rb0 + cols, rb2 = rb1 + cols, rb3 = rb2 + cols;
                for (int i = 0; i < upper; i += L) {
                    FloatVector v = FloatVector.fromArray(F, x, x0 + i);
                    a0 = v.fma(FloatVector.fromArray(F, w, rb0 + i), a0);
                    a1 = v.fma(FloatVector.fromArray(F, w, rb1 + i), a1);
                    a2 = v.fma(FloatVector.fromArray(F, w, rb2 + i), a2);
                    a3 = v.fma(FloatVector.fromArray(F, w, rb3 + i), a3);
                }
                a0.intoArray(scratch, 0);
                a1.intoArray(scratch, L);
                a2.intoArray(scratch, 2 * L);
                a3.intoArray(scratch, 3 * L);
                sumLanes(scratch, 4);
                for (int j = 0; j < 4; j++) {
                    y[t * yStride + r + j] = tail(w, r + j, x, x0, upper, cols, scratch[sums + j]);
                }
            }
        }
        for (; r < r1; r++) {
            for (int t = 0; t < T; t++) {
                FloatVector a0 = FloatVector.zero(F);
                int x0 = t * cols;
                for (int i = 0; i < upper; i += L) {
                    a0 = FloatVector.fromArray(F, x, x0 + i).fma(FloatVector.fromArray(F, w, r * cols + i), a0);
                }
                a0.intoArray(scratch, 0);
                sumLanes(scratch, 1);
                y[t * yStride + r] = tail(w, r, x, x0, upper, cols, scratch[sums]);
            }
        }
    }

    /** The matrix [rows, cols] of deterministic pseudo-random weights, written once to dir and mapped. */
    static ByteBuffer mapped(Path dir, int rows, int cols) throws IOException {
        Path f = dir.resolve("heapprobe-" + rows + "x" + cols + ".f32");
        long bytes = 4L * rows * cols;
        if (!Files.exists(f) || Files.size(f) != bytes) {
            ByteBuffer b = ByteBuffer.allocate((int) bytes).order(LE);
            long s = 0x9E3779B97F4A7C15L;
            for (int i = 0; i < rows * cols; i++) {
                s = s * 6364136223846793005L + 1442695040888963407L;
                b.putFloat(i * 4, ((s >>> 40) / (float) (1 << 24) - 0.5f) * 0.1f);
            }
            Path tmp = dir.resolve(f.getFileName() + ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
            Files.move(tmp, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, bytes).order(LE);
        }
    }

    static Product product(String variant, ByteBuffer file, int rows, int cols) {
        float[] scratch = new float[16 * L + 16];
        switch (variant) {
            case "mapped":
                return (x, T, y) -> mulBuffer(file, cols, x, T, y, rows, 0, rows, scratch);
            case "direct": {
                ByteBuffer d = ByteBuffer.allocateDirect(file.capacity()).order(LE);
                d.put(file.duplicate().order(LE)).clear();
                return (x, T, y) -> mulBuffer(d, cols, x, T, y, rows, 0, rows, scratch);
            }
            case "heap": {
                float[] a = new float[rows * cols];
                file.duplicate().order(LE).asFloatBuffer().get(a);
                return (x, T, y) -> mulArray(a, cols, x, T, y, rows, 0, rows, scratch);
            }
            default:
                throw new IllegalArgumentException("variant: mapped, direct or heap");
        }
    }

    static float[] activations(int T, int cols) {
        float[] x = new float[T * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (i % 89) * 0.02f - 0.9f;
        }
        return x;
    }

    static double loadAverage() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }

    public static void main(String[] args) throws Exception {
        String variant = args.length > 0 ? args[0] : "heap";
        Path dir = Path.of(args.length > 1 ? args[1] : "/tmp");
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        double load0 = loadAverage();
        int[][] shapes = {{2304, 768}, {16384, 1536}};
        int[][] tokens = {{1, 4, 32}, {1}};
        Product[] products = new Product[shapes.length];
        for (int s = 0; s < shapes.length; s++) {
            products[s] = product(variant, mapped(dir, shapes[s][0], shapes[s][1]), shapes[s][0], shapes[s][1]);
        }
        // warm-up: every size, interleaved, so C2 compiles the kernel having seen all of them (as the engine does)
        for (int round = 0; round < 3; round++) {
            for (int s = 0; s < shapes.length; s++) {
                for (int T : tokens[s]) {
                    float[] x = activations(T, shapes[s][1]);
                    float[] y = new float[T * shapes[s][0]];
                    int reps = (int) Math.max(3, 1.5e9 / (2.0 * shapes[s][0] * shapes[s][1] * T));
                    for (int i = 0; i < reps; i++) {
                        products[s].mul(x, T, y);
                    }
                }
            }
        }
        StringBuilder line = new StringBuilder();
        int hash = 17;
        for (int s = 0; s < shapes.length; s++) {
            int rows = shapes[s][0], cols = shapes[s][1];
            for (int T : tokens[s]) {
                float[] x = activations(T, cols);
                float[] y = new float[T * rows];
                double flop = 2.0 * rows * cols * T;
                int reps = (int) Math.max(3, 1e9 / flop);
                double[] rate = new double[5];
                for (int k = 0; k < rate.length; k++) {
                    long c0 = mx.getCurrentThreadCpuTime();
                    for (int i = 0; i < reps; i++) {
                        products[s].mul(x, T, y);
                    }
                    double secs = (mx.getCurrentThreadCpuTime() - c0) / 1e9;
                    rate[k] = T == 1 && rows > 4096 ? 4.0 * rows * cols * reps / secs / 1e9 : flop * reps / secs / 1e9;
                }
                for (float v : y) {
                    hash = 31 * hash + Float.floatToRawIntBits(v);
                }
                double[] sorted = rate.clone();
                Arrays.sort(sorted);
                line.append(String.format(" %dx%d/T%d=%.1f%s", rows, cols, T, sorted[2],
                        rows > 4096 ? "GB/s" : "GF/s"));
            }
        }
        System.out.printf("PROBE %-6s L=%d%s hash=%08x load=%.1f->%.1f%n", variant, L, line, hash, load0,
                loadAverage());
    }
}
