package dev.quiver.node.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.cache.AdapterCache;
import dev.quiver.gpu.cache.LatencyRecorder;
import dev.quiver.gpu.worker.GpuWorker;
import dev.quiver.persistence.blob.AdapterDirectories;
import dev.quiver.persistence.blob.LocalBlobStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a worker agent publishes from its engine's status: its load every time, its host copies apart, sorted, and
 * only when the set changes (or inside the load, with {@code host-copies-apart = off}).
 */
class WorkerAgentPublishTest {
    private final ActorTestKit kit = ActorTestKit.create();
    private final ExecutorService io = Executors.newFixedThreadPool(2);

    @AfterEach
    void stop() {
        kit.shutdownTestKit();
        io.shutdownNow();
    }

    /** A board that keeps what it was given. */
    private static final class Board implements WorkerAgent.LoadBoard {
        final List<WorkerLoad> loads = Collections.synchronizedList(new ArrayList<>());
        final List<WorkerHostCopies> host = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void publish(WorkerLoad load) {
            loads.add(load);
        }

        @Override
        public CompletionStage<Void> publishEverywhere(WorkerLoad load, Duration timeout) {
            loads.add(load);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void publishHost(WorkerHostCopies copies) {
            host.add(copies);
        }
    }

    /** An engine status with {@code host} in the host tier and {@code running} sequences (so each load differs). */
    private static GpuWorker.WorkerStatus status(int running, String... host) {
        LatencyRecorder.Snapshot none = new LatencyRecorder(4).snapshot();
        AdapterCache.Stats stats = new AdapterCache.Stats(running, 0, 0, 0, 0, none, none, List.of(), List.of(host),
                List.of(), 4);
        return new GpuWorker.WorkerStatus("w-0", true, running, 0, 10, 10, 0, 0, 0, running, 4, List.of(), List.of(),
                stats, Map.of(), 16, 4);
    }

    /** Starts an agent that reads its engine's status every 50 ms and answers each read with the next status. */
    private Board run(Path tmp, boolean apart, List<GpuWorker.WorkerStatus> statuses) throws Exception {
        Board board = new Board();
        TestProbe<GpuWorker.Command> engine = kit.createTestProbe();
        AdapterDirectories files = new AdapterDirectories(new LocalBlobStore(tmp.resolve("blobs")),
                tmp.resolve("cache"));
        kit.spawn(WorkerAgent.create(new WorkerAgent.Setup("w-0", "node-1", "addr", engine.getRef(), files, io,
                board, (a, v, w, n, r) -> { }, Duration.ofMillis(50), Duration.ofSeconds(30), 8, apart)));
        for (GpuWorker.WorkerStatus s : statuses) {
            GpuWorker.GetStatus read = (GpuWorker.GetStatus) engine.fishForMessage(Duration.ofSeconds(10),
                    m -> m instanceof GpuWorker.GetStatus ? FishingOutcomes.complete()
                            : FishingOutcomes.continueAndIgnore()).get(0);
            read.replyTo().tell(s);
        }
        // the last answer is handled before the next read is sent
        engine.fishForMessage(Duration.ofSeconds(10), m -> m instanceof GpuWorker.GetStatus
                ? FishingOutcomes.complete() : FishingOutcomes.continueAndIgnore());
        return board;
    }

    @Test
    void host_copies_go_apart_sorted_and_only_when_the_set_changes(@TempDir Path tmp) throws Exception {
        Board board = run(tmp, true, List.of(status(1, "b@v1", "a@v1"), status(2, "a@v1", "b@v1"),
                status(3, "a@v1", "b@v1"), status(4, "c@v2", "a@v1", "b@v1")));
        assertEquals(List.of(List.of("a@v1", "b@v1"), List.of("a@v1", "b@v1", "c@v2")),
                board.host.stream().map(WorkerHostCopies::keys).toList(),
                "published when first read and when a copy arrived; a new LRU order is no change");
        assertEquals(4, board.loads.size(), "every load that changed is published");
        assertTrue(board.loads.stream().allMatch(l -> l.cache().host().isEmpty()), "the loads carry no host keys");
        WorkerHostCopies last = board.host.get(1);
        assertEquals("w-0", last.workerId());
        assertTrue(last.updatedAt() >= board.host.get(0).updatedAt());
    }

    @Test
    void with_the_split_off_the_loads_carry_the_host_copies_and_nothing_goes_apart(@TempDir Path tmp)
            throws Exception {
        Board board = run(tmp, false, List.of(status(1, "b@v1", "a@v1"), status(2, "c@v2", "a@v1", "b@v1")));
        assertTrue(board.host.isEmpty());
        assertEquals(List.of(List.of("a@v1", "b@v1"), List.of("a@v1", "b@v1", "c@v2")),
                board.loads.stream().map(l -> l.cache().host()).toList());
        assertFalse(board.loads.get(1).holds("d@v1"));
        assertTrue(board.loads.get(1).holds("c@v2"));
    }
}
