package dev.quiver.gpu.bench.peer;

import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.gpu.model.ModelWeights;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code quiver bench peer}: Quiver's CPU backend against llama.cpp on the same machine, same weights, same
 * tokens, same threads. llama.cpp is the source {@code node-llama-cpp@3.22.1} bundles, built here ({@link
 * LlamaCpp}); the model and one rank-16 adapter are made when not given and converted to GGUF ({@link
 * GgufConverter}). Before anything is timed, both engines decode greedily from the same prompt, base and adapter,
 * per format: the tokens must be identical and the log-probabilities within the format's tolerance, or the
 * command fails (a conversion error would otherwise be timed as a speed difference).
 *
 * <p>Timing: per run, per format, base then adapter, per sequence count S: S prompts of N tokens prefilled one
 * sequence per forward pass, then D decode steps of S tokens with logits for every row; Quiver and llama.cpp
 * alternate on each row so that machine noise hits both. The table gives the median of the runs.
 */
public final class PeerBench {
    // NOTE: 8, not 2: on the random model three or more tokens can sit within Q8_0's precision of each other (seen:
    // 0.02 apart), and a tie is only recognised when each engine lists the other's pick.
    private static final int TOP = 8;

    private PeerBench() {
    }

    /** The command's options, with their defaults. */
    record Options(Path model, Path adapter, int threads, int runs, List<PeerFormat> formats, int[] sequences,
                   int promptTokens, int decodeSteps, int checkSteps, Path cache, Path llamaCpp, int jobs) {
        static Options parse(String[] args) {
            Path model = null;
            Path adapter = null;
            int threads = 2;
            int runs = 3;
            List<PeerFormat> formats = List.of(PeerFormat.F32, PeerFormat.BF16, PeerFormat.Q8_0);
            int[] seqs = {1, 8, 32};
            int prompt = 128;
            int decode = 128;
            int check = 32;
            Path cache = Path.of(".quiver", "peer");
            Path llamaCpp = null;
            int jobs = Runtime.getRuntime().availableProcessors();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("option " + a + " needs a value");
                }
                String v = args[++i];
                switch (a) {
                    case "--model" -> model = Path.of(v);
                    case "--adapter" -> adapter = Path.of(v);
                    case "--threads" -> threads = positive(a, v);
                    case "--runs" -> runs = positive(a, v);
                    case "--formats" -> formats = Arrays.stream(v.split(",")).map(PeerFormat::parse).distinct()
                            .toList();
                    case "--sequences" -> seqs = Arrays.stream(v.split(",")).mapToInt(s -> positive(a, s))
                            .toArray();
                    case "--prompt-tokens" -> prompt = positive(a, v);
                    case "--decode-steps" -> decode = positive(a, v);
                    case "--check-steps" -> check = positive(a, v);
                    case "--cache" -> cache = Path.of(v);
                    case "--llama-cpp" -> llamaCpp = Path.of(v);
                    case "--jobs" -> jobs = positive(a, v);
                    default -> throw new IllegalArgumentException("unknown option " + a);
                }
            }
            return new Options(model, adapter, threads, runs, formats, seqs, prompt, decode, check,
                    cache.toAbsolutePath(), llamaCpp, jobs);
        }

        private static int positive(String option, String v) {
            try {
                int n = Integer.parseInt(v.trim());
                if (n > 0) {
                    return n;
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
            throw new IllegalArgumentException(option + ": '" + v + "' is not a positive integer");
        }
    }

    public static void main(String[] args) throws IOException {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("quiver bench peer: " + e.getMessage());
            System.err.println("usage: quiver bench peer [--model DIR] [--adapter DIR] [--threads 2] [--runs 3] "
                    + "[--formats f32,bf16,q8_0] [--sequences 1,8,32] [--prompt-tokens 128] [--decode-steps 128] "
                    + "[--check-steps 32] [--llama-cpp BUILT_TREE] [--cache DIR]");
            System.exit(2);
            return;
        }
        try {
            run(o, System.out, line -> System.err.println("peer: " + line));
        } catch (AgreementException e) {
            System.err.println("quiver bench peer: FAILED: " + e.getMessage());
            System.exit(1);
        }
    }

    /** The greedy check found the two engines computing different things. */
    static final class AgreementException extends RuntimeException {
        AgreementException(String message) {
            super(message);
        }
    }

    static void run(Options o, PrintStream out, LlamaCpp.Log log) throws IOException {
        String loadBefore = loadAverage();
        Instant start = Instant.now();
        Files.createDirectories(o.cache());
        LlamaCpp.Build llama = o.llamaCpp() == null ? LlamaCpp.ensure(o.cache(), o.jobs(), log)
                : LlamaCpp.prebuilt(o.llamaCpp().toAbsolutePath(), o.cache(), log);
        log.say("llama.cpp " + llama.commit() + " at " + llama.source());
        Path model = o.model() != null ? o.model().toAbsolutePath() : madeModel(o.cache(), log);
        Path adapter = o.adapter() != null ? o.adapter().toAbsolutePath() : madeAdapter(model, o.cache(), log);
        ModelConfig config = ModelConfig.load(model);
        Path ggufDir = o.cache().resolve("gguf");
        Files.createDirectories(ggufDir);
        Path scratch = Files.createDirectories(o.cache().resolve("work"));
        LlamaCppRunner lc = new LlamaCppRunner(llama, scratch);

        Path loraGguf = ggufDir.resolve(model.getFileName() + "-" + adapter.getFileName() + "-f32.gguf");
        log.say("converting adapter " + adapter + " -> " + loraGguf);
        GgufConverter.convertAdapter(model, adapter, loraGguf);

        int maxSeqs = Arrays.stream(o.sequences()).max().orElseThrow();
        Map<PeerFormat, Path> ggufs = new EnumMap<>(PeerFormat.class);
        Map<PeerFormat, QuiverRunner> quiver = new EnumMap<>(PeerFormat.class);
        List<ModelWeights> loaded = new ArrayList<>();
        try {
            for (PeerFormat f : o.formats()) {
                Path dir = ModelVariants.ensure(model, f.quiverDType, o.cache().resolve("models"));
                Path gguf = ggufDir.resolve(model.getFileName() + "-" + f.flag() + ".gguf");
                log.say("converting " + dir + " -> " + gguf + " (" + f.gguf + ")");
                GgufConverter.convertModel(dir, gguf, f.gguf);
                ggufs.put(f, gguf);
                if (f.quiverSupports()) {
                    ModelWeights w = f.quiverLoader.apply(dir);
                    loaded.add(w);
                    quiver.put(f, new QuiverRunner(w, adapter, o.threads(), maxSeqs,
                            o.promptTokens() + Math.max(o.decodeSteps(), o.checkSteps()), f.quiverWeightFormat));
                }
            }
            // 1. the same computation on both sides, before any timing
            PeerWork check = PeerWork.random(config.vocabSize(), 1, o.promptTokens(), o.checkSteps(), 7);
            for (PeerFormat f : o.formats()) {
                if (!f.quiverSupports()) {
                    log.say(f + ": not supported by this build of Quiver; llama.cpp is timed alone");
                    continue;
                }
                for (boolean withAdapter : new boolean[] {false, true}) {
                    List<GreedyStep> q = quiver.get(f).greedy(check, withAdapter, TOP);
                    List<GreedyStep> l = lc.greedy(ggufs.get(f), withAdapter ? loraGguf : null, o.threads(), check,
                            TOP);
                    log.say(Agreement.check(f + (withAdapter ? " + adapter" : ""), q, l, f.logprobTolerance));
                }
            }
            // 2. warm-up: Quiver's JIT and both engines' pages, not reported
            PeerWork warm = PeerWork.random(config.vocabSize(), Math.min(8, maxSeqs), 32, 16, 3);
            for (QuiverRunner r : quiver.values()) {
                for (int i = 0; i < 3; i++) {
                    r.bench(warm, i % 2 == 1);
                }
            }
            // 3. timing, Quiver and llama.cpp alternating on every row
            Results results = new Results();
            for (int run = 1; run <= o.runs(); run++) {
                for (PeerFormat f : o.formats()) {
                    for (boolean withAdapter : new boolean[] {false, true}) {
                        for (int s : o.sequences()) {
                            PeerWork work = PeerWork.random(config.vocabSize(), s, o.promptTokens(), o.decodeSteps(),
                                    1000L * run + s);
                            Row row = new Row(f, withAdapter, s);
                            if (f.quiverSupports()) {
                                results.add(row, "quiver", work, quiver.get(f).bench(work, withAdapter));
                            }
                            results.add(row, "llama", work, lc.bench(ggufs.get(f),
                                    withAdapter ? loraGguf : null, o.threads(), work));
                            log.say(String.format("run %d/%d %s: %s", run, o.runs(), row, results.lastLine(row)));
                        }
                    }
                }
                if (run < o.runs()) {
                    log.say("after run " + run + " of " + o.runs() + ":\n" + PeerTable.render(o, results,
                            context(start, loadBefore, llama, model, adapter)));
                }
            }
            out.println(PeerTable.render(o, results, context(start, loadBefore, llama, model, adapter)));
        } finally {
            quiver.values().forEach(QuiverRunner::close);
            loaded.forEach(ModelWeights::close);
        }
    }

    private static PeerTable.Context context(Instant start, String loadBefore, LlamaCpp.Build llama, Path model,
                                             Path adapter) {
        return new PeerTable.Context(start, cpuName(), loadBefore, loadAverage(), System.getProperty("java.vm.version"),
                llama.commit(), model, adapter);
    }

    /** One row of measurements: a format, with or without the adapter, at one sequence count. */
    record Row(PeerFormat format, boolean adapter, int seqs) {
        @Override
        public String toString() {
            return format + (adapter ? " + adapter" : "") + " x" + seqs;
        }
    }

    /** Tokens/s of every run, per row and engine. */
    static final class Results {
        private final Map<String, List<Double>> decode = new HashMap<>();
        private final Map<String, List<Double>> prefill = new HashMap<>();

        void add(Row row, String engine, PeerWork w, double[] seconds) {
            String k = row + "|" + engine;
            prefill.computeIfAbsent(k, x -> new ArrayList<>()).add(w.seqs() * w.promptTokens() / seconds[0]);
            decode.computeIfAbsent(k, x -> new ArrayList<>()).add(w.seqs() * w.steps() / seconds[1]);
        }

        List<Double> decode(Row row, String engine) {
            return decode.getOrDefault(row + "|" + engine, List.of());
        }

        List<Double> prefill(Row row, String engine) {
            return prefill.getOrDefault(row + "|" + engine, List.of());
        }

        String lastLine(Row row) {
            List<Double> q = decode(row, "quiver");
            List<Double> l = decode(row, "llama");
            return String.format("decode Quiver %s, llama.cpp %.1f tokens/s", q.isEmpty() ? "-"
                    : String.format("%.1f", q.get(q.size() - 1)), l.get(l.size() - 1));
        }
    }

    static double median(List<Double> v) {
        if (v.isEmpty()) {
            return Double.NaN;
        }
        double[] s = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static Path madeModel(Path cache, LlamaCpp.Log log) {
        Path dir = cache.resolve("models").resolve("small");
        if (!Files.exists(dir.resolve("model.safetensors"))) {
            log.say("making the small test model (seed 1, F32) in " + dir);
            ModelMaker.writeDemo(dir, 8192, ModelMaker.Shape::small, DType.F32, 1, 0);
        }
        return dir;
    }

    private static Path madeAdapter(Path model, Path cache, LlamaCpp.Log log) {
        Path dir = cache.resolve("adapters").resolve(model.getFileName() + "-r16");
        if (!Files.exists(dir.resolve("adapter_model.safetensors"))) {
            log.say("making a rank-16 adapter on every projection in " + dir);
            ModelMaker.writeAdapter(dir, ModelConfig.load(model), new ModelMaker.AdapterSpec("peer-r16", 16, 32,
                    List.of(LoraModule.values()), false), DType.F32, 2);
        }
        return dir;
    }

    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "unknown";
        }
    }

    static String cpuName() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim() + ", "
                            + Runtime.getRuntime().availableProcessors() + " CPUs";
                }
            }
        } catch (IOException ignored) {
            // not Linux: say so below
        }
        return System.getProperty("os.arch") + ", " + Runtime.getRuntime().availableProcessors() + " CPUs";
    }
}
