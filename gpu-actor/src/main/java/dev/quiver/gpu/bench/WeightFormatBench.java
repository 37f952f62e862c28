package dev.quiver.gpu.bench;

import com.typesafe.config.ConfigFactory;
import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.backend.cpu.CpuBackend;
import dev.quiver.gpu.backend.cpu.Q8Matrix;
import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.model.WeightFormat;
import dev.quiver.gpu.model.WeightMatrix;
import dev.quiver.gpu.worker.EngineSettings;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code quiver bench engine --model DIR --weight-format native,q8_0 [--rounds N] [--threads N] [--context N]
 * [--seconds S]}: the CPU backend with the model's own weights against the same model quantised to Q8_0 at load,
 * in one JVM on the same mapped file, measured interleaved (each round runs every format, the order alternating
 * from round to round) so that a busy machine slows both alike; medians of the rounds are printed.
 *
 * <p>Per format: load time (backend construction, which is where Q8_0 quantises) and the memory it adds; then per
 * round decode tokens/s at batch 1, 8 and 32 after {@code context} prompt tokens per sequence, and prefill tokens/s
 * of one {@code context}-token prompt. Before timing, the logprob drift of each format from the first over fixed
 * prompts ({@link LogprobDrift}). Rates are printed per wall-clock second and per process-CPU second (the
 * latter, warm-up included, is what a machine shared with other work distorts least).
 */
public final class WeightFormatBench {
    private static final int[] BATCHES = {1, 8, 32};
    private static final int BLOCK = 16;

    /** Tokens the last decode or prefill call processed, warm-up included (for the per-CPU-second figures). */
    private static long lastTokens;

    private WeightFormatBench() {
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    public static void main(String[] args) throws IOException {
        Path model = null;
        int threads = Runtime.getRuntime().availableProcessors();
        boolean inHeap = EngineSettings.fromConfig(ConfigFactory.load()).weightsInHeap();
        int context = 128;
        int rounds = 3;
        double seconds = 2;
        List<WeightFormat> formats = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> model = Path.of(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--context" -> context = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--weight-format" -> {
                    for (String f : args[++i].split(",")) {
                        formats.add(WeightFormat.parse(f, "--weight-format"));
                    }
                }
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (model == null || formats.size() < 2 || rounds < 1 || rounds > 100 || context < 1 || context > 4096) {
            System.err.println("usage: quiver bench engine --model DIR --weight-format native,q8_0 [--rounds 1..100]"
                    + " [--threads N] [--context 1..4096] [--seconds S]");
            System.exit(2);
        }
        long t0 = System.nanoTime();
        ModelWeights w = ModelWeights.load(model);
        double mapMs = (System.nanoTime() - t0) / 1e6;
        ModelConfig c = w.config;
        int blocksPerSeq = (context + 512 + BLOCK - 1) / BLOCK;
        int maxBatch = BATCHES[BATCHES.length - 1];
        System.out.printf("model %s: %,d parameters, %d layers, hidden %d, vocab %d, file dtype %s; %d threads, %s; "
                        + "load average %s%n", model, c.parameterCount(), c.numLayers(), c.hiddenSize(),
                c.vocabSize(), w.dtype, threads, System.getProperty("java.vm.version"), loadAverage());
        System.out.printf("mapping the safetensors: %.0f ms; RSS %s%n", mapMs, rss());

        for (WeightFormat f : formats) {
            // load time alone: a backend with a single KV block, so allocating the cache does not count
            long t1 = System.nanoTime();
            new CpuBackend(w, new CpuBackend.Settings(threads, 1, BLOCK, 1, f, inHeap)).close();
            System.out.printf("[%s] load (backend construction, quantisation included; KV cache excluded): %.0f ms%n",
                    f, (System.nanoTime() - t1) / 1e6);
        }
        List<CpuBackend> backends = new ArrayList<>();
        for (WeightFormat f : formats) {
            long heap0 = usedHeap();
            long t1 = System.nanoTime();
            CpuBackend b = new CpuBackend(w, new CpuBackend.Settings(threads, maxBatch * blocksPerSeq, BLOCK, 1, f,
                    inHeap));
            double ms = (System.nanoTime() - t1) / 1e6;
            backends.add(b);
            fillCaches(b, context, blocksPerSeq, maxBatch);
            System.out.printf("[%s] backend with KV cache ready in %.0f ms, weights held on the heap "
                            + "%.1f MB (heap +%.1f MB incl. KV cache), RSS now %s%n", f, ms,
                    heapWeightBytes(w, f) / 1e6, (usedHeap() - heap0) / 1e6, rss());
        }

        System.out.printf("%nlogprob drift from %s over 4 fixed prompts of %d tokens (seed 11):%n", formats.get(0),
                context);
        int[][] prompts = LogprobDrift.prompts(4, context, c.vocabSize(), 11);
        for (int i = 1; i < formats.size(); i++) {
            System.out.printf("    %s: %s%n", formats.get(i), LogprobDrift.measure(backends.get(0), backends.get(i),
                    prompts));
        }

        int cols = BATCHES.length + 1;
        double[][][] results = new double[formats.size()][cols][rounds];
        double[][][] perCpu = new double[formats.size()][cols][rounds];
        for (int r = 0; r < rounds; r++) {
            for (int k = 0; k < formats.size(); k++) {
                int fi = r % 2 == 0 ? k : formats.size() - 1 - k;
                CpuBackend b = backends.get(fi);
                StringBuilder line = new StringBuilder();
                for (int j = 0; j < BATCHES.length; j++) {
                    long cpu0 = processCpuNanos();
                    results[fi][j][r] = decode(b, BATCHES[j], context, blocksPerSeq, seconds);
                    perCpu[fi][j][r] = lastTokens / ((processCpuNanos() - cpu0) / 1e9);
                    line.append(String.format(" b%d %.1f", BATCHES[j], results[fi][j][r]));
                }
                long cpu0 = processCpuNanos();
                results[fi][cols - 1][r] = prefill(b, context, seconds);
                perCpu[fi][cols - 1][r] = lastTokens / ((processCpuNanos() - cpu0) / 1e9);
                System.out.printf("round %d %-6s decode tok/s%s, prefill %.1f tok/s (load average %s)%n", r + 1,
                        formats.get(fi), line, results[fi][cols - 1][r], loadAverage());
            }
        }
        System.out.printf("%nmedians of %d interleaved rounds, %d-token prompts, tokens/s:%n", rounds, context);
        System.out.printf("| format | decode b1 | decode b8 | decode b32 | prefill |%n|---|---|---|---|---|%n");
        for (int fi = 0; fi < formats.size(); fi++) {
            StringBuilder row = new StringBuilder("| " + formats.get(fi));
            for (int j = 0; j < cols; j++) {
                row.append(String.format(" | %.1f", median(results[fi][j])));
            }
            System.out.println(row + " |");
        }
        for (int fi = 1; fi < formats.size(); fi++) {
            StringBuilder row = new StringBuilder("| " + formats.get(fi) + " / " + formats.get(0));
            for (int j = 0; j < cols; j++) {
                row.append(String.format(" | %.2f", median(results[fi][j]) / median(results[0][j])));
            }
            System.out.println(row + " |");
        }
        System.out.printf("%nthe same per process-CPU second (warm-up included; what a loaded machine distorts least):%n");
        System.out.printf("| format | decode b1 | decode b8 | decode b32 | prefill |%n|---|---|---|---|---|%n");
        for (int fi = 0; fi < formats.size(); fi++) {
            StringBuilder row = new StringBuilder("| " + formats.get(fi));
            for (int j = 0; j < cols; j++) {
                row.append(String.format(" | %.1f", median(perCpu[fi][j])));
            }
            System.out.println(row + " |");
        }
        for (int fi = 1; fi < formats.size(); fi++) {
            StringBuilder row = new StringBuilder("| " + formats.get(fi) + " / " + formats.get(0));
            for (int j = 0; j < cols; j++) {
                row.append(String.format(" | %.2f", median(perCpu[fi][j]) / median(perCpu[0][j])));
            }
            System.out.println(row + " |");
        }
        backends.forEach(CpuBackend::close);
        w.close();
    }

    /** Bytes of projection and head weights the format keeps on the heap (native keeps none: the file is mapped). */
    static long heapWeightBytes(ModelWeights w, WeightFormat f) {
        if (f == WeightFormat.NATIVE) {
            return 0;
        }
        long b = q8Bytes(w.lmHead);
        for (ModelWeights.Layer l : w.layers) {
            for (LoraModule m : LoraModule.values()) {
                b += q8Bytes(l.module(m.peftName));
            }
        }
        return b;
    }

    private static long q8Bytes(WeightMatrix m) {
        return (long) m.rows() * m.cols() + 4L * m.rows() * (m.cols() / Q8Matrix.BLOCK);
    }

    /** Prompt tokens at positions [0, context) for sequences 0..n-1, four sequences per forward pass. */
    private static void fillCaches(CpuBackend b, int context, int blocksPerSeq, int n) {
        int vocab = b.config().vocabSize();
        for (int s0 = 0; s0 < n; s0 += 4) {
            int seqs = Math.min(4, n - s0);
            int rows = seqs * context;
            int[] tok = new int[rows], pos = new int[rows], slot = new int[rows], seq = new int[rows];
            int[][] tables = new int[seqs][];
            int[] last = new int[seqs];
            for (int s = 0; s < seqs; s++) {
                tables[s] = table(s0 + s, blocksPerSeq);
                for (int i = 0; i < context; i++) {
                    int row = s * context + i;
                    tok[row] = promptToken(s0 + s, i, vocab);
                    pos[row] = i;
                    slot[row] = -1;
                    seq[row] = s;
                }
                last[s] = (s + 1) * context - 1;
            }
            b.forward(new ForwardBatch(tok, pos, slot, seq, tables, last), new float[seqs * vocab]);
        }
    }

    private static int promptToken(int seq, int i, int vocab) {
        return 1 + (i * 13 + seq * 7) % (vocab - 1);
    }

    private static int[] table(int seq, int blocksPerSeq) {
        int[] t = new int[blocksPerSeq];
        for (int j = 0; j < blocksPerSeq; j++) {
            t[j] = seq * blocksPerSeq + j;
        }
        return t;
    }

    /** Decode tokens/s of sequences 0..batch-1 from position {@code context} on, after a short warm-up. */
    private static double decode(CpuBackend b, int batch, int context, int blocksPerSeq, double seconds) {
        int vocab = b.config().vocabSize();
        int[][] tables = new int[batch][];
        int[] tok = new int[batch], slot = new int[batch], seq = new int[batch], rows = new int[batch];
        for (int s = 0; s < batch; s++) {
            tables[s] = table(s, blocksPerSeq);
            tok[s] = 5 + s;
            slot[s] = -1;
            seq[s] = s;
            rows[s] = s;
        }
        float[] logits = new float[batch * vocab];
        int[] pos = new int[batch];
        int maxSteps = blocksPerSeq * BLOCK - context;
        int step = 0;
        long warmEnd = System.nanoTime() + 500_000_000L;
        while (System.nanoTime() < warmEnd && step < maxSteps / 4) {
            Arrays.fill(pos, context + step++);
            b.forward(new ForwardBatch(tok, pos, slot, seq, tables, rows), logits);
        }
        int steps = 0;
        long t0 = System.nanoTime();
        while ((System.nanoTime() - t0) < seconds * 1e9 && step < maxSteps) {
            Arrays.fill(pos, context + step++);
            b.forward(new ForwardBatch(tok, pos, slot, seq, tables, rows), logits);
            steps++;
        }
        lastTokens = (long) batch * step;
        return batch * steps / ((System.nanoTime() - t0) / 1e9);
    }

    /** Prefill tokens/s of sequence 0's prompt (the tokens its cache already holds, so rewriting it changes nothing). */
    private static double prefill(CpuBackend b, int len, double seconds) {
        int vocab = b.config().vocabSize();
        int[] tok = new int[len], pos = new int[len], slot = new int[len], seq = new int[len];
        for (int i = 0; i < len; i++) {
            tok[i] = promptToken(0, i, vocab);
            pos[i] = i;
            slot[i] = -1;
        }
        int blocksPerSeq = b.numKvBlocks() / BATCHES[BATCHES.length - 1];
        ForwardBatch batch = new ForwardBatch(tok, pos, slot, seq, new int[][] {table(0, blocksPerSeq)},
                new int[] {len - 1});
        b.forward(batch, new float[vocab]);
        int reps = 0;
        long t0 = System.nanoTime();
        while (reps < 3 || (System.nanoTime() - t0 < seconds * 1e9 && reps < 10_000)) {
            b.forward(batch, new float[vocab]);
            reps++;
        }
        lastTokens = (long) (reps + 1) * len;
        return (double) reps * len / ((System.nanoTime() - t0) / 1e9);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static long usedHeap() {
        for (int i = 0; i < 2; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** VmRSS of this process (Linux), or "n/a". */
    private static String rss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return line.substring(6).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            return "n/a";
        }
        return "n/a";
    }

    private static String loadAverage() {
        return String.format("%.2f", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }
}
