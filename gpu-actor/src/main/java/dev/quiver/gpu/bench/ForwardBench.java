package dev.quiver.gpu.bench;

import com.typesafe.config.ConfigFactory;
import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.backend.cpu.CpuBackend;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.model.WeightFormat;
import dev.quiver.gpu.worker.EngineSettings;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * {@code quiver bench forward --model DIR}: a focused timing of {@link CpuBackend#forward}, meant to compare two
 * builds of the CPU kernels on a shared machine. It runs a fixed number of steps per measurement (decode at 1, 8
 * and 32 sequences at a fixed context, and a 128-token prefill), and reports both tokens per wall-clock second and
 * tokens per process-CPU second: on a machine that other jobs share, wall-clock rates follow the load, while CPU
 * time follows the work (it still grows a little with cache and memory contention).
 *
 * <p>Output lines are {@code RESULT <name> <tokens/wall s> <tokens/cpu s>}, easy to collect over repeated, interleaved
 * runs of two builds (docs/BENCHMARKS.md, "2026-12-06: CPU kernels, issue 10").
 */
public final class ForwardBench {
    private ForwardBench() {
    }

    public static void main(String[] args) throws IOException {
        Path model = null;
        int threads = 2;
        int context = 128;
        int steps = 48;
        WeightFormat format = WeightFormat.NATIVE;
        boolean inHeap = EngineSettings.fromConfig(ConfigFactory.load()).weightsInHeap();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> model = Path.of(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--context" -> context = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--weight-format" -> format = WeightFormat.parse(args[++i], "--weight-format");
                case "--weights-in-heap" -> inHeap = Boolean.parseBoolean(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (model == null) {
            System.err.println("usage: quiver bench forward --model DIR [--threads N] [--context TOKENS] [--steps N] "
                    + "[--weight-format native|q8_0] [--weights-in-heap true|false]");
            System.exit(2);
        }
        ModelWeights w = ModelWeights.load(model);
        int blockSize = 16;
        int maxSeqs = 32;
        int blocksPerSeq = (context + 2 * steps + 128 + blockSize - 1) / blockSize;
        try (CpuBackend b = new CpuBackend(w, new CpuBackend.Settings(threads, maxSeqs * blocksPerSeq, blockSize, 1,
                format, inHeap))) {
            for (int batch : new int[] {1, 8, 32}) {
                decode(b, batch, context, steps, blocksPerSeq);
            }
            prefill(b, 128, Math.max(3, steps / 8), blocksPerSeq);
        }
    }

    private static void decode(CpuBackend b, int batch, int context, int steps, int blocksPerSeq) {
        int vocab = b.config().vocabSize();
        int[][] tables = new int[batch][blocksPerSeq];
        for (int s = 0; s < batch; s++) {
            for (int j = 0; j < blocksPerSeq; j++) {
                tables[s][j] = s * blocksPerSeq + j;
            }
        }
        // the cached context is arbitrary: decode reads whatever the cache holds, which costs the same
        int[] tok = new int[batch];
        int[] slot = new int[batch];
        int[] seq = new int[batch];
        int[] rows = new int[batch];
        for (int s = 0; s < batch; s++) {
            tok[s] = 5 + s;
            slot[s] = -1;
            seq[s] = s;
            rows[s] = s;
        }
        float[] logits = new float[batch * vocab];
        int[] pos = new int[batch];
        int step = 0;
        for (int i = 0; i < steps; i++) { // warm-up
            Arrays.fill(pos, context + step++ % steps);
            b.forward(new ForwardBatch(tok, pos, slot, seq, tables, rows), logits);
        }
        long cpu0 = cpuNanos();
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            Arrays.fill(pos, context + step++ % steps);
            b.forward(new ForwardBatch(tok, pos, slot, seq, tables, rows), logits);
        }
        report("decode" + batch, (double) batch * steps, System.nanoTime() - t0, cpuNanos() - cpu0);
    }

    private static void prefill(CpuBackend b, int len, int reps, int blocksPerSeq) {
        int vocab = b.config().vocabSize();
        int[] table = new int[blocksPerSeq];
        for (int j = 0; j < blocksPerSeq; j++) {
            table[j] = j;
        }
        int[] tok = new int[len];
        int[] pos = new int[len];
        int[] slot = new int[len];
        int[] seq = new int[len];
        for (int i = 0; i < len; i++) {
            tok[i] = 1 + (i * 7) % (vocab - 1);
            pos[i] = i;
            slot[i] = -1;
        }
        ForwardBatch batch = new ForwardBatch(tok, pos, slot, seq, new int[][] {table}, new int[] {len - 1});
        for (int i = 0; i < reps; i++) {
            b.forward(batch, new float[vocab]);
        }
        long cpu0 = cpuNanos();
        long t0 = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            b.forward(batch, new float[vocab]);
        }
        report("prefill" + len, (double) reps * len, System.nanoTime() - t0, cpuNanos() - cpu0);
    }

    private static void report(String name, double tokens, long wallNanos, long cpuNanos) {
        System.out.printf("RESULT %s %.1f %.1f%n", name, tokens / (wallNanos / 1e9), tokens / (cpuNanos / 1e9));
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }
}
