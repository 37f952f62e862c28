package dev.quiver.gpu.bench.peer;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Runs the compiled llama.cpp driver (see peer_driver.cpp) and parses what it prints. */
final class LlamaCppRunner {
    private static final Duration LIMIT = Duration.ofMinutes(30);
    private final LlamaCpp.Build build;
    private final Path scratch;

    LlamaCppRunner(LlamaCpp.Build build, Path scratch) {
        this.build = build;
        this.scratch = scratch;
    }

    /** Greedy decode of the work's first prompt for {@code work.steps()} steps, top {@code top} per step. */
    List<GreedyStep> greedy(Path gguf, Path lora, int threads, PeerWork work, int top) {
        String out = run("greedy", gguf, lora, threads, work, List.of("--top", String.valueOf(top)));
        List<GreedyStep> steps = new ArrayList<>();
        for (String line : out.strip().split("\n")) {
            String[] f = line.trim().split(" ");
            int[] ids = new int[f.length - 2];
            double[] lps = new double[f.length - 2];
            for (int k = 2; k < f.length; k++) {
                String[] kv = f[k].split(":");
                ids[k - 2] = Integer.parseInt(kv[0]);
                lps[k - 2] = Double.parseDouble(kv[1]);
            }
            steps.add(new GreedyStep(Integer.parseInt(f[0]), Double.parseDouble(f[1]), ids, lps));
        }
        if (steps.size() != work.steps()) {
            throw new IllegalStateException("llama.cpp driver gave " + steps.size() + " greedy steps, not "
                    + work.steps() + ":\n" + out);
        }
        return steps;
    }

    /** Times prefill and decode of the work; returns {prefill seconds, decode seconds}. */
    double[] bench(Path gguf, Path lora, int threads, PeerWork work) {
        String out = run("bench", gguf, lora, threads, work, List.of()).strip();
        String[] f = out.substring(out.lastIndexOf("prefill_seconds")).split("\\s+");
        if (f.length < 4 || !f[2].equals("decode_seconds")) {
            throw new IllegalStateException("llama.cpp driver printed no timing: " + out);
        }
        return new double[] {Double.parseDouble(f[1]), Double.parseDouble(f[3])};
    }

    private String run(String mode, Path gguf, Path lora, int threads, PeerWork work, List<String> extra) {
        Path file = scratch.resolve("work-" + mode + ".txt");
        work.write(file);
        List<String> cmd = new ArrayList<>(List.of(build.driver().toString(), mode, "-m", gguf.toString(), "-t",
                String.valueOf(threads), "--work", file.toString()));
        if (lora != null) {
            cmd.addAll(List.of("--lora", lora.toString()));
        }
        cmd.addAll(extra);
        return Processes.output(cmd, scratch, scratch.resolve("driver-" + mode + ".log"), LIMIT);
    }
}
