package dev.quiver.gpu.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.backend.cuda.DeviceArg.I32;
import dev.quiver.gpu.backend.cuda.DeviceArg.Ptr;
import dev.quiver.gpu.model.DTypes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The kernel twins on shapes the model tests do not reach: projection tiles with ragged edges (rows, N and K not
 * multiples of the 32×32×16 tiles), both weight types, against a float64 reference; argmax ties.
 */
class KernelTwinsTest {
    final Map<String, ByteBuffer> mem = new HashMap<>();

    ByteBuffer buf(String name, int bytes) {
        ByteBuffer b = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        mem.put(name, b);
        return b;
    }

    @ParameterizedTest(name = "rows {0}, N {1}, K {2}, {3}, tensor cores {4}")
    @CsvSource({"37, 50, 41, BF16, true", "37, 50, 41, F16, true", "1, 33, 17, BF16, true", "5, 50, 41, BF16, false",
            "8, 7, 24, F16, false", "3, 96, 64, BF16, false"})
    void a_projection_with_ragged_tiles_matches_a_float64_reference(int rows, int n, int k, WeightType t, boolean mma) {
        SplittableRandom r = new SplittableRandom(rows * 1000L + n * 10L + k);
        float[] w = new float[n * k];
        ByteBuffer wb = buf("w", 2 * n * k);
        for (int i = 0; i < w.length; i++) {
            short bits = t == WeightType.BF16 ? DTypes.floatToBf16((float) r.nextGaussian())
                    : DTypes.floatToF16((float) r.nextGaussian());
            w[i] = t == WeightType.BF16 ? DTypes.bf16ToFloat(bits) : DTypes.f16ToFloat(bits);
            wb.putShort(2 * i, bits);
        }
        float[] x = new float[rows * k];
        ByteBuffer xb = buf("x", 4 * rows * k);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
            xb.putFloat(4 * i, x[i]);
        }
        float[] bias = new float[n];
        ByteBuffer bb = buf("bias", 4 * n);
        for (int i = 0; i < n; i++) {
            bias[i] = (float) r.nextGaussian();
            bb.putFloat(4 * i, bias[i]);
        }
        ByteBuffer yb = buf("y", 4 * rows * n);
        for (int i = 0; i < rows * n; i++) {
            yb.putFloat(4 * i, 1f); // accumulate onto 1
        }
        LaunchPlanner p = new LaunchPlanner(LaunchPlannerTest.TINY, t, 1, 1, 1, mma ? 1 : 9);
        Launch l = p.matmul("w", "x", Ptr.of("bias"), "y", rows, n, k, true);
        assertEquals(mma, l.kernel() == t.matmul(true));
        KernelTwins.run(l, mem::get);
        double worst = 0;
        for (int m = 0; m < rows; m++) {
            for (int o = 0; o < n; o++) {
                double want = 1 + bias[o];
                for (int j = 0; j < k; j++) {
                    want += (double) w[o * k + j] * x[m * k + j];
                }
                worst = Math.max(worst, Math.abs(want - yb.getFloat(4 * (m * n + o))));
            }
        }
        // the hi/lo split keeps ~16 bits of each activation (f16 less: its lo part can underflow)
        assertTrue(worst < (mma && t == WeightType.F16 ? 2e-3 : 1e-4), "max |diff| " + worst);
    }

    @Test
    void argmax_breaks_ties_by_the_lowest_index_as_the_host_sampler_does() {
        ByteBuffer logits = buf("logits", 4 * 2 * 5);
        float[] v = {0f, 3f, 1f, 3f, -1f, -2f, -2f, -5f, -2f, -9f};
        for (int i = 0; i < v.length; i++) {
            logits.putFloat(4 * i, v[i]);
        }
        ByteBuffer ids = buf("ids", 8);
        KernelTwins.run(new Launch(Kernel.ARGMAX_ROWS, 2, 1, 256, List.of(Ptr.of("logits"), Ptr.of("ids"), new I32(2),
                new I32(5))), mem::get);
        assertArrayEquals(new int[] {1, 0}, new int[] {ids.getInt(0), ids.getInt(4)});
    }
}
