package dev.quiver.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A map spread over several Distributed Data keys behaves as one map between two cluster nodes (two actor systems
 * over real Artery sockets on loopback): every entry arrives, the newest version wins, removals arrive, and a change
 * of one bucket leaves the entries of the others in place.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReplicatedMapTest {
    /** A value as the catalog's: its own version is the last-writer-wins clock. */
    public record Item(String name, long version) implements ClusterMessage {
    }

    ActorSystem<Void> a;
    ActorSystem<Void> b;
    ReplicatedMap<Item> onA;
    ReplicatedMap<Item> onB;

    static Config config() {
        return ConfigFactory.parseString("""
                pekko.remote.artery.canonical.port = 0
                pekko.cluster.seed-nodes = []
                pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
                pekko.cluster.distributed-data.gossip-interval = 200ms
                pekko.loglevel = WARNING
                """).withFallback(ConfigFactory.defaultReference()).resolve();
    }

    @BeforeAll
    void start() {
        a = ActorSystem.create(Behaviors.empty(), "replicated-map-test", config());
        b = ActorSystem.create(Behaviors.empty(), "replicated-map-test", config());
        Cluster ca = Cluster.get(a);
        ca.manager().tell(Join.create(ca.selfMember().address()));
        Cluster.get(b).manager().tell(Join.create(ca.selfMember().address()));
        await(() -> up(a) == 2 && up(b) == 2, "two members up on both");
        onA = ReplicatedMap.start(a, "test-map", 4, Item::version, s -> { });
        onB = ReplicatedMap.start(b, "test-map", 4, Item::version, s -> { });
    }

    @AfterAll
    void stop() {
        b.terminate();
        a.terminate();
    }

    static long up(ActorSystem<?> system) {
        return java.util.stream.StreamSupport.stream(Cluster.get(system).state().getMembers().spliterator(), false)
                .filter(m -> m.status() == org.apache.pekko.cluster.MemberStatus.up()).count();
    }

    static void await(Supplier<Boolean> condition, String what) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.get()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 30 s: " + what);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    @Test
    void entries_in_every_bucket_reach_the_other_node_and_the_newest_version_wins() {
        for (int i = 0; i < 200; i++) {
            onA.put("item-" + i, new Item("item-" + i, 1));
        }
        await(() -> onB.snapshot().size() == 200, "200 entries on B, has " + onB.snapshot().size());
        // Newer versions written on B, an older one written on A afterwards: B's stay.
        for (int i = 0; i < 50; i++) {
            onB.put("item-" + i, new Item("item-" + i, 3));
        }
        for (int i = 0; i < 50; i++) {
            onA.put("item-" + i, new Item("item-" + i, 2));
        }
        await(() -> onA.snapshot().values().stream().filter(v -> v.version() == 3).count() == 50,
                "50 entries at version 3 on A");
        Map<String, Item> onAView = onA.snapshot();
        assertEquals(200, onAView.size(), "a change in some buckets keeps the entries of the others");
        for (int i = 0; i < 200; i++) {
            assertEquals(i < 50 ? 3 : 1, onAView.get("item-" + i).version(), "item-" + i);
        }
        onA.remove("item-199");
        await(() -> !onB.snapshot().containsKey("item-199"), "the removal reaches B");
        assertEquals(199, onB.snapshot().size());
        assertFalse(onA.snapshot().containsKey("item-199"));
    }

    @Test
    void putting_the_value_already_held_writes_nothing_to_the_replica() throws Exception {
        ReplicatedMap<Item> m = ReplicatedMap.start(a, "same-map", 4, Item::version, s -> { });
        ReplicatedMap<Item> onBToo = ReplicatedMap.start(b, "same-map", 4, Item::version, s -> { });
        m.putLocal("x", new Item("x", 5)).toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
        long before = m.writes();
        for (int i = 0; i < 20; i++) {
            m.put("x", new Item("x", 5));
        }
        // the actor handles its messages in order: this one completing means the puts above were handled
        m.putLocal("x", new Item("x", 5)).toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(before, m.writes(), "an equal value is not written again");
        m.putLocal("x", new Item("x", 4)).toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(before, m.writes(), "an older version is not written");
        m.putLocal("x", new Item("x", 6)).toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(before + 1, m.writes(), "a newer version is");
        await(() -> new Item("x", 6).equals(onBToo.snapshot().get("x")), "the newer version reaches B");
    }

    @Test
    void entries_filed_under_another_key_count_are_ignored() {
        // The same map spread over 4 keys on A and over 2 on B (a misconfigured node): B's keys 0 and 1 are A's
        // keys 0 and 1, but hold entries that A files under keys 2 and 3. A takes only those it files there too.
        ReplicatedMap<Item> onA4 = ReplicatedMap.start(a, "count-map", 4, Item::version, s -> { });
        ReplicatedMap<Item> onB2 = ReplicatedMap.start(b, "count-map", 2, Item::version, s -> { });
        java.util.Set<String> expected = new java.util.HashSet<>();
        for (int i = 0; i < 40; i++) {
            String k = "entry-" + i;
            onB2.put(k, new Item(k, 1));
            if (Math.floorMod(k.hashCode(), 4) < 2) {
                expected.add(k);
            }
        }
        await(() -> onB2.snapshot().size() == 40, "B has its 40 entries");
        await(() -> onA4.snapshot().keySet().equals(expected), "A holds the " + expected.size()
                + " entries it files under keys 0 and 1, holds " + onA4.snapshot().keySet());
        assertEquals(expected, onA4.snapshot().keySet());
    }

    @Test
    void a_node_that_joins_late_reads_every_entry_from_a_majority_at_once() throws Exception {
        ReplicatedMap<Item> lateA = ReplicatedMap.start(a, "late-map", 4, Item::version, s -> { });
        ReplicatedMap<Item> lateB = ReplicatedMap.start(b, "late-map", 4, Item::version, s -> { });
        for (int i = 0; i < 100; i++) {
            lateA.putEverywhere("late-" + i, new Item("late-" + i, i % 2 == 0 ? 1 : 2), Duration.ofSeconds(5))
                    .toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
        }
        await(() -> lateB.snapshot().size() == 100, "100 entries on B");
        // C's own gossip is slow, so what it knows right after joining comes from the majority read.
        ActorSystem<Void> c = ActorSystem.create(Behaviors.empty(), "replicated-map-test", ConfigFactory.parseString(
                "pekko.cluster.distributed-data.gossip-interval = 1h").withFallback(config()));
        try {
            Cluster.get(c).manager().tell(Join.create(Cluster.get(a).selfMember().address()));
            await(() -> up(a) == 3 && up(c) == 3, "three members up");
            ReplicatedMap<Item> lateC = ReplicatedMap.start(c, "late-map", 4, Item::version, s -> { });
            Map<String, Item> read = lateC.readMajority(Duration.ofSeconds(5)).toCompletableFuture()
                    .get(20, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(100, read.size(), "every entry, from every bucket");
            assertEquals(2, read.get("late-7").version());
            assertEquals(100, lateC.snapshot().size(), "the snapshot shows the read when it completes");
            assertEquals(new Item("late-8", 1), lateC.snapshot().get("late-8"));
        } finally {
            c.terminate();
            c.getWhenTerminated().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
        }
    }
}
