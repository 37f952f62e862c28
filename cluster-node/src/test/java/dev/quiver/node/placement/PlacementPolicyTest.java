package dev.quiver.node.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.node.placement.PlacementPolicy.Outcome;
import dev.quiver.node.worker.WorkerLoad;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The placement policy alone: which worker a request goes to and where an adapter is placed. */
class PlacementPolicyTest {
    static final String KEY = "support-bot@v3";
    final PlacementPolicy policy = new PlacementPolicy(new PlacementPolicy.Settings(4, 3));

    /** A worker with {@code maxWaiting} 8 and 4 slots. */
    static final class W {
        final String id;
        int running;
        int waiting;
        int freeSlots = 4;
        final List<String> resident = new ArrayList<>();
        final List<String> pinned = new ArrayList<>();
        int adapterLoad;

        W(String id) {
            this.id = id;
        }

        W load(int running, int waiting) {
            this.running = running;
            this.waiting = waiting;
            return this;
        }

        W slots(int free) {
            this.freeSlots = free;
            return this;
        }

        W holding(String key, int load) {
            resident.add(key);
            adapterLoad = load;
            return this;
        }

        W pinning(String... keys) {
            pinned.addAll(List.of(keys));
            return this;
        }

        WorkerLoad build() {
            return new WorkerLoad(id, id.split("/")[0], "pekko://quiver@127.0.0.1:1#1", null, true, running, 8,
                    waiting, 8, freeSlots, 4, resident, pinned, adapterLoad == 0 ? Map.of() : Map.of(KEY, adapterLoad), 0.1,
                    new WorkerLoad.Cache(List.of(), 0, 0, 0, 0, 0, 0, 0), 0, 0);
        }
    }

    static List<WorkerLoad> live(W... workers) {
        return java.util.Arrays.stream(workers).map(W::build).toList();
    }

    @Test
    void routes_to_the_least_loaded_worker_that_holds_the_adapter() {
        var d = policy.route(KEY, Set.of("n1/w", "n2/w"), Set.of(), live(
                new W("n1/w").load(6, 2).holding(KEY, 3),
                new W("n2/w").load(2, 0).holding(KEY, 1),
                new W("n3/w").load(0, 0)));
        assertEquals(new PlacementPolicy.Route("n2/w", Outcome.RESIDENT, Optional.empty()), d,
                "an idle worker without the adapter does not win over a resident one");
    }

    @Test
    void places_an_adapter_held_nowhere_on_a_worker_with_a_free_slot_and_the_least_load() {
        var d = policy.route(KEY, Set.of(), Set.of(), live(
                new W("n1/w").load(0, 0).slots(0),
                new W("n2/w").load(5, 1).slots(2),
                new W("n3/w").load(3, 0).slots(1)));
        assertEquals(new PlacementPolicy.Route("n3/w", Outcome.PLACED, Optional.of("n3/w")), d,
                "a free slot first, then the least load");
    }

    @Test
    void with_no_free_slot_anywhere_places_where_lru_can_evict_an_unpinned_adapter() {
        var d = policy.route(KEY, Set.of(), Set.of(), live(
                new W("n1/w").load(0, 0).slots(0).pinning("a@v1", "b@v1", "c@v1", "d@v1"),
                new W("n2/w").load(4, 0).slots(0).pinning("a@v1")));
        assertEquals(new PlacementPolicy.Route("n2/w", Outcome.PLACED, Optional.of("n2/w")), d,
                "a worker whose every slot is pinned cannot take it");
    }

    @Test
    void replicates_a_hot_adapter_when_every_holder_is_backlogged() {
        var d = policy.route(KEY, Set.of("n1/w"), Set.of(), live(
                new W("n1/w").load(8, 5).holding(KEY, 13),
                new W("n2/w").load(1, 0)));
        assertEquals(new PlacementPolicy.Route("n2/w", Outcome.REPLICATED, Optional.of("n2/w")), d);
    }

    @Test
    void does_not_replicate_below_the_threshold_nor_for_a_backlog_of_other_adapters() {
        var below = policy.route(KEY, Set.of("n1/w"), Set.of(), live(
                new W("n1/w").load(8, 3).holding(KEY, 11), new W("n2/w")));
        assertEquals(Outcome.RESIDENT, ((PlacementPolicy.Route) below).outcome());
        var others = policy.route(KEY, Set.of("n1/w"), Set.of(), live(
                new W("n1/w").load(8, 6), new W("n2/w")));
        assertEquals(Outcome.RESIDENT, ((PlacementPolicy.Route) others).outcome(),
                "the holder's queue is not this adapter's");
    }

    @Test
    void stops_replicating_at_max_replicas_and_then_queues_on_the_holders() {
        var d = policy.route(KEY, Set.of("n1/w", "n2/w", "n3/w"), Set.of(), live(
                new W("n1/w").load(8, 5).holding(KEY, 13),
                new W("n2/w").load(8, 4).holding(KEY, 12),
                new W("n3/w").load(8, 6).holding(KEY, 14),
                new W("n4/w")));
        assertEquals(new PlacementPolicy.Route("n2/w", Outcome.RESIDENT, Optional.empty()), d);
    }

    @Test
    void a_saturated_cluster_refuses_early_with_a_retry_hint() {
        var d = policy.route(KEY, Set.of("n1/w"), Set.of(), live(
                new W("n1/w").load(8, 8).holding(KEY, 16), new W("n2/w").load(8, 8)));
        PlacementPolicy.Overloaded o = assertInstanceOf(PlacementPolicy.Overloaded.class, d);
        assertTrue(o.retryAfterSeconds() >= 1);
        assertInstanceOf(PlacementPolicy.Overloaded.class, policy.routeBase(Set.of(), live(new W("n1/w").load(8, 8))));
    }

    @Test
    void holders_with_full_queues_make_room_by_replicating_before_refusing() {
        var d = policy.route(KEY, Set.of("n1/w"), Set.of(), live(
                new W("n1/w").load(8, 8).holding(KEY, 16), new W("n2/w").load(8, 1)));
        assertEquals(new PlacementPolicy.Route("n2/w", Outcome.REPLICATED, Optional.of("n2/w")), d);
    }

    @Test
    void never_routes_to_an_excluded_worker_nor_to_one_that_is_not_live() {
        var d = policy.route(KEY, Set.of("n1/w", "n9/w"), Set.of("n1/w"), live(
                new W("n1/w").holding(KEY, 1), new W("n2/w").load(3, 0)));
        assertEquals(new PlacementPolicy.Route("n2/w", Outcome.PLACED, Optional.of("n2/w")), d,
                "n9/w holds it in the journal but is not live; n1/w failed this request");
        assertInstanceOf(PlacementPolicy.NoWorker.class, policy.route(KEY, Set.of(), Set.of(), List.of()));
        assertInstanceOf(PlacementPolicy.NoWorker.class,
                policy.route(KEY, Set.of(), Set.of("n1/w"), live(new W("n1/w"))));
    }

    @Test
    void base_model_requests_go_to_the_least_loaded_worker() {
        assertEquals(new PlacementPolicy.Route("n2/w", Outcome.RESIDENT, Optional.empty()),
                policy.routeBase(Set.of(), live(new W("n1/w").load(3, 1), new W("n2/w").load(1, 0))));
    }

    @Test
    void pins_go_to_workers_with_free_slots_first_and_never_twice_to_a_holder() {
        List<String> targets = policy.pinTargets(KEY, Set.of("n1/w"), 2, live(
                new W("n1/w"),
                new W("n2/w").slots(0),
                new W("n3/w").load(5, 0).slots(1),
                new W("n4/w").slots(0).pinning("a@v1", "b@v1", "c@v1", "d@v1")));
        assertEquals(List.of("n3/w", "n2/w"), targets);
        assertEquals(List.of(), policy.pinTargets(KEY, Set.of(), 0, live(new W("n1/w"))));
    }

    @Test
    void adapters_placed_on_equally_loaded_workers_spread_over_them_deterministically() {
        List<WorkerLoad> idle = live(new W("n1/w"), new W("n2/w"), new W("n3/w"));
        Map<String, Integer> chosen = new HashMap<>();
        for (int i = 0; i < 30; i++) {
            var d = (PlacementPolicy.Route) policy.route("adapter-" + i + "@v1", Set.of(), Set.of(), idle);
            assertEquals(d, policy.route("adapter-" + i + "@v1", Set.of(), Set.of(), idle), "same input, same answer");
            chosen.merge(d.workerId(), 1, Integer::sum);
        }
        assertEquals(Set.of("n1/w", "n2/w", "n3/w"), chosen.keySet(), "every worker gets some: " + chosen);
    }

    @Test
    void requests_routed_since_the_last_published_load_fill_the_batch_before_the_queue() {
        WorkerLoad w = new W("n1/w").load(6, 0).build();
        WorkerLoad two = w.withLocal(2, Map.of(KEY, 2), 0);
        assertEquals(List.of(8, 0, 2), List.of(two.running(), two.waiting(), two.loadOf(KEY)),
                "a batch of 8 has room for both");
        WorkerLoad five = w.withLocal(5, Map.of(KEY, 5), 1);
        assertEquals(List.of(8, 3, 3), List.of(five.running(), five.waiting(), five.freeSlots()),
                "three queue; a placement in flight takes a slot");
        assertEquals(Outcome.RESIDENT, ((PlacementPolicy.Route) policy.route(KEY, Set.of("n1/w"), Set.of(),
                List.of(two, new W("n2/w").build()))).outcome(), "a full batch is not a backlog");
    }
}
