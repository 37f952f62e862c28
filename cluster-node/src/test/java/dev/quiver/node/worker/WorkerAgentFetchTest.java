package dev.quiver.node.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.worker.GpuWorker;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.blob.AdapterDirectories;
import dev.quiver.persistence.blob.BlobManifest;
import dev.quiver.persistence.blob.BlobStore;
import dev.quiver.persistence.blob.LocalBlobStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A placement and the request that caused it arrive together at a worker that has never seen the adapter version:
 * both wait for one read of the blob store, not one each.
 */
class WorkerAgentFetchTest {
    private final ActorTestKit kit = ActorTestKit.create();
    private final ExecutorService io = Executors.newFixedThreadPool(4);

    @AfterEach
    void stop() {
        kit.shutdownTestKit();
        io.shutdownNow();
    }

    /** A blob store that counts reads and holds each one until released. */
    private static final class SlowStore implements BlobStore {
        final BlobStore inner;
        final AtomicInteger gets = new AtomicInteger();
        final CountDownLatch release = new CountDownLatch(1);

        SlowStore(BlobStore inner) {
            this.inner = inner;
        }

        @Override
        public ContentDigest put(Path file) throws IOException {
            return inner.put(file);
        }

        @Override
        public BlobManifest get(ContentDigest digest, Path target) throws IOException {
            gets.incrementAndGet();
            try {
                assertTrue(release.await(30, TimeUnit.SECONDS));
            } catch (InterruptedException e) {
                throw new IOException(e);
            }
            return inner.get(digest, target);
        }
    }

    @Test
    void a_placement_and_a_request_for_the_same_files_share_one_fetch(@TempDir Path tmp) throws Exception {
        Path adapter = Files.createDirectories(tmp.resolve("adapter"));
        Files.writeString(adapter.resolve("adapter_config.json"), "{\"r\": 4}");
        Files.write(adapter.resolve("adapter_model.safetensors"), new byte[] {1, 2, 3}); // packaged, never parsed
        SlowStore store = new SlowStore(new LocalBlobStore(tmp.resolve("blobs")));
        ContentDigest digest = new AdapterDirectories(new LocalBlobStore(tmp.resolve("blobs")), tmp.resolve("put"))
                .store(adapter);
        AdapterDirectories files = new AdapterDirectories(store, tmp.resolve("cache"));

        TestProbe<GpuWorker.Command> engine = kit.createTestProbe();
        WorkerAgent.LoadBoard board = new WorkerAgent.LoadBoard() {
            @Override
            public void publish(WorkerLoad load) {
            }

            @Override
            public CompletionStage<Void> publishEverywhere(WorkerLoad load, Duration timeout) {
                return CompletableFuture.completedFuture(null);
            }

            @Override
            public void publishHost(WorkerHostCopies copies) {
            }
        };
        ActorRef<WorkerAgent.Command> agent = kit.spawn(WorkerAgent.create(new WorkerAgent.Setup("w-0", "node-1",
                "addr", engine.getRef(), files, io, board, (a, v, w, n, r) -> { }, Duration.ofHours(1),
                Duration.ofSeconds(30), 8)));
        TestProbe<WorkerAgent.PlaceResult> placed = kit.createTestProbe();
        TestProbe<GpuWorker.Event> client = kit.createTestProbe();

        agent.tell(new WorkerAgent.Place("a", 1, digest.hex(), false, placed.getRef()));
        agent.tell(new WorkerAgent.Generate("req-1", "a", 1, digest.hex(), new int[] {1, 2}, SamplingParams.greedy(4),
                null, client.getRef()));
        // both are waiting on the store now (the agent handles messages in order)
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (store.gets.get() < 1 && System.nanoTime() < until) {
            Thread.sleep(5);
        }
        Thread.sleep(200);    // room for a second, duplicate read to start if the agent issued one
        store.release.countDown();

        Path cached = files.cachedPath(digest);
        GpuWorker.LoadAdapter load = engine.fishForMessage(Duration.ofSeconds(10), m ->
                m instanceof GpuWorker.LoadAdapter ? org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.complete()
                        : org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore())
                .stream().map(GpuWorker.LoadAdapter.class::cast).findFirst().orElseThrow();
        assertEquals(cached.toString(), load.adapterDir());
        load.replyTo().tell(new GpuWorker.AdapterLoaded("a@v1", true, 0, null));
        assertTrue(placed.receiveMessage(Duration.ofSeconds(10)).ok());
        assertEquals(1, store.gets.get(), "one read of the blob store for the placement and the request");
    }
}
