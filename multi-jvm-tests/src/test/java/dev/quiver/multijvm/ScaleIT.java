package dev.quiver.multijvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The scale benchmark's setup at 500 adapters ({@link ScaleBench}, run for real as {@code bin/quiver bench scale}
 * with 2,000): it asserts behaviour, not time. Every registration succeeds; every node's catalog lists every adapter
 * exactly once, in order, through paging; a restarted node recovers them all; load spread by Zipf over all 500
 * adapters (most of them cold: 8 compute slots and 32 host copies a worker) and over the 5 most popular has no
 * failed request.
 */
class ScaleIT {
    static final int ADAPTERS = 500;

    @Test
    void five_hundred_adapters_register_list_recover_and_serve_over_three_nodes() throws Exception {
        Path work = Path.of("target", "multi-jvm", "scale").toAbsolutePath();
        ScaleBench.Report r = ScaleBench.run(new ScaleBench.Settings(ADAPTERS, 5, 8, 6, Duration.ofSeconds(15),
                Duration.ZERO, work, "scale_it", System.out));
        System.out.println(ScaleBench.text(r, Instant.now()));

        assertEquals(List.of(), r.registrationErrors());
        assertEquals(ADAPTERS, r.registered());
        List<String> expected = ScaleBench.writeAdapters(work.resolve("model"), work.resolve("adapters"), ADAPTERS);
        for (int node = 1; node <= 3; node++) {
            assertEquals(expected, r.listedByNode().get(node - 1), "node " + node + " lists each adapter once, sorted");
        }
        assertEquals(expected, r.listedAfterRestart(), "the restarted node lists every adapter");
        String restarted = java.nio.file.Files.readString(work.resolve("node-3").resolve("node-2.log"));
        java.util.regex.Matcher recovered = java.util.regex.Pattern.compile("recovered (\\d+) adapters in \\d+ ms: "
                + "(\\d+) current in the cluster's catalog, (\\d+) woken from the journal").matcher(restarted);
        assertTrue(recovered.find(), "node 3 logs its recovery");
        assertEquals(ADAPTERS, Integer.parseInt(recovered.group(1)));
        // Joining a running cluster, it takes the adapters' state from the catalog instead of asking each entity
        // (a few may have changed since the catalog's copy was made; not hundreds).
        assertTrue(Integer.parseInt(recovered.group(3)) < ADAPTERS / 10, "entities woken: " + recovered.group(0));
        for (ScaleBench.Serving s : List.of(r.hot(), r.all())) {
            assertEquals(0, s.failed(), s.arm() + ": " + s.failures());
            assertTrue(s.completed() > 0, s.arm() + " completed nothing");
        }
        for (int i = 0; i < 3; i++) {
            assertTrue(r.heapAfter()[i] > 0 && r.heapBefore()[i] > 0, "live heap measured on every node");
        }
    }
}
