package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.USER_A;
import static dev.quiver.node.it.TestCluster.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.edge.api.AdapterEvent;
import dev.quiver.edge.api.AdapterView;
import dev.quiver.node.it.SharedCassandra;
import dev.quiver.node.it.TestCluster;
import dev.quiver.node.worker.WorkerLoad;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Placement across a real 3-node cluster in one JVM (three ActorSystems, sharded adapter entities journaled in the
 * shared test Cassandra, requests over HTTP to any node's edge). Each worker has two adapter slots and runs two
 * sequences at a time, so slots fill and queues grow with a handful of requests. Every test retires or unpins what
 * it used; the last one stops a node.
 */
@ExtendWith(SharedCassandra.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterPlacementIT {
    static final Duration WAIT = Duration.ofSeconds(30);
    TestCluster cluster;
    final Path adapters = TestNodes.model().resolve("adapters");
    final List<String> toRetire = new ArrayList<>();
    final ExecutorService pool = Executors.newFixedThreadPool(16);

    @BeforeAll
    void start() {
        cluster = new TestCluster("cluster_placement_it", 3, """
                quiver.engine { max-loras = 2, max-cpu-loras = 2, max-num-seqs = 2, threads = 1 }
                quiver.node.placement { replicate-queue-threshold = 2, load-publish-interval = 100ms,
                                        maintain-interval = 500ms }
                """);
    }

    @AfterAll
    void stop() {
        pool.shutdownNow();
        cluster.close();
    }

    @AfterEach
    void retireWhatTheTestUsed() {
        List<String> retired = List.copyOf(toRetire);
        for (String name : retired) {
            cluster.client(1).delete("/v1/adapters/" + name, ADMIN_A);
        }
        toRetire.clear();
        await(WAIT, () -> cluster.node(1).directory().routable().stream().allMatch(w -> w.resident().stream()
                .noneMatch(k -> retired.contains(k.substring(0, k.lastIndexOf("@v"))))),
                "every retired adapter left its slot");
    }

    /** Registers {@code name} from a demo adapter's files through node 1. */
    void register(String name, String demo) {
        Client.Reply r = cluster.client(1).post("/v1/adapters", ADMIN_A, "{\"name\":\"" + name + "\",\"source\":\""
                + adapters.resolve(demo).toUri() + "\"}");
        assertEquals(201, r.status(), r.body());
        toRetire.add(name);
    }

    Client.Reply complete(int via, String model, int maxTokens) {
        return cluster.client(via).post("/v1/completions", USER_A, "{\"model\":\"" + model + "\",\"prompt\":"
                + "\"Tell me\",\"max_tokens\":" + maxTokens + ",\"temperature\":0,\"ignore_eos\":true}");
    }

    String greedy(int via, String model) {
        Client.Reply r = complete(via, model, 8);
        assertEquals(200, r.status(), r.body());
        return r.json().at("/choices/0/text").asText();
    }

    List<AdapterEvent> events(String name, String type) {
        return cluster.events(1, name).stream().filter(e -> e.type().equals(type)).toList();
    }

    List<String> workersOf(List<AdapterEvent> events) {
        return events.stream().map(e -> String.valueOf(e.detail().get("worker"))).toList();
    }

    void preload(String name, int replicas) {
        Client.Reply r = cluster.client(1).post("/v1/adapters/" + name + "/preload", ADMIN_A,
                "{\"replicas\":" + replicas + "}");
        assertEquals(200, r.status(), r.body());
    }

    static void pause(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    WorkerLoad loadOf(String workerId) {
        return cluster.node(1).directory().load(workerId).orElseThrow();
    }

    /** Workers whose published load pins the current version of {@code name} (v1 in these tests). */
    Set<String> pinnedOn(String name) {
        Set<String> out = new LinkedHashSet<>();
        for (WorkerLoad w : cluster.node(1).directory().routable()) {
            if (w.pinned().contains(name + "@v1")) {
                out.add(w.workerId());
            }
        }
        return out;
    }

    Map<String, Long> generatedTokens() {
        Map<String, Long> out = new HashMap<>();
        for (QuiverNode n : cluster.nodes()) {
            if (n != null) {
                out.put(n.worker().id(), n.worker().status().toCompletableFuture().join().generatedTokens());
            }
        }
        return out;
    }

    @Test
    @Order(1)
    void routes_requests_for_an_adapter_to_the_worker_that_holds_it_from_any_node() {
        register("t-resident", "adapter-01");
        String text = greedy(2, "t-resident");
        await(WAIT, () -> events("t-resident", "PlacedOn").size() == 1, "the first request placed it");
        String holder = workersOf(events("t-resident", "PlacedOn")).get(0);

        Map<String, Long> before = generatedTokens();
        for (int i = 0; i < 6; i++) {
            assertEquals(text, greedy(1 + i % 3, "t-resident"), "same adapter, same greedy text from every node");
        }
        Map<String, Long> after = generatedTokens();
        for (String worker : before.keySet()) {
            long generated = after.get(worker) - before.get(worker);
            if (worker.equals(holder)) {
                assertEquals(6 * 8, generated, "the holder generated every token");
            } else {
                assertEquals(0, generated, worker + " did not serve the resident adapter");
            }
        }
        assertEquals(1, events("t-resident", "PlacedOn").size(), "no second placement");
        AdapterView view = cluster.node(3).registry().get(TestCluster.ADMIN, "t-resident").toCompletableFuture()
                .join();
        assertEquals(List.of(holder), view.residentOn());
    }

    @Test
    @Order(2)
    void places_a_new_adapter_on_the_worker_with_a_free_slot_and_journals_an_lru_eviction_once_it_leaves_memory() {
        register("t-all", "adapter-01");
        register("t-two", "adapter-02");
        register("t-fresh", "adapter-03");
        register("t-next", "adapter-04");
        preload("t-all", 3);
        preload("t-two", 2);
        await(WAIT, () -> pinnedOn("t-all").size() == 3 && pinnedOn("t-two").size() == 2,
                "t-all pinned on 3 workers, t-two on 2");
        Set<String> all = pinnedOn("t-all");
        Set<String> free = new LinkedHashSet<>(all);
        free.removeAll(pinnedOn("t-two"));
        assertEquals(1, free.size(), "one worker keeps a free slot");
        String third = free.iterator().next();

        greedy(1, "t-fresh");
        await(WAIT, () -> events("t-fresh", "PlacedOn").size() == 1, "t-fresh placed");
        assertEquals(List.of(third), workersOf(events("t-fresh", "PlacedOn")),
                "the only worker with a free slot takes the new adapter");

        // every slot is now taken: the next adapter can only go where an unpinned one can be evicted
        greedy(2, "t-next");
        await(WAIT, () -> events("t-next", "PlacedOn").size() == 1, "t-next placed");
        assertEquals(List.of(third), workersOf(events("t-next", "PlacedOn")));
        // t-fresh lost its slot but kept its host copy (2 per worker): it still lives on that worker, so nothing is
        // journaled, and its next request goes back there without a new placement
        await(WAIT, () -> loadOf(third).tierOf("t-fresh@v1").equals("host"), "t-fresh moved to " + third
                + "'s host memory");
        greedy(3, "t-fresh");
        pause(Duration.ofMillis(1500)); // three maintenance rounds: time for a wrong eviction report to land
        assertEquals(List.of(), events("t-fresh", "EvictedFrom"), "a move between tiers is not an eviction");
        assertEquals(List.of(third), workersOf(events("t-fresh", "PlacedOn")), "served where it was, not placed");

        // a third unpinned adapter on that worker overflows its host memory: the one that leaves both tiers is
        // journaled as an LRU eviction
        register("t-last", "adapter-01");
        greedy(1, "t-last");
        await(WAIT, () -> events("t-last", "PlacedOn").size() == 1, "t-last placed");
        assertEquals(List.of(third), workersOf(events("t-last", "PlacedOn")));
        await(WAIT, () -> events("t-fresh", "EvictedFrom").size() + events("t-next", "EvictedFrom").size() == 1,
                "the LRU eviction from " + third + "'s memory is journaled");
        String gone = events("t-fresh", "EvictedFrom").isEmpty() ? "t-next" : "t-fresh";
        AdapterEvent eviction = events(gone, "EvictedFrom").get(0);
        assertEquals("lru", eviction.detail().get("reason"));
        assertEquals(third, eviction.detail().get("worker"));
        await(WAIT, () -> loadOf(third).tierOf(gone + "@v1").equals("disk"), gone + " is in neither tier");
        assertTrue(events("t-all", "EvictedFrom").isEmpty() && events("t-two", "EvictedFrom").isEmpty(),
                "pinned adapters are never evicted by LRU");
        preload("t-all", 0);
        preload("t-two", 0);
    }

    @Test
    @Order(3)
    void replicates_a_hot_adapter_onto_another_worker_when_its_queue_grows() {
        register("t-hot", "adapter-02");
        greedy(1, "t-hot");
        await(WAIT, () -> events("t-hot", "PlacedOn").size() == 1, "t-hot placed");
        // NOTE: the relay that sees the queue asks the adapter's entity, which decides from its own node's view of
        // the loads (published every 100 ms, plus that node's own requests in flight): in one burst that view can
        // still show the holder with room and route everything to it. Sustained load replicates; a few bursts
        // (bounded) stand for it.
        for (int wave = 0; wave < 4 && Set.copyOf(workersOf(events("t-hot", "PlacedOn"))).size() < 2; wave++) {
            List<CompletableFuture<Client.Reply>> burst = IntStream.range(0, 16)
                    .mapToObj(i -> CompletableFuture.supplyAsync(() -> complete(1 + i % 3, "t-hot", 300), pool))
                    .toList();
            burst.forEach(f -> assertEquals(200, f.join().status(), f.join().body()));
            long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (Set.copyOf(workersOf(events("t-hot", "PlacedOn"))).size() < 2 && System.nanoTime() < until) {
                pause(Duration.ofMillis(200));
            }
        }
        await(WAIT, () -> Set.copyOf(workersOf(events("t-hot", "PlacedOn"))).size() >= 2,
                "a second worker holds the hot adapter");
        assertTrue(Set.copyOf(workersOf(events("t-hot", "PlacedOn"))).size() <= 3, "at most max-replicas");
    }

    @Test
    @Order(4)
    void a_pinned_adapter_stays_resident_while_other_adapters_churn_through_the_slots() {
        register("t-pinned", "adapter-03");
        preload("t-pinned", 2);
        await(WAIT, () -> pinnedOn("t-pinned").size() == 2, "t-pinned on 2 workers");
        Set<String> holders = pinnedOn("t-pinned");
        for (int round = 0; round < 2; round++) {
            for (int i = 1; i <= 4; i++) {
                String name = "t-churn-" + i;
                if (round == 0) {
                    register(name, "adapter-0" + i);
                }
                greedy(1 + i % 3, name);
            }
        }
        assertEquals(holders, pinnedOn("t-pinned"));
        for (WorkerLoad w : cluster.node(2).directory().routable()) {
            if (holders.contains(w.workerId())) {
                assertTrue(w.resident().contains("t-pinned@v1"), w.workerId() + " still holds it");
            }
        }
        assertTrue(events("t-pinned", "EvictedFrom").isEmpty(), "never evicted");
        assertTrue(cluster.events(1, "t-churn-1").stream().anyMatch(e -> e.type().equals("PlacedOn")),
                "the churn went through the slots");
        toRetire.remove("t-pinned");
    }

    @Test
    @Order(5)
    void a_pinned_adapter_lost_with_its_node_is_journaled_as_node_lost_and_placed_again() {
        // t-pinned from the previous test is still pinned on two workers
        Set<String> holders = pinnedOn("t-pinned");
        assertEquals(2, holders.size());
        int victim = 2;
        for (int i = 2; i <= 3; i++) {
            if (holders.contains(cluster.node(i).worker().id())) {
                victim = i;
            }
        }
        String lost = cluster.node(victim).worker().id();
        assertTrue(holders.contains(lost));
        cluster.stop(victim);

        await(WAIT, () -> events("t-pinned", "EvictedFrom").stream()
                .anyMatch(e -> "node-lost".equals(e.detail().get("reason")) && lost.equals(e.detail().get("worker"))),
                "EvictedFrom(" + lost + ", node-lost) journaled");
        await(WAIT, () -> pinnedOn("t-pinned").size() == 2 && !pinnedOn("t-pinned").contains(lost),
                "the preload is met again by the two workers left");
        assertNotEquals(holders, pinnedOn("t-pinned"));
        assertEquals(200, complete(1, "t-pinned", 4).status());
        toRetire.add("t-pinned");
    }
}
