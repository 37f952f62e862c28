package dev.quiver.node.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.worker.GpuWorker;
import dev.quiver.node.catalog.CatalogEntry;
import dev.quiver.node.entity.AdapterEntity;
import dev.quiver.node.worker.WorkerAgent;
import dev.quiver.node.worker.WorkerHostCopies;
import dev.quiver.node.worker.WorkerLoad;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.events.AdapterEvent;
import dev.quiver.persistence.lifecycle.LifecycleReply;
import dev.quiver.persistence.state.AdapterState;
import dev.quiver.persistence.state.LifecycleRequest;
import dev.quiver.persistence.state.Rejection;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.apache.pekko.serialization.jackson.JacksonCborSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every message of the node application that may cross the network round-trips through its CBOR binding. */
class ClusterMessageSerializationTest {
    static final ActorTestKit kit = ActorTestKit.create("serialization", ConfigFactory.parseString(
            "pekko.actor.provider = local").withFallback(ConfigFactory.load()));
    static final Serialization serialization = SerializationExtension.get(kit.system().classicSystem());
    static final Instant AT = Instant.parse("2026-12-01T10:00:00Z");
    static final ContentDigest DIGEST = ContentDigest.of(new byte[32]);

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    static Object roundTrip(Object msg) {
        Serializer s = serialization.findSerializerFor(msg);
        assertEquals(JacksonCborSerializer.class, s.getClass(), "bound to jackson-cbor: " + msg.getClass());
        byte[] bytes = serialization.serialize(msg).get();
        return serialization.deserialize(bytes, s.identifier(), Serializers.manifestFor(s, msg)).get();
    }

    static AdapterState state() {
        return AdapterState.unregistered("bot")
                .apply(new AdapterEvent.AdapterRegistered("bot", "shared:acme", "base", 8, List.of("q_proj"),
                        DIGEST, 1000, "upload", AT, "alice"))
                .apply(new AdapterEvent.PlacedOn("bot", "n1/worker-0", "n1", 1, AT, "system:placement"))
                .apply(new AdapterEvent.PreloadChanged("bot", 2, AT, "alice"));
    }

    /** The state in the middle of a canary, with fallback on: what the catalog carries to every node. */
    static AdapterState splitState() {
        return state()
                .apply(new AdapterEvent.VersionPublished("bot", 2, 8, List.of("q_proj"), ContentDigest.of(new byte[] {
                        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
                        27, 28, 29, 30, 31, 32}), 1000, "upload", AT, "alice", true))
                .apply(new AdapterEvent.SplitStarted("bot", Map.of(1, 95, 2, 5), 1, "canary", AT, "alice"))
                .apply(new AdapterEvent.FallbackChanged("bot", "base", AT, "alice"));
    }

    static Stream<Object> messages() {
        TestProbe<Object> probe = kit.createTestProbe();
        return Stream.of(
                new AdapterEntity.Execute(new LifecycleRequest.SetPreload(2, "alice"), probe.getRef().narrow()),
                new AdapterEntity.GetState(probe.getRef().narrow()),
                new AdapterEntity.Route("req-1", List.of("n2/worker-0"), probe.getRef().narrow()),
                new AdapterEntity.Outcome(new LifecycleReply.Rejected(new Rejection.PreloadUnchanged("bot", 2)),
                        new CatalogEntry(state(), 3), null),
                new AdapterEntity.Outcome(null, new CatalogEntry(state(), 3), "cannot reach the majority"),
                new AdapterEntity.Routed("n1/worker-0", probe.getRef().narrow(), 1, DIGEST.hex(), "acme", "placed"),
                new AdapterEntity.NotRouted(AdapterEntity.NotRouted.Reason.OVERLOADED, "busy", 1),
                new AdapterEntity.PlacementDone(new WorkerAgent.PlaceResult("n1/worker-0", "n1", "bot", 1, true,
                        false, "no free adapter slot")),
                new AdapterEntity.WorkerEvicted("n1/worker-0", "n1", 1, "lru"),
                new AdapterEntity.NodeLost(List.of("n1/worker-0"), "n1"),
                new AdapterEntity.Maintain(),
                new WorkerAgent.Cancel("req-1#2"),
                new WorkerAgent.Place("bot", 1, DIGEST.hex(), true, probe.getRef().narrow()),
                new WorkerAgent.Release("bot", 1, true, "unpinned"),
                new CatalogEntry(state(), 3),
                new CatalogEntry(splitState(), 5),
                new dev.quiver.node.catalog.AdapterCatalog.Sync(new CatalogEntry(splitState(), 5),
                        probe.getRef().narrow()),
                new dev.quiver.node.catalog.AdapterCatalog.Synced("bot"),
                new AdapterEntity.Route("req-2", List.of(), probe.getRef().narrow(), 2, "user-7"),
                new AdapterEntity.LoadFailedReport("n1/worker-0", "n1", 2, "adapter blob sha256:00 is corrupt"),
                new AdapterEntity.Execute(new LifecycleRequest.SetSplit(Map.of(1, 95, 2, 5), "canary", "alice"),
                        probe.getRef().narrow()),
                new AdapterEntity.Execute(new LifecycleRequest.AbortSplit("regression", "alice"),
                        probe.getRef().narrow()),
                new WorkerLoad("n1/worker-0", "n1", "pekko://quiver@127.0.0.1:25521#42", probe.getRef().narrow(),
                        true, 3, 16, 1, 64, 2, 4, List.of("bot@v1"), List.of("bot@v1"), Map.of("bot@v1", 4), 0.25,
                        new WorkerLoad.Cache(List.of("old@v2"), 10, 5, 2, 1, 0, 3.5, 0.8), 1000, 2000),
                load(probe).asDraining(2500),
                new WorkerHostCopies("n1/worker-0", List.of("a@v1", "b@v3"), 2100),
                new WorkerAgent.Drain(java.time.Duration.ofSeconds(3), probe.getRef().narrow()));
    }

    static WorkerLoad load(TestProbe<Object> probe) {
        return new WorkerLoad("n1/worker-0", "n1", "pekko://quiver@127.0.0.1:25521#42", probe.getRef().narrow(),
                true, 3, 16, 1, 64, 2, 4, List.of("bot@v1"), List.of("bot@v1"), Map.of("bot@v1", 4), 0.25,
                new WorkerLoad.Cache(List.of("old@v2"), 10, 5, 2, 1, 0, 3.5, 0.8), 1000, 2000);
    }

    @Test
    void a_worker_load_from_a_node_that_predates_draining_reads_as_not_draining() throws Exception {
        TestProbe<Object> probe = kit.createTestProbe();
        WorkerLoad load = load(probe).asDraining(2500);
        Serializer s = serialization.findSerializerFor(load);
        var cbor = new com.fasterxml.jackson.databind.ObjectMapper(new com.fasterxml.jackson.dataformat.cbor
                .CBORFactory());
        var tree = (com.fasterxml.jackson.databind.node.ObjectNode) cbor.readTree(serialization.serialize(load).get());
        assertEquals(true, tree.remove("draining").asBoolean(), "the field is on the wire");
        var back = (WorkerLoad) serialization.deserialize(cbor.writeValueAsBytes(tree), s.identifier(),
                Serializers.manifestFor(s, load)).get();
        assertEquals(false, back.draining());
        assertEquals(load.workerId(), back.workerId());
        assertEquals(load.updatedAt(), back.updatedAt());
    }

    @Test
    void a_draining_load_replaces_the_last_one_published_and_keeps_its_draining_flag_with_local_counts() {
        TestProbe<Object> probe = kit.createTestProbe();
        WorkerLoad last = load(probe);
        WorkerLoad draining = last.asDraining(last.updatedAt() - 10);
        assertTrue(draining.draining());
        assertEquals(last.updatedAt(), draining.updatedAt(), "never older than the load it replaces");
        assertTrue(last.asDraining(last.updatedAt() + 5).updatedAt() > last.updatedAt());
        assertTrue(draining.withLocal(2, Map.of("bot@v1", 2), 0).draining());
        assertEquals(false, last.draining(), "the old constructor makes a load that is not draining");
    }

    @Test
    void host_copies_published_apart_fill_a_load_that_lists_none_and_leave_an_old_nodes_list_alone() {
        TestProbe<Object> probe = kit.createTestProbe();
        WorkerLoad own = load(probe);
        WorkerLoad apart = new WorkerLoad(own.workerId(), own.nodeId(), own.address(), own.agent(), true, 3, 16, 1,
                64, 2, 4, List.of("bot@v1"), List.of(), Map.of(), 0.25, new WorkerLoad.Cache(List.of(), 10, 5, 2, 1,
                0, 3.5, 0.8), 1000, 2000);
        WorkerHostCopies copies = new WorkerHostCopies(own.workerId(), List.of("a@v1", "old@v2"), 1500);
        WorkerLoad merged = apart.withHost(copies);
        assertTrue(merged.holds("old@v2") && merged.holds("a@v1") && merged.holds("bot@v1"));
        assertEquals("host", merged.tierOf("a@v1"));
        assertEquals(apart.updatedAt(), merged.updatedAt());
        assertEquals(apart.cache().slotHits(), merged.cache().slotHits());
        assertEquals(false, apart.holds("a@v1"), "without the copies only the slots count");
        assertEquals(own, own.withHost(copies), "a load from a node that lists its copies itself is kept as it is");
        assertEquals(apart, apart.withHost(null));
    }

    @ParameterizedTest
    @MethodSource("messages")
    void round_trips_through_cbor(Object message) {
        assertEquals(message, roundTrip(message));
    }

    @Test
    void generate_round_trips_with_prompt_resume_tokens_and_sampling() {
        TestProbe<GpuWorker.Event> probe = kit.createTestProbe();
        var g = new WorkerAgent.Generate("req-1#2", "bot", 3, DIGEST.hex(), new int[] {1, 2, 3},
                new SamplingParams(32, 0.8f, 0.95f, -1, 7L, List.of("###"), 1, true), new int[] {9, 8},
                probe.getRef());
        var back = (WorkerAgent.Generate) roundTrip(g);
        assertEquals(List.of(g.requestId(), g.adapter(), g.version(), g.digest(), g.params(), g.replyTo()),
                List.of(back.requestId(), back.adapter(), back.version(), back.digest(), back.params(),
                        back.replyTo()));
        assertArrayEquals(g.promptIds(), back.promptIds());
        assertArrayEquals(g.resumeTokens(), back.resumeTokens());
        assertEquals("bot@v3", back.key());
    }

    @Test
    void prompt_logprobs_cross_the_wire_with_their_top_alternatives() {
        var lp = new dev.quiver.gpu.worker.EngineListener.TokenLogprob(5, -1.25f, new int[] {7, 5},
                new float[] {-0.5f, -1.25f});
        var back = (GpuWorker.PromptLogprobs) roundTrip(new GpuWorker.PromptLogprobs("req-1#2", List.of(lp)));
        assertEquals("req-1#2", back.requestId());
        assertEquals(5, back.logprobs().get(0).tokenId());
        assertEquals(-1.25f, back.logprobs().get(0).logprob());
        assertArrayEquals(lp.topIds(), back.logprobs().get(0).topIds());
        assertArrayEquals(lp.topLogprobs(), back.logprobs().get(0).topLogprobs());
    }

    @Test
    void generate_carries_the_sampling_fields() {
        TestProbe<GpuWorker.Event> probe = kit.createTestProbe();
        var params = new SamplingParams(32, 0.8f, 0.95f, -1, 7L, List.of(), 1, false, 0.5f, -0.5f, 1.2f,
                Map.of(3, -100f, 9, 2.5f), 4, List.of(11, 12), false, 2, null);
        var g = new WorkerAgent.Generate("req-1#2", null, 0, null, new int[] {1, 2, 3}, params, null,
                probe.getRef());
        assertEquals(params, ((WorkerAgent.Generate) roundTrip(g)).params());
    }
}
