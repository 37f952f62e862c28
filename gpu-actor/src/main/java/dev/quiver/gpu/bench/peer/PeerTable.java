package dev.quiver.gpu.bench.peer;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** The peer benchmark's one markdown table: medians of the runs, Quiver, llama.cpp and their ratio. */
final class PeerTable {
    static final String NOT_SUPPORTED = "not supported by this build";

    private PeerTable() {
    }

    /** Where and when the numbers were taken, printed above the table. */
    record Context(Instant start, String cpu, String loadBefore, String loadAfter, String jvm, String llamaCommit,
                   Path model, Path adapter) {
    }

    static String render(PeerBench.Options o, PeerBench.Results r, Context c) {
        StringBuilder s = new StringBuilder();
        s.append(String.format("quiver bench peer, %s: %s; %d threads each; %d-token prompts, %d decode steps; "
                        + "median of %d runs; load average %s before, %s after%n", c.start(), c.cpu(), o.threads(),
                o.promptTokens(), o.decodeSteps(), o.runs(), c.loadBefore(), c.loadAfter()));
        s.append(String.format("Quiver CpuBackend on JVM %s; llama.cpp %s (node-llama-cpp@3.22.1's bundle, "
                + "GGML_NATIVE, OpenMP); model %s, adapter %s%n%n", c.jvm(), c.llamaCommit(), c.model(), c.adapter()));
        if (busy(c.loadBefore()) || busy(c.loadAfter())) {
            s.append(String.format("NOTE: the load average exceeded the %d CPUs: other processes shared the cores, "
                    + "and llama.cpp's OpenMP threads (which spin while waiting) suffer more from that than Quiver's "
                    + "pool; rerun on a quiet machine before comparing.%n%n", Runtime.getRuntime().availableProcessors()));
        }
        s.append("| decode tokens/s | sequences | Quiver | llama.cpp | Quiver / llama.cpp |\n");
        s.append("|---|---|---|---|---|\n");
        String seqs = join(o.sequences(), n -> Integer.toString(n));
        for (PeerFormat f : o.formats()) {
            for (boolean adapter : new boolean[] {false, true}) {
                List<String> q = new ArrayList<>();
                List<String> l = new ArrayList<>();
                List<String> ratio = new ArrayList<>();
                for (int n : o.sequences()) {
                    PeerBench.Row row = new PeerBench.Row(f, adapter, n);
                    double qm = PeerBench.median(r.decode(row, "quiver"));
                    double lm = PeerBench.median(r.decode(row, "llama"));
                    q.add(fmt(qm));
                    l.add(fmt(lm));
                    ratio.add(Double.isNaN(qm) ? "-" : String.format("%.2f", qm / lm));
                }
                s.append(String.format("| %s | %s | %s | %s | %s |%n", f.label() + (adapter
                                ? " + one rank-16 adapter" : ""), seqs,
                        f.quiverSupports() ? String.join(" / ", q) : NOT_SUPPORTED, String.join(" / ", l),
                        f.quiverSupports() ? String.join(" / ", ratio) : "-"));
            }
        }
        for (PeerFormat f : o.formats()) {
            List<Double> q = new ArrayList<>();
            List<Double> l = new ArrayList<>();
            for (int n : o.sequences()) {
                q.addAll(r.prefill(new PeerBench.Row(f, false, n), "quiver"));
                l.addAll(r.prefill(new PeerBench.Row(f, false, n), "llama"));
            }
            double qm = PeerBench.median(q);
            double lm = PeerBench.median(l);
            s.append(String.format("| prefill tokens/s, %d-token prompts, %s | one at a time | %s | %s | %s |%n",
                    o.promptTokens(), f.label(), f.quiverSupports() ? fmt(qm) : NOT_SUPPORTED, fmt(lm),
                    f.quiverSupports() ? String.format("%.2f", qm / lm) : "-"));
        }
        return s.toString();
    }

    /** Whether a "1m 5m 15m" load average's first figure is above the number of CPUs. */
    static boolean busy(String loadAverage) {
        try {
            return Double.parseDouble(loadAverage.split(" ")[0]) > Runtime.getRuntime().availableProcessors();
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : v >= 100 ? String.format("%.0f", v) : String.format("%.1f", v);
    }

    private static String join(int[] v, Function<Integer, String> f) {
        List<String> out = new ArrayList<>();
        for (int x : v) {
            out.add(f.apply(x));
        }
        return String.join(" / ", out);
    }
}
