package dev.quiver.gpu.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.quiver.gpu.cache.AdapterCache;
import dev.quiver.gpu.cache.LatencyRecorder;
import dev.quiver.gpu.sampling.SamplingParams;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.jackson.JacksonCborSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** Every worker message that may cross the network round-trips through the CBOR binding of reference.conf. */
class WorkerMessageSerializationTest {
    static final ActorTestKit kit = ActorTestKit.create();
    static final Serialization serialization = SerializationExtension.get(kit.system().classicSystem());

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    static Object roundTrip(Object msg) {
        Serializer s = serialization.findSerializerFor(msg);
        assertEquals(JacksonCborSerializer.class, s.getClass(), "bound to jackson-cbor: " + msg.getClass());
        byte[] bytes = serialization.serialize(msg).get();
        return serialization.deserialize(bytes, s.identifier(), org.apache.pekko.serialization.Serializers
                .manifestFor(s, msg)).get();
    }

    @Test
    void generate_round_trips_with_its_sampling_params_and_reply_address() {
        TestProbe<GpuWorker.Event> probe = kit.createTestProbe();
        var g = new GpuWorker.Generate("r1", "a@2", "/adapters/a", new int[] {1, 2, 3},
                new SamplingParams(16, 0.7f, 0.9f, 40, 42L, List.of("\n\n"), 2, false), probe.getRef());
        var back = (GpuWorker.Generate) roundTrip(g);
        assertGenerateEquals(g, back);
        assertNull(back.resumeTokens(), "a fresh request stays fresh");
    }

    @Test
    void generate_round_trips_with_penalties_bias_stop_ids_and_a_constraint() {
        TestProbe<GpuWorker.Event> probe = kit.createTestProbe();
        var params = new SamplingParams(16, 0.7f, 0.9f, 40, 42L, List.of(), 2, false, 0.5f, -1.25f, 1.1f,
                Map.of(7, -100f, 300, 2.5f), 3, List.of(11, 12), false, 1,
                new dev.quiver.gpu.constraint.ConstraintSpec(dev.quiver.gpu.constraint.ConstraintSpec.Kind.JSON_SCHEMA,
                        "{\"type\":\"object\"}"));
        var g = new GpuWorker.Generate("r3", null, null, new int[] {1, 2}, params, probe.getRef());
        var back = (GpuWorker.Generate) roundTrip(g);
        assertGenerateEquals(g, back);
        assertEquals(Map.of(7, -100f, 300, 2.5f), back.params().logitBias());
    }

    @Test
    void generate_round_trips_with_its_resume_tokens() {
        TestProbe<GpuWorker.Event> probe = kit.createTestProbe();
        var g = new GpuWorker.Generate("r2", null, null, new int[] {1, 2, 3},
                new SamplingParams(16, 0.7f, 0.9f, 40, 42L, List.of(), 0, true), new int[] {7, 300, 0, 511},
                probe.getRef());
        var back = (GpuWorker.Generate) roundTrip(g);
        assertGenerateEquals(g, back);
        assertArrayEquals(new int[] {7, 300, 0, 511}, back.resumeTokens());
    }

    /** Records compare arrays by identity, so Generate is compared field by field. */
    static void assertGenerateEquals(GpuWorker.Generate expected, GpuWorker.Generate actual) {
        assertEquals(expected.requestId(), actual.requestId());
        assertEquals(expected.adapter(), actual.adapter());
        assertEquals(expected.adapterDir(), actual.adapterDir());
        assertArrayEquals(expected.promptIds(), actual.promptIds());
        assertEquals(expected.params(), actual.params());
        assertArrayEquals(expected.resumeTokens(), actual.resumeTokens());
        assertEquals(expected.replyTo(), actual.replyTo());
    }

    @Test
    void request_events_round_trip() {
        var lp = new EngineListener.TokenLogprob(5, -0.25f, new int[] {5, 9}, new float[] {-0.25f, -1.5f});
        var tokens = (GpuWorker.Tokens) roundTrip(new GpuWorker.Tokens("r", new int[] {5}, "hé", List.of(lp)));
        assertArrayEquals(new int[] {5}, tokens.tokenIds());
        assertEquals("hé", tokens.text());
        assertArrayEquals(lp.topIds(), tokens.logprobs().get(0).topIds());
        assertArrayEquals(lp.topLogprobs(), tokens.logprobs().get(0).topLogprobs());
        var prompt = (GpuWorker.PromptLogprobs) roundTrip(new GpuWorker.PromptLogprobs("r", List.of(lp, lp)));
        assertEquals(2, prompt.logprobs().size());
        assertEquals(lp.logprob(), prompt.logprobs().get(1).logprob());
        assertArrayEquals(lp.topIds(), prompt.logprobs().get(1).topIds());
        assertEquals(new GpuWorker.Accepted("r", 7), roundTrip(new GpuWorker.Accepted("r", 7)));
        var fin = new GpuWorker.Finished("r", EngineListener.FinishReason.LENGTH, new EngineListener.Usage(3, 4));
        assertEquals(fin, roundTrip(fin));
        var failed = new GpuWorker.Failed("r", new EngineError(EngineError.Kind.OVERLOADED, "busy", null, 2));
        assertEquals(failed, roundTrip(failed));
    }

    @Test
    void adapter_commands_and_replies_round_trip() {
        TestProbe<GpuWorker.AdapterLoaded> loaded = kit.createTestProbe();
        var load = new GpuWorker.LoadAdapter("a@1", "/d", true, loaded.getRef());
        assertEquals(load, roundTrip(load));
        TestProbe<GpuWorker.AdapterEvicted> evicted = kit.createTestProbe();
        var evict = new GpuWorker.EvictAdapter("a@1", evicted.getRef());
        assertEquals(evict, roundTrip(evict));
        assertEquals(new GpuWorker.UnpinAdapter("a@1"), roundTrip(new GpuWorker.UnpinAdapter("a@1")));
        assertEquals(new GpuWorker.Cancel("r"), roundTrip(new GpuWorker.Cancel("r")));
        assertEquals(new GpuWorker.AdapterLoaded("a", false, -1, "refused"),
                roundTrip(new GpuWorker.AdapterLoaded("a", false, -1, "refused")));
        assertEquals(new GpuWorker.AdapterEvicted("a", true, "evicted"),
                roundTrip(new GpuWorker.AdapterEvicted("a", true, "evicted")));
        TestProbe<GpuWorker.AdapterEvictedNotice> sub = kit.createTestProbe();
        assertEquals(new GpuWorker.SubscribeEvictions(sub.getRef()), roundTrip(new GpuWorker.SubscribeEvictions(sub.getRef())));
        assertEquals(new GpuWorker.AdapterEvictedNotice("w", "a@1", "lru"),
                roundTrip(new GpuWorker.AdapterEvictedNotice("w", "a@1", "lru")));
        TestProbe<GpuWorker.WorkerStatus> st = kit.createTestProbe();
        assertEquals(new GpuWorker.GetStatus(st.getRef()), roundTrip(new GpuWorker.GetStatus(st.getRef())));
    }

    @Test
    void worker_status_round_trips_with_cache_stats_and_adapter_load() {
        var snap = new LatencyRecorder.Snapshot(3, 1.5, 1.2, 2.5);
        var stats = new AdapterCache.Stats(1, 2, 3, 4, 5, snap, snap, List.of("a"), List.of("a", "b"), List.of(), 3);
        var s = new GpuWorker.WorkerStatus("w1", true, 2, 1, 100, 128, 0.22, 999, 4, 3, 3, List.of("a"), List.of(),
                stats, Map.of("a", 3, "b@2", 1), 256, 4);
        assertEquals(s, roundTrip(s));
    }
}
