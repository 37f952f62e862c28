package dev.quiver.gpu.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.testing.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The GpuWorker actor's protocol, with the Pekko TestKit. */
class GpuWorkerTest {
    static final ActorTestKit kit = ActorTestKit.create();
    static final Path model = TinyModels.model(DType.F32);
    static final Duration WAIT = Duration.ofSeconds(30);
    /** Long enough to still be running when cancelled: EOS ignored, near the tiny model's context. */
    static final SamplingParams LONG = new SamplingParams(480, 0f, 1f, -1, 0, List.of(), -1, true);

    @AfterAll
    static void shutdown() {
        kit.shutdownTestKit();
    }

    static ActorRef<GpuWorker.Command> worker(String name, int slots) {
        return worker(name, slots, 8);
    }

    static ActorRef<GpuWorker.Command> worker(String name, int slots, int hostCopies) {
        EngineSettings s = EngineSettings.defaults().withThreads(2).withKvCacheBytes(8L << 20)
                .withLoras(slots, hostCopies);
        return kit.spawn(GpuWorker.create(model, s, name), name);
    }

    static String dir(String adapter) {
        return model.resolve("adapters").resolve(adapter).toString();
    }

    static int[] prompt(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = 1 + (i * 7) % 90;
        }
        return p;
    }

    /** Reads one request's events to its end; returns tokens, or the failure. */
    static List<GpuWorker.Event> drain(TestProbe<GpuWorker.Event> probe, int requests) {
        List<GpuWorker.Event> all = new ArrayList<>();
        int ended = 0;
        while (ended < requests) {
            GpuWorker.Event e = probe.receiveMessage(WAIT);
            all.add(e);
            if (e instanceof GpuWorker.Finished || e instanceof GpuWorker.Failed) {
                ended++;
            }
        }
        return all;
    }

    @Test
    void serves_concurrent_requests_on_several_adapters_each_to_completion() {
        ActorRef<GpuWorker.Command> w = worker("concurrent", 4);
        TestProbe<GpuWorker.Event> probe = kit.createTestProbe();
        String[] adapters = {null, "adapter-01", "adapter-02", "adapter-03", "adapter-04"};
        for (int i = 0; i < 10; i++) {
            String a = adapters[i % adapters.length];
            w.tell(new GpuWorker.Generate("r" + i, a, a == null ? null : dir(a), prompt(4 + i),
                    new SamplingParams(6, 0.8f, 1f, -1, i, List.of(), -1, true), probe.getRef()));
        }
        Map<String, Integer> tokens = new HashMap<>();
        Map<String, GpuWorker.Finished> finished = new HashMap<>();
        for (GpuWorker.Event e : drain(probe, 10)) {
            if (e instanceof GpuWorker.Tokens t) {
                tokens.merge(t.requestId(), t.tokenIds().length, Integer::sum);
            } else if (e instanceof GpuWorker.Finished f) {
                finished.put(f.requestId(), f);
            }
        }
        assertEquals(10, finished.size());
        for (int i = 0; i < 10; i++) {
            assertEquals(6, tokens.get("r" + i));
            assertEquals(EngineListener.FinishReason.LENGTH, finished.get("r" + i).reason());
        }
        kit.stop(w);
    }

    @Test
    void a_generate_with_resume_tokens_streams_only_the_continuation() {
        ActorRef<GpuWorker.Command> w = worker("resume", 2);
        TestProbe<GpuWorker.Event> probe = kit.createTestProbe();
        SamplingParams params = new SamplingParams(12, 0.8f, 0.9f, -1, 11, List.of(), 0, true);
        w.tell(new GpuWorker.Generate("whole", "adapter-01", dir("adapter-01"), prompt(6), params, probe.getRef()));
        List<GpuWorker.Event> whole = drain(probe, 1);
        List<Integer> tokens = new ArrayList<>();
        List<Float> logprobs = new ArrayList<>();
        for (GpuWorker.Event e : whole) {
            if (e instanceof GpuWorker.Tokens t) {
                Arrays.stream(t.tokenIds()).forEach(tokens::add);
                t.logprobs().forEach(l -> logprobs.add(l.logprob()));
            }
        }
        assertEquals(12, tokens.size());
        int[] delivered = tokens.subList(0, 5).stream().mapToInt(Integer::intValue).toArray();
        w.tell(new GpuWorker.Generate("resumed", "adapter-01", dir("adapter-01"), prompt(6), params, delivered,
                probe.getRef()));
        List<GpuWorker.Event> resumed = drain(probe, 1);
        assertEquals(new GpuWorker.Accepted("resumed", 6), resumed.get(0));
        List<Integer> continuation = new ArrayList<>();
        List<Float> continuationLogprobs = new ArrayList<>();
        for (GpuWorker.Event e : resumed.subList(1, resumed.size() - 1)) {
            GpuWorker.Tokens t = assertInstanceOf(GpuWorker.Tokens.class, e);
            Arrays.stream(t.tokenIds()).forEach(continuation::add);
            t.logprobs().forEach(l -> continuationLogprobs.add(l.logprob()));
        }
        assertEquals(tokens.subList(5, 12), continuation, "only the 7 tokens after the 5 delivered");
        assertEquals(logprobs.subList(5, 12), continuationLogprobs);
        GpuWorker.Finished f = assertInstanceOf(GpuWorker.Finished.class, resumed.get(resumed.size() - 1));
        assertEquals(EngineListener.FinishReason.LENGTH, f.reason());
        assertEquals(new EngineListener.Usage(6, 12), f.usage(), "the resume tokens count as completion tokens");
        kit.stop(w);
    }

    @Test
    void status_reports_each_adapters_waiting_and_running_sequences_and_the_limits() {
        ActorRef<GpuWorker.Command> w = worker("load", 2);
        TestProbe<GpuWorker.Event> probe = kit.createTestProbe();
        String[] adapters = {"adapter-01", "adapter-01", "adapter-02", null};
        for (int i = 0; i < adapters.length; i++) {
            String a = adapters[i];
            w.tell(new GpuWorker.Generate("l" + i, a, a == null ? null : dir(a), prompt(8), LONG, probe.getRef()));
        }
        for (int i = 0; i < adapters.length; i++) {
            probe.expectMessageClass(GpuWorker.Accepted.class, WAIT);
        }
        TestProbe<GpuWorker.WorkerStatus> status = kit.createTestProbe();
        w.tell(new GpuWorker.GetStatus(status.getRef()));
        GpuWorker.WorkerStatus s = status.receiveMessage(WAIT);
        assertEquals(Map.of("adapter-01", 2, "adapter-02", 1), s.adapterLoad(), "the base-model request is not in it");
        assertEquals(EngineSettings.defaults().maxWaiting(), s.maxWaiting());
        assertEquals(2, s.maxLoras());
        kit.stop(w);
    }

    @Test
    void cancel_ends_a_request_and_frees_its_blocks() {
        ActorRef<GpuWorker.Command> w = worker("cancel", 2);
        TestProbe<GpuWorker.Event> probe = kit.createTestProbe();
        w.tell(new GpuWorker.Generate("long", null, null, prompt(10), LONG, probe.getRef()));
        probe.expectMessageClass(GpuWorker.Accepted.class, WAIT);
        probe.expectMessageClass(GpuWorker.Tokens.class, WAIT);
        w.tell(new GpuWorker.Cancel("long"));
        List<GpuWorker.Event> rest = drain(probe, 1);
        GpuWorker.Finished f = assertInstanceOf(GpuWorker.Finished.class, rest.get(rest.size() - 1));
        assertEquals(EngineListener.FinishReason.CANCELLED, f.reason());
        TestProbe<GpuWorker.WorkerStatus> status = kit.createTestProbe();
        w.tell(new GpuWorker.GetStatus(status.getRef()));
        GpuWorker.WorkerStatus s = status.receiveMessage(WAIT);
        assertEquals(s.totalKvBlocks(), s.freeKvBlocks());
        assertEquals(0, s.running());
        kit.stop(w);
    }

    @Test
    void a_requester_that_stops_has_its_requests_cancelled() throws Exception {
        ActorRef<GpuWorker.Command> w = worker("requester-gone", 2);
        TestProbe<String> started = kit.createTestProbe();
        // a stand-in for an HTTP request actor that goes away mid-stream (client disconnect)
        ActorRef<GpuWorker.Event> requester = kit.spawn(Behaviors.receive(GpuWorker.Event.class)
                .onMessage(GpuWorker.Tokens.class, t -> {
                    started.getRef().tell("tokens");
                    return Behaviors.stopped();
                })
                .onAnyMessage(m -> Behaviors.same())
                .build());
        w.tell(new GpuWorker.Generate("orphan", null, null, prompt(10), LONG, requester));
        started.expectMessage(WAIT, "tokens");
        TestProbe<GpuWorker.WorkerStatus> status = kit.createTestProbe();
        GpuWorker.WorkerStatus s = null;
        for (int i = 0; i < 200; i++) {
            w.tell(new GpuWorker.GetStatus(status.getRef()));
            s = status.receiveMessage(WAIT);
            if (s.running() == 0 && s.waiting() == 0) {
                break;
            }
            Thread.sleep(10);
        }
        assertEquals(0, s.running(), "the orphaned request was cancelled");
        assertEquals(s.totalKvBlocks(), s.freeKvBlocks());
        kit.stop(w);
    }

    @Test
    void a_bad_adapter_fails_only_its_own_request() throws IOException {
        ActorRef<GpuWorker.Command> w = worker("bad-adapter", 2);
        Path bad = Files.createTempDirectory("bad");
        Files.writeString(bad.resolve("adapter_config.json"), "{\"peft_type\":\"LORA\",\"r\":8,\"lora_alpha\":16,"
                + "\"target_modules\":[\"q_proj\"],\"use_dora\":true}");
        TestProbe<GpuWorker.Event> probe = kit.createTestProbe();
        w.tell(new GpuWorker.Generate("bad", "dora", bad.toString(), prompt(5), SamplingParams.greedy(4), probe.getRef()));
        w.tell(new GpuWorker.Generate("good", "adapter-01", dir("adapter-01"), prompt(5), SamplingParams.greedy(4),
                probe.getRef()));
        Map<String, GpuWorker.Event> last = new HashMap<>();
        for (GpuWorker.Event e : drain(probe, 2)) {
            last.put(e.requestId(), e);
        }
        GpuWorker.Failed f = assertInstanceOf(GpuWorker.Failed.class, last.get("bad"));
        assertEquals(EngineError.Kind.ADAPTER_REFUSED, f.error().kind());
        assertTrue(f.error().message().contains("DoRA"), f.error().message());
        assertInstanceOf(GpuWorker.Finished.class, last.get("good"));
        kit.stop(w);
    }

    /**
     * Subscribes {@code evictions}, loads adapter-01..03 one after the other into a worker with 2 slots, and checks
     * that the least recently used one left its slot; the worker's status after.
     */
    static GpuWorker.WorkerStatus loadThreeIntoTwoSlots(ActorRef<GpuWorker.Command> w,
                                                        TestProbe<GpuWorker.AdapterEvictedNotice> evictions) {
        w.tell(new GpuWorker.SubscribeEvictions(evictions.getRef()));
        TestProbe<GpuWorker.AdapterLoaded> loaded = kit.createTestProbe();
        for (String a : List.of("adapter-01", "adapter-02", "adapter-03")) {
            w.tell(new GpuWorker.LoadAdapter(a, dir(a), false, loaded.getRef()));
            GpuWorker.AdapterLoaded l = loaded.receiveMessage(WAIT);
            assertTrue(l.ok(), l.error());
        }
        TestProbe<GpuWorker.WorkerStatus> status = kit.createTestProbe();
        w.tell(new GpuWorker.GetStatus(status.getRef()));
        GpuWorker.WorkerStatus s = status.receiveMessage(WAIT);
        assertEquals(List.of("adapter-02", "adapter-03"), s.resident().stream().sorted().toList());
        assertEquals(1, s.adapters().slotEvictions());
        return s;
    }

    @Test
    void a_slot_eviction_keeps_the_host_copy_and_is_not_reported_as_leaving_the_worker() {
        ActorRef<GpuWorker.Command> w = worker("tiers", 2, 8);
        TestProbe<GpuWorker.AdapterEvictedNotice> evictions = kit.createTestProbe();
        GpuWorker.WorkerStatus s = loadThreeIntoTwoSlots(w, evictions);
        assertTrue(s.adapters().host().contains("adapter-01"), "the slot's victim keeps its host copy");
        evictions.expectNoMessage(Duration.ofMillis(300));
        // leaving the worker's memory is reported, here by an operator's eviction of the host copy
        TestProbe<GpuWorker.AdapterEvicted> evicted = kit.createTestProbe();
        w.tell(new GpuWorker.EvictAdapter("adapter-01", evicted.getRef()));
        assertTrue(evicted.receiveMessage(WAIT).evicted());
        assertEquals(new GpuWorker.AdapterEvictedNotice("tiers", "adapter-01", "operator"),
                evictions.receiveMessage(WAIT));
        kit.stop(w);
    }

    @Test
    void evicts_least_recently_used_adapter_when_slots_and_host_are_full_and_reports_residency() {
        ActorRef<GpuWorker.Command> w = worker("evict", 2, 2);
        TestProbe<GpuWorker.AdapterEvictedNotice> evictions = kit.createTestProbe();
        GpuWorker.WorkerStatus s = loadThreeIntoTwoSlots(w, evictions);
        assertEquals(new GpuWorker.AdapterEvictedNotice("evict", "adapter-01", "lru"), evictions.receiveMessage(WAIT));
        TestProbe<GpuWorker.AdapterEvicted> evicted = kit.createTestProbe();
        w.tell(new GpuWorker.EvictAdapter("adapter-02", evicted.getRef()));
        assertTrue(evicted.receiveMessage(WAIT).evicted());
        assertEquals(new GpuWorker.AdapterEvictedNotice("evict", "adapter-02", "operator"),
                evictions.receiveMessage(WAIT));
        TestProbe<GpuWorker.WorkerStatus> status = kit.createTestProbe();
        w.tell(new GpuWorker.GetStatus(status.getRef()));
        assertEquals(List.of("adapter-03"), status.receiveMessage(WAIT).resident());
        kit.stop(w);
    }

    @Test
    void a_pinned_adapter_is_never_evicted_by_lru() {
        ActorRef<GpuWorker.Command> w = worker("pin", 2);
        TestProbe<GpuWorker.AdapterLoaded> loaded = kit.createTestProbe();
        w.tell(new GpuWorker.LoadAdapter("adapter-01", dir("adapter-01"), true, loaded.getRef()));
        assertTrue(loaded.receiveMessage(WAIT).ok());
        for (String a : List.of("adapter-02", "adapter-03", "adapter-04")) {
            w.tell(new GpuWorker.LoadAdapter(a, dir(a), false, loaded.getRef()));
            assertTrue(loaded.receiveMessage(WAIT).ok());
        }
        TestProbe<GpuWorker.WorkerStatus> status = kit.createTestProbe();
        w.tell(new GpuWorker.GetStatus(status.getRef()));
        GpuWorker.WorkerStatus s = status.receiveMessage(WAIT);
        assertTrue(s.resident().contains("adapter-01"), "pinned adapter stays: " + s.resident());
        assertTrue(s.pinned().contains("adapter-01"));
        assertFalse(s.resident().contains("adapter-02"));
        kit.stop(w);
    }

    @Test
    void an_unpinned_adapter_stays_loaded_until_lru_needs_its_slot() {
        ActorRef<GpuWorker.Command> w = worker("unpin", 2);
        TestProbe<GpuWorker.AdapterLoaded> loaded = kit.createTestProbe();
        TestProbe<GpuWorker.WorkerStatus> status = kit.createTestProbe();
        w.tell(new GpuWorker.LoadAdapter("adapter-01", dir("adapter-01"), true, loaded.getRef()));
        assertTrue(loaded.receiveMessage(WAIT).ok());
        w.tell(new GpuWorker.UnpinAdapter("adapter-01"));
        w.tell(new GpuWorker.GetStatus(status.getRef()));
        GpuWorker.WorkerStatus s = status.receiveMessage(WAIT);
        assertTrue(s.resident().contains("adapter-01"), "unpinning does not evict: " + s.resident());
        assertFalse(s.pinned().contains("adapter-01"));
        for (String a : List.of("adapter-02", "adapter-03")) {
            w.tell(new GpuWorker.LoadAdapter(a, dir(a), false, loaded.getRef()));
            assertTrue(loaded.receiveMessage(WAIT).ok());
        }
        w.tell(new GpuWorker.GetStatus(status.getRef()));
        assertFalse(status.receiveMessage(WAIT).resident().contains("adapter-01"),
                "once unpinned, LRU may evict it");
        kit.stop(w);
    }
}
