package dev.quiver.node.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import java.util.function.ToLongFunction;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.ddata.Key;
import org.apache.pekko.cluster.ddata.LWWMap;
import org.apache.pekko.cluster.ddata.LWWMapKey;
import org.apache.pekko.cluster.ddata.LWWRegister;
import org.apache.pekko.cluster.ddata.SelfUniqueAddress;
import org.apache.pekko.cluster.ddata.typed.javadsl.DistributedData;
import org.apache.pekko.cluster.ddata.typed.javadsl.Replicator;
import org.apache.pekko.cluster.ddata.typed.javadsl.ReplicatorMessageAdapter;

/**
 * A map replicated to every node through Pekko Distributed Data (an {@link LWWMap}), read locally without a round
 * trip: {@link #snapshot()} is an immutable copy swapped in whenever the replica changes. Each value carries its
 * own version ({@code version}), used as the last-writer-wins clock, so an older value never replaces a newer one
 * whichever node writes it. A {@link #put} is visible on this node at once and reaches the others by gossip.
 *
 * <p>The entries are spread over {@code buckets} Distributed Data keys ({@code NAME-0..NAME-(B-1)}, by the entry
 * key's hash). Distributed Data replicates a key's whole value when it gossips full state (to a node that joins or
 * missed deltas), and one remote message must fit Artery's {@code maximum-frame-size}: thousands of adapters in one
 * key would not. Each change also costs every node work in proportion to its key's entries (the digest serialises
 * the whole key), so the catalog uses many small keys (docs/CLUSTER.md, "The catalog's cost"). Every node must use
 * the same number of keys for a map: entries a node would file under another key are ignored, and logged.
 *
 * <p>The worker directory (worker loads) and the adapter catalog (adapter states) are two of these.
 */
public final class ReplicatedMap<V> {

    private sealed interface Command permits Put, Remove, Replicated, Ignored, Written, ReadFresh, FreshRead, ReadPeers, PeersRead {
    }

    private record ReadFresh(String key, CompletableFuture<Object> result) implements Command {
    }

    private record FreshRead(String key, Map<String, ?> entries, CompletableFuture<Object> result)
            implements Command {
    }

    private record ReadPeers(Duration timeout, CompletableFuture<Map<String, Object>> result) implements Command {
    }

    /** One bucket's answer to {@link ReadPeers}: its entries, or null when neither a majority nor this node had it. */
    private record PeersRead(int bucket, Map<String, ?> entries, boolean fromMajority, Duration timeout,
                             Gathered gathered) implements Command {
    }

    /** The buckets of one {@link ReadPeers} answered so far. */
    private static final class Gathered {
        final Map<String, Object> entries = new HashMap<>();
        final CompletableFuture<Map<String, Object>> result;
        int pending;

        Gathered(int buckets, CompletableFuture<Map<String, Object>> result) {
            this.pending = buckets;
            this.result = result;
        }
    }

    /** {@code writeAll}: replicate to every reachable node before completing {@code done} (null: local write). */
    private record Put(String key, Object value, Duration writeAll, CompletableFuture<Void> done) implements Command {
    }

    private record Written(CompletableFuture<Void> done) implements Command {
    }

    private record Remove(String key) implements Command {
    }

    private record Replicated(int bucket, Map<String, ?> entries) implements Command {
    }

    private record Ignored() implements Command {
    }

    private final String name;
    private final ToLongFunction<V> version;
    /** Writes handed to the replicator by {@link #put}, {@link #putLocal} and {@link #putEverywhere}. */
    private final java.util.concurrent.atomic.AtomicLong writes = new java.util.concurrent.atomic.AtomicLong();
    private final Consumer<Map<String, V>> onChange;
    private volatile Map<String, V> snapshot = Map.of();
    private final ActorRef<Command> actor;

    private final List<Key<LWWMap<String, V>>> keys;

    private ReplicatedMap(ActorSystem<?> system, String name, int buckets, ToLongFunction<V> version,
                          Consumer<Map<String, V>> onChange) {
        if (buckets < 1) {
            throw new IllegalArgumentException("a replicated map needs at least one bucket, not " + buckets);
        }
        this.name = name;
        this.version = version;
        this.onChange = onChange;
        List<Key<LWWMap<String, V>>> k = new ArrayList<>();
        for (int b = 0; b < buckets; b++) {
            k.add(LWWMapKey.create(buckets == 1 ? name : name + "-" + b));
        }
        this.keys = List.copyOf(k);
        this.actor = system.systemActorOf(behavior(), "replicated-" + name, Props.empty());
    }

    private int bucket(String entryKey) {
        return Math.floorMod(entryKey.hashCode(), keys.size());
    }

    private Key<LWWMap<String, V>> keyOf(String entryKey) {
        return keys.get(bucket(entryKey));
    }

    /**
     * Starts this node's replica of the map {@code name}.
     *
     * @param version  the value's version: the last-writer-wins clock
     * @param onChange called (on the replica's actor) with the new snapshot after each change
     */
    public static <V> ReplicatedMap<V> start(ActorSystem<?> system, String name, ToLongFunction<V> version,
                                             Consumer<Map<String, V>> onChange) {
        return new ReplicatedMap<>(system, name, 1, version, onChange);
    }

    /** As {@link #start(ActorSystem, String, ToLongFunction, Consumer)}, over {@code buckets} keys. */
    public static <V> ReplicatedMap<V> start(ActorSystem<?> system, String name, int buckets,
                                             ToLongFunction<V> version, Consumer<Map<String, V>> onChange) {
        return new ReplicatedMap<>(system, name, buckets, version, onChange);
    }

    /** How many puts of this node reached the replicator (the others found a newer version or this very value held). */
    long writes() {
        return writes.get();
    }

    /** This node's current view: immutable, updated as the replica changes. */
    public Map<String, V> snapshot() {
        return snapshot;
    }

    /**
     * Writes {@code value} unless this node already holds a newer version of it, or this very value; other nodes
     * learn it by gossip.
     */
    public void put(String key, V value) {
        actor.tell(new Put(key, value, null, null));
    }

    /**
     * Writes {@code value} and replicates it to every reachable node; completes once they all have it, or after
     * {@code timeout} (then gossip finishes the job). Never completes exceptionally.
     */
    public CompletionStage<Void> putEverywhere(String key, V value, Duration timeout) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        actor.tell(new Put(key, value, timeout, done));
        return done;
    }

    /**
     * Writes {@code value} on this node only (others learn it by gossip); completes once this node's
     * {@link #snapshot()} shows it (or a newer version).
     */
    public CompletionStage<Void> putLocal(String key, V value) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        actor.tell(new Put(key, value, null, done));
        return done;
    }

    /**
     * The value of {@code key} as this node's replicator holds it right now: it may be newer than
     * {@link #snapshot()}, which follows the replicator's change notifications (every
     * {@code notify-subscribers-interval}). A local read, no round trip; for a miss in the snapshot.
     */
    @SuppressWarnings("unchecked")
    public CompletionStage<java.util.Optional<V>> readFresh(String key) {
        CompletableFuture<Object> result = new CompletableFuture<>();
        actor.tell(new ReadFresh(key, result));
        return result.thenApply(v -> java.util.Optional.ofNullable((V) v));
    }

    public void remove(String key) {
        actor.tell(new Remove(key));
    }

    /**
     * The whole map as a majority of the nodes holds it (Distributed Data's {@code ReadMajority} on every bucket,
     * merged, written back to this node's replica and shown in its {@link #snapshot()}): for a node that has just joined and whose replica gossip
     * has not filled yet. A bucket whose majority read fails within {@code timeout} (too few reachable nodes) falls
     * back to this node's replica. Never completes exceptionally.
     */
    @SuppressWarnings("unchecked")
    public CompletionStage<Map<String, V>> readMajority(Duration timeout) {
        CompletableFuture<Map<String, Object>> result = new CompletableFuture<>();
        actor.tell(new ReadPeers(timeout, result));
        return result.thenApply(m -> (Map<String, V>) Map.copyOf(m));
    }

    @SuppressWarnings("unchecked")
    private Behavior<Command> behavior() {
        return Behaviors.setup(ctx -> DistributedData.<Command, LWWMap<String, V>>withReplicatorMessageAdapter(
                (ReplicatorMessageAdapter<Command, LWWMap<String, V>> replicator) -> {
                    SelfUniqueAddress self = DistributedData.get(ctx.getSystem()).selfUniqueAddress();
                    LWWRegister.Clock<V> clock = (now, value) -> version.applyAsLong(value);
                    // Writes of this node that the replica has not shown back yet: a change notification that
                    // predates them must not hide them from the snapshot.
                    Map<String, V> pendingPuts = new HashMap<>();
                    java.util.Set<String> pendingRemovals = new java.util.HashSet<>();
                    // Buckets already reported as holding entries that hash elsewhere (logged once each).
                    java.util.Set<Integer> misfiledWarned = new java.util.HashSet<>();
                    // NOTE: the adapter maps every key's Changed through one function (message adapters are per
                    // message class), so the bucket comes from the notification's own key.
                    for (Key<LWWMap<String, V>> key : keys) {
                        replicator.subscribe(key, rsp -> rsp instanceof Replicator.Changed<LWWMap<String, V>> c
                                && keys.contains(c.key()) ? new Replicated(keys.indexOf(c.key()),
                                c.get(c.key()).getEntries()) : new Ignored());
                    }
                    return Behaviors.receive(Command.class)
                            .onMessage(Put.class, p -> {
                                V value = (V) p.value();
                                V held = snapshot.get(p.key());
                                // NOTE: nor is a value equal to the one held (an adapter entity recovering publishes
                                // the state it published before): in Distributed Data a re-put is a change (a new dot
                                // in the map's key set) that every node would merge, digest and gossip. A replicated
                                // write (writeAll) still goes out, to reach the nodes that lack it.
                                if (held != null && (version.applyAsLong(held) > version.applyAsLong(value)
                                        || p.writeAll() == null && held.equals(value))) {
                                    ClusterMetrics.replicatedWrite(name, false);
                                    if (p.done() != null) {
                                        p.done().complete(null);
                                    }
                                    return Behaviors.same();
                                }
                                ClusterMetrics.replicatedWrite(name, true);
                                writes.incrementAndGet();
                                Map<String, V> next = new HashMap<>(snapshot);
                                next.put(p.key(), value);
                                pendingPuts.put(p.key(), value);
                                pendingRemovals.remove(p.key());
                                publish(next);
                                Replicator.WriteConsistency consistency = p.writeAll() == null
                                        ? Replicator.writeLocal() : new Replicator.WriteAll(p.writeAll());
                                replicator.askUpdate(replyTo -> new Replicator.Update<>(keyOf(p.key()),
                                        LWWMap.create(), consistency, replyTo, m -> m.put(self, p.key(), value, clock)),
                                        rsp -> p.done() == null ? new Ignored() : new Written(p.done()));
                                return Behaviors.same();
                            })
                            .onMessage(ReadFresh.class, r -> {
                                Key<LWWMap<String, V>> key = keyOf(r.key());
                                replicator.askGet(replyTo -> new Replicator.Get<>(key, Replicator.readLocal(), replyTo),
                                        rsp -> new FreshRead(r.key(), rsp instanceof Replicator.GetSuccess<LWWMap<String, V>> ok
                                                ? ok.get(key).getEntries() : Map.of(), r.result()));
                                return Behaviors.same();
                            })
                            .onMessage(FreshRead.class, f -> {
                                Object v = f.entries().get(f.key());
                                Object held = snapshot.get(f.key());
                                f.result().complete(v != null ? v : held);
                                return Behaviors.same();
                            })
                            .onMessage(ReadPeers.class, r -> {
                                Gathered g = new Gathered(keys.size(), r.result());
                                for (int b = 0; b < keys.size(); b++) {
                                    readBucket(replicator, b, true, r.timeout(), g);
                                }
                                return Behaviors.same();
                            })
                            .onMessage(PeersRead.class, p -> {
                                if (p.entries() == null && p.fromMajority()) {
                                    // No majority answered in time: take what this node's replica holds.
                                    readBucket(replicator, p.bucket(), false, p.timeout(),
                                            p.gathered());
                                    return Behaviors.same();
                                }
                                Gathered g = p.gathered();
                                if (p.entries() != null) {
                                    // entries filed under another key count are ignored, as in Replicated
                                    p.entries().forEach((k, v) -> {
                                        if (bucket(k) == p.bucket()) {
                                            g.entries.put(k, v);
                                        }
                                    });
                                }
                                if (--g.pending == 0) {
                                    // The snapshot shows what was read at once, not at the next change notification.
                                    Map<String, V> next = new HashMap<>(snapshot);
                                    boolean changed = false;
                                    for (Map.Entry<String, Object> e : g.entries.entrySet()) {
                                        V read = (V) e.getValue();
                                        V held = next.get(e.getKey());
                                        if (!pendingRemovals.contains(e.getKey()) && (held == null
                                                || version.applyAsLong(held) < version.applyAsLong(read))) {
                                            next.put(e.getKey(), read);
                                            changed = true;
                                        }
                                    }
                                    if (changed) {
                                        publish(next);
                                    }
                                    g.result.complete(g.entries);
                                }
                                return Behaviors.same();
                            })
                            .onMessage(Written.class, w -> {
                                w.done().complete(null);
                                return Behaviors.same();
                            })
                            .onMessage(Remove.class, r -> {
                                Map<String, V> next = new HashMap<>(snapshot);
                                pendingPuts.remove(r.key());
                                pendingRemovals.add(r.key());
                                if (next.remove(r.key()) != null) {
                                    publish(next);
                                }
                                replicator.askUpdate(replyTo -> new Replicator.Update<>(keyOf(r.key()),
                                        LWWMap.create(), Replicator.writeLocal(), replyTo,
                                        m -> m.remove(self, r.key())), rsp -> new Ignored());
                                return Behaviors.same();
                            })
                            .onMessage(Replicated.class, c -> {
                                // The bucket's entries replace what the snapshot held for that bucket.
                                Map<String, V> next = new HashMap<>(snapshot);
                                next.keySet().removeIf(k -> bucket(k) == c.bucket());
                                int misfiled = 0;
                                for (Map.Entry<String, ?> e : c.entries().entrySet()) {
                                    if (bucket(e.getKey()) == c.bucket()) {
                                        next.put(e.getKey(), (V) e.getValue());
                                    } else {
                                        misfiled++;
                                    }
                                }
                                if (misfiled > 0 && misfiledWarned.add(c.bucket())) {
                                    ctx.getLog().error("{} entries of key {} belong to another of its {} keys: a node "
                                            + "spreads map {} over a different number of keys (ignored)", misfiled,
                                            keys.get(c.bucket()).id(), keys.size(), name);
                                }
                                pendingPuts.entrySet().removeIf(e -> {
                                    if (bucket(e.getKey()) != c.bucket()) {
                                        return false;
                                    }
                                    V seen = next.get(e.getKey());
                                    if (seen != null && version.applyAsLong(seen) >= version.applyAsLong(e.getValue())) {
                                        return true;
                                    }
                                    next.put(e.getKey(), e.getValue());
                                    return false;
                                });
                                pendingRemovals.removeIf(k -> bucket(k) == c.bucket() && next.remove(k) == null);
                                publish(next);
                                return Behaviors.same();
                            })
                            .onMessage(Ignored.class, i -> Behaviors.same())
                            .build();
                }));
    }

    private void readBucket(ReplicatorMessageAdapter<Command, LWWMap<String, V>> replicator, int bucket,
                            boolean majority, Duration timeout, Gathered gathered) {
        Key<LWWMap<String, V>> key = keys.get(bucket);
        Replicator.ReadConsistency consistency = majority ? new Replicator.ReadMajority(timeout)
                : Replicator.readLocal();
        replicator.askGet(replyTo -> new Replicator.Get<>(key, consistency, replyTo), rsp -> {
            if (rsp instanceof Replicator.GetSuccess<LWWMap<String, V>> ok) {
                return new PeersRead(bucket, ok.get(key).getEntries(), majority, timeout, gathered);
            }
            if (rsp instanceof Replicator.NotFound<LWWMap<String, V>>) {
                return new PeersRead(bucket, Map.of(), majority, timeout, gathered);
            }
            // GetFailure (no majority in time) or GetDataDeleted: the local fallback answers, or nothing.
            return new PeersRead(bucket, majority ? null : Map.of(), majority, timeout, gathered);
        });
    }

    private void publish(Map<String, V> next) {
        snapshot = Map.copyOf(next);
        onChange.accept(snapshot);
    }
}
