import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.SplittableRandom;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Issue 10, Q8_0 rows: is llama.cpp's way of multiplying Q8_0 weights (activations quantised to int8 per block of
 * 32, integer block sums, one float multiply-add per block) faster than the engine's kernel (weights widened to
 * float, float activations) on JDK 17's Vector API? Single-file program, outside the Maven build:
 * {@code java --add-modules jdk.incubator.vector Int8ActivationProbe.java f32act|int8act [rows cols]} (add
 * {@code -XX:UseAVX=2} for 8 lanes), alternating the two variants in separate JVMs. One float species (the
 * preferred one), as in the engine.
 *
 * <p>Variants, each a matrix [rows, cols] of Q8_0 quants times T tokens, single-threaded:
 * <ul>
 *   <li>{@code f32act T<4}: the engine's decode kernel (Q8Kernels.rowInRegisters): one byte vector per 4L quants,
 *       widened to float a quarter at a time, times the block scale, FMA with float activations.
 *   <li>{@code f32act T>=4}: the engine's tile path: 4 rows dequantised into a float tile, 4 rows x 4 tokens of FMAs.
 *   <li>{@code int8act T<4}: per block, quants widened to shorts (B2S), short multiply with the token's int8
 *       activations (widened once per token), S2I and add to L int lanes (lane l: the block's columns = l mod L),
 *       I2F, one FMA by d_w·d_x per block. llama.cpp's AVX2 layout; integer sums exact.
 *   <li>{@code int8act T>=4}: the same chain (bit for bit, checked) from a tile: 4 rows of quants widened to float
 *       once, activations as float quants; the lane partials are products of integers below 2^24, so float
 *       multiply-adds compute them exactly; then the same FMA by d_w·d_x, 4 rows x 4 tokens.
 * </ul>
 * The activation quantisation (scalar, once per token) is inside the timed int8 figures.
 * Prints GMAC per thread-CPU second for T = 1, 2, 8, 32, median of the rounds after warm-up, with the load average.
 */
public class Int8ActivationProbe {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final VectorSpecies<Byte> B = ByteVector.SPECIES_64.withShape(F.vectorShape());
    static final VectorSpecies<Short> S = ShortVector.SPECIES_64.withShape(F.vectorShape());
    static final VectorSpecies<Integer> I = IntVector.SPECIES_64.withShape(F.vectorShape());
    static final int BLOCK = 32;
    /** Blocks per byte vector: 1 with 8 float lanes, 2 with 16. */
    static final int G = 4 * L / BLOCK;
    static final int P2 = 2 * L / BLOCK, P3 = 3 * L / BLOCK;
    static {
        if (L != 8 && L != 16) {
            throw new IllegalStateException("written for 8 or 16 float lanes, not " + L);
        }
    }

    // ---- Q8_0 quantisation (ggml's quantize_row_q8_0_ref; the scale kept as a float here) ----

    static float quantizeBlock(float[] x, int from, byte[] q, int qOff) {
        float amax = 0f;
        for (int j = 0; j < BLOCK; j++) {
            amax = Math.max(amax, Math.abs(x[from + j]));
        }
        float d = amax / 127f;
        float id = d != 0f ? 1f / d : 0f;
        for (int j = 0; j < BLOCK; j++) {
            q[qOff + j] = (byte) Math.round(x[from + j] * id);
        }
        return d;
    }

    /** T tokens quantised: quants widened to shorts and to floats, scales [T, nb]. */
    static void quantizeActivations(float[] x, int T, int cols, short[] xs, float[] xq, float[] xd, byte[] tmp) {
        int nb = cols / BLOCK;
        for (int t = 0; t < T; t++) {
            for (int b = 0; b < nb; b++) {
                xd[t * nb + b] = quantizeBlock(x, t * cols + b * BLOCK, tmp, 0);
                for (int j = 0; j < BLOCK; j++) {
                    xs[t * cols + b * BLOCK + j] = tmp[j];
                    if (xq != null) {
                        xq[t * cols + b * BLOCK + j] = tmp[j];
                    }
                }
            }
        }
    }

    // ---- the engine's kernels (float activations), copied from Q8Kernels ----

    static void f32actRows(byte[] q, float[] d, int cols, int rows, float[] x, int T, float[] y, float[] lanes) {
        int nb = cols / BLOCK;
        for (int r = 0; r < rows; r++) {
            int q0 = r * cols, d0 = r * nb;
            for (int t = 0; t < T; t++) {
                FloatVector a = FloatVector.zero(F);
                int x0 = t * cols;
                for (int b = 0; b < nb; b += G) {
                    FloatVector s = FloatVector.broadcast(F, d[d0 + b]);
                    FloatVector u = G == 1 ? s : FloatVector.broadcast(F, d[d0 + b + G - 1]);
                    int c0 = b * BLOCK;
                    ByteVector v = ByteVector.fromArray(B, q, q0 + c0);
                    a = FloatVector.fromArray(F, x, x0 + c0).fma(dequant(v, 0, s), a);
                    a = FloatVector.fromArray(F, x, x0 + c0 + L).fma(dequant(v, 1, s), a);
                    a = FloatVector.fromArray(F, x, x0 + c0 + 2 * L).fma(dequant(v, 2, P2 == 0 ? s : u), a);
                    a = FloatVector.fromArray(F, x, x0 + c0 + 3 * L).fma(dequant(v, 3, P3 == 0 ? s : u), a);
                }
                a.intoArray(lanes, 0);
                y[t * rows + r] = sumLanes(lanes, 0);
            }
        }
    }

    static FloatVector dequant(ByteVector block, int p, FloatVector scale) {
        return ((FloatVector) block.convertShape(VectorOperators.B2F, F, p)).mul(scale);
    }

    static void f32actTiled(byte[] q, float[] d, int cols, int rows, float[] x, int T, float[] y, float[] lanes,
                            float[] tile) {
        int nb = cols / BLOCK;
        for (int r = 0; r + 4 <= rows; r += 4) {
            for (int j = 0; j < 4; j++) {
                for (int b = 0; b < nb; b += G) {
                    FloatVector s = FloatVector.broadcast(F, d[(r + j) * nb + b]);
                    FloatVector u = G == 1 ? s : FloatVector.broadcast(F, d[(r + j) * nb + b + G - 1]);
                    int c0 = b * BLOCK;
                    ByteVector v = ByteVector.fromArray(B, q, (r + j) * cols + c0);
                    dequant(v, 0, s).intoArray(tile, j * cols + c0);
                    dequant(v, 1, s).intoArray(tile, j * cols + c0 + L);
                    dequant(v, 2, P2 == 0 ? s : u).intoArray(tile, j * cols + c0 + 2 * L);
                    dequant(v, 3, P3 == 0 ? s : u).intoArray(tile, j * cols + c0 + 3 * L);
                }
            }
            for (int t = 0; t + 4 <= T; t += 4) {
                f32Block4x4(tile, cols, x, t, y, rows, r, lanes);
            }
        }
    }

    static void f32Block4x4(float[] w, int cols, float[] x, int t, float[] y, int rows, int r, float[] lanes) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00,
                a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        for (int i = 0; i < cols; i += L) {
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + i), v1 = FloatVector.fromArray(F, x, x1 + i);
            FloatVector v2 = FloatVector.fromArray(F, x, x2 + i), v3 = FloatVector.fromArray(F, x, x3 + i);
            FloatVector w0 = FloatVector.fromArray(F, w, i);
            a00 = v0.fma(w0, a00); a01 = v1.fma(w0, a01); a02 = v2.fma(w0, a02); a03 = v3.fma(w0, a03);
            FloatVector w1 = FloatVector.fromArray(F, w, cols + i);
            a10 = v0.fma(w1, a10); a11 = v1.fma(w1, a11); a12 = v2.fma(w1, a12); a13 = v3.fma(w1, a13);
            FloatVector w2 = FloatVector.fromArray(F, w, 2 * cols + i);
            a20 = v0.fma(w2, a20); a21 = v1.fma(w2, a21); a22 = v2.fma(w2, a22); a23 = v3.fma(w2, a23);
            FloatVector w3 = FloatVector.fromArray(F, w, 3 * cols + i);
            a30 = v0.fma(w3, a30); a31 = v1.fma(w3, a31); a32 = v2.fma(w3, a32); a33 = v3.fma(w3, a33);
        }
        a00.intoArray(lanes, 0); a01.intoArray(lanes, L); a02.intoArray(lanes, 2 * L);
        a03.intoArray(lanes, 3 * L); a10.intoArray(lanes, 4 * L); a11.intoArray(lanes, 5 * L);
        a12.intoArray(lanes, 6 * L); a13.intoArray(lanes, 7 * L); a20.intoArray(lanes, 8 * L);
        a21.intoArray(lanes, 9 * L); a22.intoArray(lanes, 10 * L); a23.intoArray(lanes, 11 * L);
        a30.intoArray(lanes, 12 * L); a31.intoArray(lanes, 13 * L); a32.intoArray(lanes, 14 * L);
        a33.intoArray(lanes, 15 * L);
        store16(lanes, y, rows, t, r);
    }

    // ---- llama.cpp's way: int8 activations ----

    static void int8actRows(byte[] q, float[] d, int cols, int rows, short[] xs, float[] xd, int T, float[] y,
                            float[] lanes) {
        int nb = cols / BLOCK;
        for (int r = 0; r < rows; r++) {
            int q0 = r * cols, d0 = r * nb;
            for (int t = 0; t < T; t++) {
                FloatVector acc = FloatVector.zero(F);
                int x0 = t * cols, e0 = t * nb;
                for (int b = 0; b < nb; b += G) {
                    int c0 = b * BLOCK;
                    ByteVector wv = ByteVector.fromArray(B, q, q0 + c0);
                    ShortVector p0 = ((ShortVector) wv.convertShape(VectorOperators.B2S, S, 0))
                            .mul(ShortVector.fromArray(S, xs, x0 + c0));
                    ShortVector p1 = ((ShortVector) wv.convertShape(VectorOperators.B2S, S, 1))
                            .mul(ShortVector.fromArray(S, xs, x0 + c0 + 2 * L));
                    if (G == 1) {
                        // 8 lanes: the block's two halves added in shorts (|2 products| <= 32258), then to ints
                        ShortVector p = p0.add(p1);
                        IntVector i0 = ((IntVector) p.convertShape(VectorOperators.S2I, I, 0))
                                .add((IntVector) p.convertShape(VectorOperators.S2I, I, 1));
                        acc = ((FloatVector) i0.convert(VectorOperators.I2F, 0))
                                .fma(FloatVector.broadcast(F, d[d0 + b] * xd[e0 + b]), acc);
                    } else {
                        // 16 lanes: p0 is block b, p1 block b + 1
                        IntVector i0 = ((IntVector) p0.convertShape(VectorOperators.S2I, I, 0))
                                .add((IntVector) p0.convertShape(VectorOperators.S2I, I, 1));
                        acc = ((FloatVector) i0.convert(VectorOperators.I2F, 0))
                                .fma(FloatVector.broadcast(F, d[d0 + b] * xd[e0 + b]), acc);
                        IntVector i1 = ((IntVector) p1.convertShape(VectorOperators.S2I, I, 0))
                                .add((IntVector) p1.convertShape(VectorOperators.S2I, I, 1));
                        acc = ((FloatVector) i1.convert(VectorOperators.I2F, 0))
                                .fma(FloatVector.broadcast(F, d[d0 + b + 1] * xd[e0 + b + 1]), acc);
                    }
                }
                acc.intoArray(lanes, 0);
                y[t * rows + r] = sumLanes(lanes, 0);
            }
        }
    }

    static void int8actTiled(byte[] q, float[] d, int cols, int rows, float[] xq, float[] xd, int T, float[] y,
                             float[] lanes, float[] tile) {
        int nb = cols / BLOCK;
        for (int r = 0; r + 4 <= rows; r += 4) {
            for (int i = 0; i < 4 * cols; i += 4 * L) {
                ByteVector v = ByteVector.fromArray(B, q, r * cols + i);
                ((FloatVector) v.convertShape(VectorOperators.B2F, F, 0)).intoArray(tile, i);
                ((FloatVector) v.convertShape(VectorOperators.B2F, F, 1)).intoArray(tile, i + L);
                ((FloatVector) v.convertShape(VectorOperators.B2F, F, 2)).intoArray(tile, i + 2 * L);
                ((FloatVector) v.convertShape(VectorOperators.B2F, F, 3)).intoArray(tile, i + 3 * L);
            }
            for (int t = 0; t + 4 <= T; t += 4) {
                int8Block4x4(tile, d, r * nb, nb, cols, xq, xd, t, y, rows, r, lanes);
            }
        }
    }

    /** The block's lane partials of row tile w and token x, exact (integers below 2^24). */
    static FloatVector partial(float[] w, int wo, float[] x, int xo) {
        FloatVector p = FloatVector.fromArray(F, x, xo).mul(FloatVector.fromArray(F, w, wo));
        p = FloatVector.fromArray(F, x, xo + L).fma(FloatVector.fromArray(F, w, wo + L), p);
        if (L == 8) {
            p = FloatVector.fromArray(F, x, xo + 16).fma(FloatVector.fromArray(F, w, wo + 16), p);
            p = FloatVector.fromArray(F, x, xo + 24).fma(FloatVector.fromArray(F, w, wo + 24), p);
        }
        return p;
    }

    static void int8Block4x4(float[] w, float[] d, int d0, int nb, int cols, float[] x, float[] xd, int t, float[] y,
                             int rows, int r, float[] lanes) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00,
                a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        int e0 = t * nb, e1 = e0 + nb, e2 = e1 + nb, e3 = e2 + nb;
        for (int b = 0; b < nb; b++) {
            int c = b * BLOCK;
            float dx0 = xd[e0 + b], dx1 = xd[e1 + b], dx2 = xd[e2 + b], dx3 = xd[e3 + b];
            float dw = d[d0 + b];
            a00 = partial(w, c, x, x0 + c).fma(FloatVector.broadcast(F, dw * dx0), a00);
            a01 = partial(w, c, x, x1 + c).fma(FloatVector.broadcast(F, dw * dx1), a01);
            a02 = partial(w, c, x, x2 + c).fma(FloatVector.broadcast(F, dw * dx2), a02);
            a03 = partial(w, c, x, x3 + c).fma(FloatVector.broadcast(F, dw * dx3), a03);
            dw = d[d0 + nb + b];
            a10 = partial(w, cols + c, x, x0 + c).fma(FloatVector.broadcast(F, dw * dx0), a10);
            a11 = partial(w, cols + c, x, x1 + c).fma(FloatVector.broadcast(F, dw * dx1), a11);
            a12 = partial(w, cols + c, x, x2 + c).fma(FloatVector.broadcast(F, dw * dx2), a12);
            a13 = partial(w, cols + c, x, x3 + c).fma(FloatVector.broadcast(F, dw * dx3), a13);
            dw = d[d0 + 2 * nb + b];
            a20 = partial(w, 2 * cols + c, x, x0 + c).fma(FloatVector.broadcast(F, dw * dx0), a20);
            a21 = partial(w, 2 * cols + c, x, x1 + c).fma(FloatVector.broadcast(F, dw * dx1), a21);
            a22 = partial(w, 2 * cols + c, x, x2 + c).fma(FloatVector.broadcast(F, dw * dx2), a22);
            a23 = partial(w, 2 * cols + c, x, x3 + c).fma(FloatVector.broadcast(F, dw * dx3), a23);
            dw = d[d0 + 3 * nb + b];
            a30 = partial(w, 3 * cols + c, x, x0 + c).fma(FloatVector.broadcast(F, dw * dx0), a30);
            a31 = partial(w, 3 * cols + c, x, x1 + c).fma(FloatVector.broadcast(F, dw * dx1), a31);
            a32 = partial(w, 3 * cols + c, x, x2 + c).fma(FloatVector.broadcast(F, dw * dx2), a32);
            a33 = partial(w, 3 * cols + c, x, x3 + c).fma(FloatVector.broadcast(F, dw * dx3), a33);
        }
        a00.intoArray(lanes, 0); a01.intoArray(lanes, L); a02.intoArray(lanes, 2 * L);
        a03.intoArray(lanes, 3 * L); a10.intoArray(lanes, 4 * L); a11.intoArray(lanes, 5 * L);
        a12.intoArray(lanes, 6 * L); a13.intoArray(lanes, 7 * L); a20.intoArray(lanes, 8 * L);
        a21.intoArray(lanes, 9 * L); a22.intoArray(lanes, 10 * L); a23.intoArray(lanes, 11 * L);
        a30.intoArray(lanes, 12 * L); a31.intoArray(lanes, 13 * L); a32.intoArray(lanes, 14 * L);
        a33.intoArray(lanes, 15 * L);
        store16(lanes, y, rows, t, r);
    }

    // ---- shared ----

    /** The 16 accumulators of a 4 x 4 block (row j, token k at slot j*4 + k) summed into y. */
    static void store16(float[] lanes, float[] y, int rows, int t, int r) {
        for (int j = 0; j < 4; j++) {
            for (int k = 0; k < 4; k++) {
                y[(t + k) * rows + r + j] = sumLanes(lanes, (j * 4 + k) * L);
            }
        }
    }

    static float sumLanes(float[] lanes, int base) {
        float s = lanes[base];
        for (int l = 1; l < L; l++) {
            s += lanes[base + l];
        }
        return s;
    }

    public static void main(String[] args) throws Exception {
        boolean int8 = args.length > 0 && args[0].equals("int8act");
        int rows = args.length > 1 ? Integer.parseInt(args[1]) : 2304;
        int cols = args.length > 2 ? Integer.parseInt(args[2]) : 768;
        int nb = cols / BLOCK;
        int[] tokens = {1, 2, 8, 32};
        int tmax = 32;
        SplittableRandom rnd = new SplittableRandom(1);
        float[] wf = new float[rows * cols];
        for (int i = 0; i < wf.length; i++) {
            wf[i] = (float) rnd.nextDouble(-1, 1);
        }
        byte[] q = new byte[rows * cols];
        float[] d = new float[rows * nb];
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < nb; b++) {
                d[r * nb + b] = quantizeBlock(wf, r * cols + b * BLOCK, q, r * cols + b * BLOCK);
            }
        }
        float[] x = new float[tmax * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-2, 2);
        }
        short[] xs = new short[tmax * cols];
        float[] xq = new float[tmax * cols];
        float[] xd = new float[tmax * nb];
        byte[] tmp = new byte[BLOCK];
        float[] y = new float[tmax * rows], y2 = new float[tmax * rows];
        float[] lanes = new float[16 * L];
        float[] tile = new float[4 * cols];

        // each variant's two paths give the same bits (one chain per output)
        quantizeActivations(x, 8, cols, xs, xq, xd, tmp);
        if (int8) {
            int8actRows(q, d, cols, rows, xs, xd, 8, y, lanes);
            int8actTiled(q, d, cols, rows, xq, xd, 8, y2, lanes, tile);
        } else {
            f32actRows(q, d, cols, rows, x, 8, y, lanes);
            f32actTiled(q, d, cols, rows, x, 8, y2, lanes, tile);
        }
        if (!Arrays.equals(y, 0, 8 * rows, y2, 0, 8 * rows)) {
            throw new AssertionError("rows and tile paths differ");
        }

        // NOTE: one variant per JVM, as in the engine: with both in one JVM the Vector API's shared conversion code
        // saw several conversion kinds and the float kernel ran on boxed vectors (2 GMAC/s instead of ~10)
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        int rounds = 7;
        double[][] rate = new double[tokens.length][rounds];
        for (int round = 0; round < rounds; round++) {
            for (int ti = 0; ti < tokens.length; ti++) {
                int T = tokens[ti];
                long macs = (long) rows * cols * T;
                int reps = (int) Math.max(3, 400_000_000L / macs);
                long c0 = mx.getCurrentThreadCpuTime();
                for (int rep = 0; rep < reps; rep++) {
                    if (!int8) {
                        if (T < 4) {
                            f32actRows(q, d, cols, rows, x, T, y, lanes);
                        } else {
                            f32actTiled(q, d, cols, rows, x, T, y, lanes, tile);
                        }
                    } else {
                        quantizeActivations(x, T, cols, xs, T < 4 ? null : xq, xd, tmp);
                        if (T < 4) {
                            int8actRows(q, d, cols, rows, xs, xd, T, y, lanes);
                        } else {
                            int8actTiled(q, d, cols, rows, xq, xd, T, y, lanes, tile);
                        }
                    }
                }
                rate[ti][round] = (double) macs * reps / (mx.getCurrentThreadCpuTime() - c0);
            }
        }
        String load = new String(java.nio.file.Files.readAllBytes(java.nio.file.Path.of("/proc/loadavg"))).trim();
        StringBuilder line = new StringBuilder(
                String.format("%-7s %dx%d L=%d", int8 ? "int8act" : "f32act", rows, cols, L));
        for (int ti = 0; ti < tokens.length; ti++) {
            double[] r = Arrays.copyOfRange(rate[ti], 2, rounds);
            Arrays.sort(r);
            line.append(String.format("  T=%d %.1f", tokens[ti], r[r.length / 2]));
        }
        System.out.println(line + "  GMAC/thread-CPU-s, median of rounds 3-" + rounds + " (load " + load + ")");
    }
}
