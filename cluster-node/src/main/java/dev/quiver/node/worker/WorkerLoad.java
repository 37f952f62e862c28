package dev.quiver.node.worker;

import dev.quiver.node.cluster.ClusterMessage;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * What one worker publishes about itself to the whole cluster (Distributed Data, key {@code quiver-worker-load}),
 * a few times a second: enough for any node to route and place without asking it.
 *
 * @param workerId      {@code <node-id>/<worker-name>}
 * @param address       the worker's cluster node ({@code Member.uniqueAddress()} as text): a load whose node is not
 *                      an Up member is stale
 * @param agent         where requests and placements go
 * @param running       sequences in the running batch (at most {@code maxRunning}, the engine's max-num-seqs)
 * @param waiting       requests queued in the engine (its bound is {@code maxWaiting})
 * @param freeSlots     adapter compute slots free now, of {@code maxSlots}
 * @param resident      adapter keys ({@code name@vN}) in compute slots
 * @param pinned        the resident keys that are pinned (preloaded)
 * @param adapterLoad   adapter key → its requests waiting or running on this worker
 * @param cache         the worker's adapter cache: host-memory copies and cumulative counters
 * @param startedAt     when this worker (this incarnation of its node) started, epoch ms: an adapter placed on the
 *                      worker id before that was held by an earlier incarnation
 * @param updatedAt     when this load was read, epoch ms
 * @param draining      the worker's node is shutting down (coordinated shutdown began): routing and placement skip
 *                      it while any other worker is routable; what already runs there finishes up to the shutdown
 *                      deadline. A load from a node that predates the field reads as false.
 */
public record WorkerLoad(String workerId, String nodeId, String address, ActorRef<WorkerAgent.Command> agent,
                         boolean healthy, int running, int maxRunning, int waiting, int maxWaiting, int freeSlots,
                         int maxSlots,
                         List<String> resident, List<String> pinned, Map<String, Integer> adapterLoad,
                         double kvUsage, Cache cache, long startedAt, long updatedAt, boolean draining)
        implements ClusterMessage {
    public WorkerLoad {
        resident = List.copyOf(resident);
        pinned = List.copyOf(pinned);
        adapterLoad = Map.copyOf(adapterLoad);
    }

    /** A load of a worker that is not draining. */
    public WorkerLoad(String workerId, String nodeId, String address, ActorRef<WorkerAgent.Command> agent,
                      boolean healthy, int running, int maxRunning, int waiting, int maxWaiting, int freeSlots,
                      int maxSlots, List<String> resident, List<String> pinned, Map<String, Integer> adapterLoad,
                      double kvUsage, Cache cache, long startedAt, long updatedAt) {
        this(workerId, nodeId, address, agent, healthy, running, maxRunning, waiting, maxWaiting, freeSlots, maxSlots,
                resident, pinned, adapterLoad, kvUsage, cache, startedAt, updatedAt, false);
    }

    /** The same load marked draining, read at {@code at} (epoch ms, so it replaces the last one published). */
    public WorkerLoad asDraining(long at) {
        return new WorkerLoad(workerId, nodeId, address, agent, healthy, running, maxRunning, waiting, maxWaiting,
                freeSlots, maxSlots, resident, pinned, adapterLoad, kvUsage, cache, startedAt, Math.max(at,
                updatedAt), true);
    }

    /**
     * The worker's tiered adapter cache: which keys are in host memory, and its counters since it started. A worker
     * publishes {@code host} empty and the keys apart ({@link WorkerHostCopies}); the directory merges them back.
     */
    public record Cache(List<String> host, long slotHits, long hostHits, long diskMisses, long slotEvictions,
                        long hostEvictions, double diskToHostMsP50, double hostToSlotMsP50) {
        public Cache {
            host = List.copyOf(host);
        }
    }

    /** Where {@code key} is on this worker: slot, host or disk. */
    public String tierOf(String key) {
        return resident.contains(key) ? "slot" : cache.host().contains(key) ? "host" : "disk";
    }

    /**
     * Whether this worker holds {@code key} in memory, in a compute slot or as a host copy: a request for it runs
     * here without fetching it, and the cluster counts the worker as its resident (only leaving both tiers is
     * journaled as an eviction).
     */
    public boolean holds(String key) {
        return resident.contains(key) || cache.host().contains(key);
    }

    /**
     * This load with the worker's host copies from {@code copies} (published apart, {@link WorkerHostCopies}), or
     * as it is when it already lists host copies itself (a node from before the split publishes them in its load).
     */
    public WorkerLoad withHost(WorkerHostCopies copies) {
        if (copies == null || !cache.host().isEmpty()) {
            return this;
        }
        return new WorkerLoad(workerId, nodeId, address, agent, healthy, running, maxRunning, waiting, maxWaiting,
                freeSlots, maxSlots, resident, pinned, adapterLoad, kvUsage, new Cache(copies.keys(), cache.slotHits(),
                cache.hostHits(), cache.diskMisses(), cache.slotEvictions(), cache.hostEvictions(),
                cache.diskToHostMsP50(), cache.hostToSlotMsP50()), startedAt, updatedAt, draining);
    }

    /** Requests of adapter key {@code key} waiting or running here. */
    public int loadOf(String key) {
        return adapterLoad.getOrDefault(key, 0);
    }

    /**
     * The same load with what this node did since it was published: {@code extra} more requests in flight (they
     * join the running batch while it has room, then the queue), {@code extraByKey} of them per adapter key, and
     * {@code placements} adapters it started placing there (each takes a slot).
     */
    public WorkerLoad withLocal(int extra, Map<String, Integer> extraByKey, int placements) {
        if (extra == 0 && placements == 0) {
            return this;
        }
        Map<String, Integer> load = new java.util.HashMap<>(adapterLoad);
        extraByKey.forEach((k, n) -> load.merge(k, n, Integer::sum));
        int run = Math.min(maxRunning, running + extra);
        int queued = waiting + (running + extra - run);
        return new WorkerLoad(workerId, nodeId, address, agent, healthy, run, maxRunning, queued, maxWaiting,
                Math.max(0, freeSlots - placements), maxSlots, resident, pinned, load, kvUsage, cache, startedAt,
                updatedAt, draining);
    }
}
