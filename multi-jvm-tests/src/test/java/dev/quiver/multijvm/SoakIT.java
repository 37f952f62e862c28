package dev.quiver.multijvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Three minutes of {@link SoakBench} (the long run is {@code bin/quiver bench soak --minutes 30}): load over 200
 * adapters on 3 nodes (4 slots a worker), a lifecycle change every 3 s, and a graceful node restart after 75 s.
 * Nothing but documented errors reach clients or the admin driver; no worker keeps sequences, KV or a slot once the
 * load stops; every journal is contiguous and folds to the catalog's state; no node's live heap grows without
 * bound.
 */
class SoakIT {

    @Test
    void three_minutes_of_load_churn_and_a_restart_leave_no_errors_leaks_or_drift() throws Exception {
        Path work = Path.of("target", "multi-jvm", "soak").toAbsolutePath();
        SoakBench.Report r = SoakBench.run(new SoakBench.Settings(Duration.ofMinutes(3), 200, 4, 100,
                Duration.ofSeconds(3), Duration.ofSeconds(75), work, "soak_it", System.out));
        System.out.println(SoakBench.text(r, Instant.now()));

        assertEquals(Map.of(), r.undocumented(), "client-visible errors other than documented ones: " + r.examples());
        assertEquals(Map.of(), r.churnErrors(), "lifecycle calls that failed: " + r.examples());
        assertEquals(List.of(), r.leaks());
        assertEquals(List.of(), r.journalProblems());
        assertTrue(r.restarts() >= 1, "a node was restarted");
        assertTrue(r.ok() > 100, "the load ran: " + r.ok() + " requests succeeded");
        assertTrue(r.churnOps() >= 30, "the churn ran: " + r.churnOps());
        assertTrue(r.adaptersChecked() > 200, "churn-registered adapters were checked too");
        assertEquals(List.of(), heapGrowth(r.heap()));
    }

    /**
     * Per node incarnation with at least two samples: the last live heap above twice the first plus 64 MiB is a leak
     * (the bound is loose on purpose: caches warm up; a leak of requests or events outgrows it within minutes).
     */
    static List<String> heapGrowth(List<SoakBench.HeapSample> samples) {
        Map<String, List<SoakBench.HeapSample>> byIncarnation = new TreeMap<>();
        for (SoakBench.HeapSample h : samples) {
            byIncarnation.computeIfAbsent(h.node() + "#" + h.incarnation(), k -> new ArrayList<>()).add(h);
        }
        List<String> out = new ArrayList<>();
        byIncarnation.forEach((k, l) -> {
            if (l.size() >= 2 && l.get(l.size() - 1).bytes() > 2 * l.get(0).bytes() + (64L << 20)) {
                out.add("node " + k + ": " + l.get(0).bytes() + " -> " + l.get(l.size() - 1).bytes() + " bytes");
            }
        });
        return out;
    }
}
