package dev.quiver.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A node on a 2-CPU machine runs the continuations of Pekko's CompletionStages on the common pool, not on a new
 * thread each (see {@link NodeMain#atLeastTwoCommonPoolThreads}). The pool is fixed when the JVM first uses it, so
 * each case runs in a child JVM that sees 2 CPUs.
 */
class CommonPoolTest {

    /** Prints the class of CompletableFuture's default executor, after the node's setup when asked to. */
    public static final class Probe {
        public static void main(String[] args) {
            if (args.length > 0 && args[0].equals("node")) {
                NodeMain.atLeastTwoCommonPoolThreads();
            }
            System.out.println(new CompletableFuture<Void>().defaultExecutor().getClass().getName());
        }
    }

    private static String defaultExecutorInChild(String... args) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new java.util.ArrayList<>(List.of(java, "-XX:ActiveProcessorCount=2", "-cp",
                System.getProperty("java.class.path"), Probe.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the probe JVM did not exit");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.exitValue(), out);
        return out.lines().reduce((a, b) -> b).orElse("");
    }

    @Test
    void a_node_on_two_cpus_runs_continuations_on_the_common_pool() throws Exception {
        assertEquals(ForkJoinPool.class.getName(), defaultExecutorInChild("node"));
    }

    @Test
    void without_it_two_cpus_get_a_thread_per_task() throws Exception {
        // the JDK behaviour the node works around: if this changes, the workaround may go
        assertTrue(defaultExecutorInChild().contains("ThreadPerTaskExecutor"));
    }
}
