package dev.quiver.gpu.bench.peer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The one table the command prints: medians of the runs per row, the ratio, unsupported formats kept as rows. */
class PeerTableTest {
    static PeerBench.Options options(String... args) {
        return PeerBench.Options.parse(args);
    }

    static PeerTable.Context context() {
        return new PeerTable.Context(Instant.EPOCH, "cpu", "0.10 0.20 0.30", "0.10 0.20 0.30", "17", "de3ff81",
                Path.of("m"), Path.of("a"));
    }

    /** Adds one run of a row: S sequences, 10-token prompts, 10 steps, at the given tokens/s of decode. */
    static void add(PeerBench.Results r, PeerBench.Row row, String engine, double decodeTps, double prefillTps) {
        PeerWork w = PeerWork.random(16, row.seqs(), 10, 10, 1);
        r.add(row, engine, w, new double[] {row.seqs() * 10 / prefillTps, row.seqs() * 10 / decodeTps});
    }

    @Test
    void prints_the_median_of_the_runs_and_the_quiver_to_llama_ratio_per_row() {
        PeerBench.Options o = options("--sequences", "1", "--formats", "f32", "--runs", "3", "--prompt-tokens", "10");
        PeerBench.Results r = new PeerBench.Results();
        PeerBench.Row base = new PeerBench.Row(PeerFormat.F32, false, 1);
        PeerBench.Row lora = new PeerBench.Row(PeerFormat.F32, true, 1);
        for (double q : new double[] {40, 50, 45}) {
            add(r, base, "quiver", q, 200);
            add(r, lora, "quiver", q - 10, 200);
        }
        for (double l : new double[] {100, 90, 95}) {
            add(r, base, "llama", l, 400);
            add(r, lora, "llama", l, 400);
        }
        String t = PeerTable.render(o, r, context());
        assertTrue(t.contains("| F32 | 1 | 45.0 | 95.0 | 0.47 |"), t);
        assertTrue(t.contains("| F32 + one rank-16 adapter | 1 | 35.0 | 95.0 | 0.37 |"), t);
        assertTrue(t.contains("| prefill tokens/s, 10-token prompts, F32 | one at a time | 200 | 400 | 0.50 |"), t);
        assertTrue(t.contains("load average 0.10 0.20 0.30"), t);
    }

    @Test
    void gives_q8_0_rows_with_both_engines() {
        PeerBench.Options o = options("--sequences", "1,8", "--formats", "q8_0", "--prompt-tokens", "10");
        PeerBench.Results r = new PeerBench.Results();
        add(r, new PeerBench.Row(PeerFormat.Q8_0, false, 1), "quiver", 60, 250);
        add(r, new PeerBench.Row(PeerFormat.Q8_0, false, 1), "llama", 120, 500);
        add(r, new PeerBench.Row(PeerFormat.Q8_0, false, 8), "quiver", 330, 250);
        add(r, new PeerBench.Row(PeerFormat.Q8_0, false, 8), "llama", 300, 500);
        String t = PeerTable.render(o, r, context());
        assertTrue(t.contains("| Q8_0 | 1 / 8 | 60.0 / 330 | 120 / 300 | 0.50 / 1.10 |"), t);
    }

    @Test
    void parses_the_options_and_refuses_bad_values_naming_the_option() {
        PeerBench.Options o = options("--formats", "bf16,F32", "--sequences", "2,4", "--threads", "3");
        assertEquals(List.of(PeerFormat.BF16, PeerFormat.F32), o.formats());
        assertEquals(3, o.threads());
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> options("--sequences", "1,0"));
        assertTrue(e.getMessage().contains("--sequences"), e.getMessage());
        e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> options("--formats", "q4_k"));
        assertTrue(e.getMessage().contains("--formats") && e.getMessage().contains("q4_k"), e.getMessage());
    }
}
