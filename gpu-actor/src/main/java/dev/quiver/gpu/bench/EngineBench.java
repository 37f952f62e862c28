package dev.quiver.gpu.bench;

import com.typesafe.config.ConfigFactory;
import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.backend.cpu.CpuBackend;
import dev.quiver.gpu.backend.cpu.Parallel;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.model.WeightFormat;
import dev.quiver.gpu.worker.EngineSettings;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code quiver bench engine --model DIR}: the CPU backend's benchmarks, measured at the backend (no
 * scheduler, sampling or actor overhead), each after a warm-up:
 * <ol>
 *   <li>memory bandwidth of this machine (a parallel vector read of a buffer much larger than the caches),
 *       then decode at batch 1, 8, 32 as tokens/s and achieved weight-read bandwidth against it;</li>
 *   <li>a batch of 32 sequences on 32 distinct rank-16 all-projection adapters against the base alone;</li>
 *   <li>adapter cold load, disk → validated host copy → slot, median and p99: today's reads and, in alternating
 *       rounds of the same run, the mapped, scalar-checked reads of before 2026-12-06
 *       ({@link AdapterLoader.Reads});</li>
 *   <li>prefill tokens/s at 512-token prompts.</li>
 * </ol>
 * {@code --only cold} runs section 3 alone (a minute instead of several), {@code --only lora} section 2.
 */
public final class EngineBench {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final long MEASURE_SECONDS = 3;

    private EngineBench() {
    }

    public static void main(String[] args) throws IOException {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals("--weight-format") && args[i + 1].contains(",")) {
                WeightFormatBench.main(args); // several formats: measured side by side, interleaved
                return;
            }
        }
        Path model = null;
        WeightFormat weightFormat = WeightFormat.NATIVE;
        int threads = Runtime.getRuntime().availableProcessors();
        int context = 128;
        String only = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> model = Path.of(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--context" -> context = Integer.parseInt(args[++i]);
                case "--only" -> only = args[++i];
                case "--weight-format" -> weightFormat = WeightFormat.parse(args[++i], "--weight-format");
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (only != null && !only.equals("cold") && !only.equals("lora")) {
            throw new IllegalArgumentException("--only takes cold or lora, not " + only);
        }
        if (model == null) {
            System.err.println("usage: quiver bench engine --model DIR [--threads N] [--context TOKENS] "
                    + "[--only cold|lora] [--weight-format native|q8_0|native,q8_0]");
            System.exit(2);
        }
        ModelWeights w = ModelWeights.load(model);
        ModelConfig c = w.config;
        System.out.printf("model %s: %,d parameters, %d layers, hidden %d, vocab %d, %s, weight format %s; %d threads,"
                + " %s%n", model, c.parameterCount(), c.numLayers(), c.hiddenSize(), c.vocabSize(), w.dtype,
                weightFormat, threads,
                System.getProperty("java.vm.version"));

        boolean all = only == null;
        double bw = all ? memoryBandwidth(threads) : 0;
        if (all) {
            System.out.printf("%n[1] memory bandwidth (parallel vector read of 1 GiB): %.2f GB/s%n", bw / 1e9);
        }
        int blockSize = 16;
        int maxSeqs = 32;
        int blocksPerSeq = (Math.max(context, 512) + 512 + blockSize - 1) / blockSize; // room to decode 512 more
        Path adapterDir = Files.createTempDirectory("quiver-bench-adapters");
        List<LoraAdapter> adapters = new ArrayList<>();
        List<Path> adapterPaths = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            Path d = adapterDir.resolve("a" + i);
            ModelMaker.writeAdapter(d, c, new ModelMaker.AdapterSpec("a" + i, 16, 32, List.of(LoraModule.values()),
                    false), DType.F32, 1000 + i);
            adapterPaths.add(d);
            adapters.add(AdapterLoader.load(d, "a" + i, c, 64));
        }
        try (CpuBackend b = new CpuBackend(w, new CpuBackend.Settings(threads, maxSeqs * blocksPerSeq, blockSize, 32,
                weightFormat, EngineSettings.fromConfig(ConfigFactory.load()).weightsInHeap()))) {
            for (int i = 0; i < 32; i++) {
                b.loadSlot(i, adapters.get(i));
            }
            long weightBytes = w.matrixBytes();
            double base1 = 0;
            for (int batch : all ? new int[] {1, 8, 32} : new int[0]) {
                double tps = decode(b, batch, context, false, blocksPerSeq);
                double stepsPerSec = tps / batch;
                double achieved = stepsPerSec * weightBytes;
                if (batch == 1) {
                    base1 = tps;
                }
                System.out.printf("    decode batch %2d (context %d): %8.1f tokens/s, %6.1f steps/s, weight reads %.2f GB/s"
                        + " = %.0f%% of measured bandwidth%s%n", batch, context, tps, stepsPerSec, achieved / 1e9,
                        100 * achieved / bw, batch == 1 ? "" : String.format(", %.1fx batch 1", tps / base1));
            }
            if (all || only.equals("lora")) {
                System.out.printf("%n[2] multi-LoRA: batch 32, 32 distinct rank-16 all-projection adapters vs base%n");
                double base = decode(b, 32, context, false, blocksPerSeq);
                double lora = decode(b, 32, context, true, blocksPerSeq);
                System.out.printf("    base %.1f tokens/s, 32 adapters %.1f tokens/s = %.1f%% of base%n", base, lora,
                        100 * lora / base);
            }

            if (!all && !only.equals("cold")) {
                return;
            }
            System.out.printf("%n[3] adapter cold load, disk -> validated host copy -> slot (rank 16, all projections, "
                    + "%.1f MB F32 on disk; page cache warm)%n", Files.size(adapterPaths.get(0)
                    .resolve("adapter_model.safetensors")) / 1e6);
            // NOTE: the two ways of reading alternate load by load (which goes first alternates too), so a busy
            // machine slows both alike; each arm's figures are over its own 210 loads after 10 warm-up.
            AdapterLoader.Reads[] arms = {AdapterLoader.Reads.VECTOR, AdapterLoader.Reads.MAPPED_SCALAR};
            // The load runs on this thread alone, so its CPU time (user + system: mapping and page faults count)
            // is what the load costs when the machine is not shared; the wall clock says what it took here.
            var cpuClock = java.lang.management.ManagementFactory.getThreadMXBean();
            long[][] micros = new long[arms.length][220];
            long[][] cpuMicros = new long[arms.length][220];
            for (int i = 0; i < micros[0].length; i++) {
                for (int j = 0; j < arms.length; j++) {
                    int arm = (i + j) % arms.length;
                    long c0 = cpuClock.getCurrentThreadCpuTime();
                    long t0 = System.nanoTime();
                    LoraAdapter a = AdapterLoader.load(adapterPaths.get(i % 32), "cold" + i, c, 64, arms[arm]);
                    b.loadSlot(i % 32, a);
                    micros[arm][i] = (System.nanoTime() - t0) / 1000;
                    cpuMicros[arm][i] = (cpuClock.getCurrentThreadCpuTime() - c0) / 1000;
                }
            }
            double[] medians = new double[arms.length];
            double[] cpuMedians = new double[arms.length];
            for (int arm = 0; arm < arms.length; arm++) {
                long[] measured = Arrays.copyOfRange(micros[arm], 10, micros[arm].length);
                long[] cpu = Arrays.copyOfRange(cpuMicros[arm], 10, cpuMicros[arm].length);
                Arrays.sort(measured);
                Arrays.sort(cpu);
                medians[arm] = measured[measured.length / 2] / 1000.0;
                cpuMedians[arm] = cpu[cpu.length / 2] / 1000.0;
                System.out.printf("    %s: median %.2f ms, p99 %.2f ms; thread CPU median %.2f ms (%d loads after 10 "
                                + "warm-up)%n",
                        arm == 0 ? "reads today (one read per tensor, one vector pass)"
                                : "reads before 2026-12-06 (mapped per tensor, scalar check)",
                        medians[arm], measured[(int) Math.ceil(0.99 * measured.length) - 1] / 1000.0,
                        cpuMedians[arm], measured.length);
            }
            System.out.printf("    today / before: %.2f of the median, %.2f of the CPU median; load average %.2f%n",
                    medians[0] / medians[1], cpuMedians[0] / cpuMedians[1],
                    java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
            System.out.printf("    (GC: %s)%n", gcSummary());

            if (all) {
                System.out.printf("%n[4] prefill%n");
                double pre = prefill(b, 512, blocksPerSeq);
                System.out.printf("    512-token prompt: %.1f tokens/s%n", pre);
            }
        }
    }

    /** Decode tokens/s for `batch` sequences at a given context, base or each on its own adapter. */
    private static double decode(CpuBackend b, int batch, int context, boolean adapters, int blocksPerSeq) {
        int vocab = b.config().vocabSize();
        int[][] tables = new int[batch][blocksPerSeq];
        for (int s = 0; s < batch; s++) {
            for (int j = 0; j < blocksPerSeq; j++) {
                tables[s][j] = s * blocksPerSeq + j;
            }
        }
        // fill the cache for `context` positions (prefill, not timed)
        for (int s = 0; s < batch; s++) {
            int[] tok = new int[context];
            int[] pos = new int[context];
            int[] slot = new int[context];
            int[] seq = new int[context];
            for (int i = 0; i < context; i++) {
                tok[i] = 1 + (i * 13 + s) % (vocab - 1);
                pos[i] = i;
                slot[i] = adapters ? s : -1;
                seq[i] = s;
            }
            int[][] one = new int[batch][];
            Arrays.fill(one, tables[s]);
            b.forward(new ForwardBatch(tok, pos, slot, seq, one, new int[] {context - 1}), new float[vocab]);
        }
        int[] tok = new int[batch];
        int[] slot = new int[batch];
        int[] seq = new int[batch];
        int[] rows = new int[batch];
        for (int s = 0; s < batch; s++) {
            tok[s] = 5 + s;
            slot[s] = adapters ? s : -1;
            seq[s] = s;
            rows[s] = s;
        }
        float[] logits = new float[batch * vocab];
        int[] pos = new int[batch];
        // warm up for a second, then measure for at least MEASURE_SECONDS (positions stay within the tables)
        int step = 0;
        long warmEnd = System.nanoTime() + 1_000_000_000L;
        int maxSteps = blocksPerSeq * b.blockSize() - context - 1; // positions must stay inside the tables
        while (System.nanoTime() < warmEnd && step < maxSteps / 4) {
            Arrays.fill(pos, context + step++);
            b.forward(new ForwardBatch(tok, pos, slot, seq, tables, rows), logits);
        }
        int steps = 0;
        long t0 = System.nanoTime();
        while ((System.nanoTime() - t0) < MEASURE_SECONDS * 1_000_000_000L && step < maxSteps) {
            Arrays.fill(pos, context + step++);
            b.forward(new ForwardBatch(tok, pos, slot, seq, tables, rows), logits);
            steps++;
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        return batch * steps / secs;
    }

    private static double prefill(CpuBackend b, int len, int blocksPerSeq) {
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
        b.forward(batch, new float[vocab]);
        int reps = 0;
        long t0 = System.nanoTime();
        while (reps < 3 || System.nanoTime() - t0 < MEASURE_SECONDS * 1_000_000_000L) {
            b.forward(batch, new float[vocab]);
            reps++;
        }
        return (double) reps * len / ((System.nanoTime() - t0) / 1e9);
    }

    private static String gcSummary() {
        StringBuilder sb = new StringBuilder();
        for (var gc : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
            sb.append(gc.getName()).append(' ').append(gc.getCollectionCount()).append(" collections ")
                    .append(gc.getCollectionTime()).append(" ms; ");
        }
        return sb.toString();
    }

    /** Bytes/s of a parallel vector sum over a 1 GiB direct buffer (best of 5 passes). */
    static double memoryBandwidth(int threads) {
        int bytes = 1 << 30;
        ByteBuffer buf = ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < bytes; i += 4096) {
            buf.putFloat(i, i);
        }
        double best = 0;
        float[] sink = new float[threads];
        try (Parallel p = new Parallel(threads)) {
            for (int pass = 0; pass < 5; pass++) {
                long t0 = System.nanoTime();
                int floats = bytes / 4;
                p.forRange(floats, F.length() * 1024, (s, e, wk) -> {
                    FloatVector acc = FloatVector.zero(F);
                    int upper = s + (e - s) / F.length() * F.length();
                    for (int i = s; i < upper; i += F.length()) {
                        acc = acc.add(FloatVector.fromByteBuffer(F, buf, i * 4, ByteOrder.LITTLE_ENDIAN));
                    }
                    sink[wk] += acc.reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
                });
                double secs = (System.nanoTime() - t0) / 1e9;
                best = Math.max(best, bytes / secs);
            }
        }
        if (Float.isNaN(sink[0])) {
            System.out.println("(sink)");
        }
        return best;
    }
}
