package dev.quiver.node.placement;

import dev.quiver.node.worker.WorkerLoad;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Where a request for an adapter goes, and where an adapter is placed: pure decisions over the workers' published
 * loads, with no actor or I/O inside, so the adapter entity only drives it (and tests state it alone).
 *
 * <p>The rules, in order:
 * <ol>
 *   <li>A worker that holds the adapter's current version (persisted as placed, or being placed now) and has room
 *       in its queue, least loaded first: a resident hit.</li>
 *   <li>When every such worker is backlogged (at least {@code replicate-queue-threshold} requests waiting while it
 *       serves this adapter) or full, and fewer than {@code max-replicas} hold it: place it on one more worker and
 *       send the request there (replicated).</li>
 *   <li>When no live worker holds it: place it on the worker with a free slot and the least load; when no slot is
 *       free anywhere, on the least loaded worker whose slots are not all pinned (it evicts its least recently
 *       used adapter) (placed).</li>
 *   <li>Otherwise the cluster is saturated: refuse early with a retry-after hint (overloaded), or say that no
 *       worker is up at all.</li>
 * </ol>
 * The caller passes only routable workers (healthy, on an Up and reachable member, not leaving): a worker that is
 * unreachable or leaving is never chosen. "Load" is running plus waiting requests.
 */
public final class PlacementPolicy {

    /** {@code quiver.node.placement}. */
    public record Settings(int replicateQueueThreshold, int maxReplicas) {
    }

    /** Why a worker was chosen, for the routing metrics. */
    public enum Outcome {
        RESIDENT, PLACED, REPLICATED;

        public String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** What to do with one request. */
    public sealed interface Decision permits Route, Overloaded, NoWorker {
    }

    /**
     * Send the request to {@code workerId}; when {@code placeOn} is present, also start placing the adapter there
     * (it is {@code workerId} itself for placed and replicated outcomes).
     */
    public record Route(String workerId, Outcome outcome, Optional<String> placeOn) implements Decision {
    }

    /** Every worker that could take it is full: retry after {@code retryAfterSeconds}. */
    public record Overloaded(int retryAfterSeconds, String reason) implements Decision {
    }

    /** No worker is up. */
    public record NoWorker(String reason) implements Decision {
    }

    private final Settings settings;

    public PlacementPolicy(Settings settings) {
        this.settings = settings;
    }

    public Settings settings() {
        return settings;
    }

    /**
     * Routes one request for adapter version {@code key}.
     *
     * @param holders the workers that hold {@code key} (persisted placements at the current version, and
     *                placements in flight)
     * @param exclude workers this request must not go to (it failed there)
     * @param live    the routable workers
     */
    public Decision route(String key, Collection<String> holders, Set<String> exclude, Collection<WorkerLoad> live) {
        List<WorkerLoad> candidates = live.stream().filter(w -> !exclude.contains(w.workerId())).toList();
        List<WorkerLoad> holding = candidates.stream().filter(w -> holders.contains(w.workerId())).toList();
        if (!holding.isEmpty()) {
            List<WorkerLoad> withRoom = holding.stream().filter(PlacementPolicy::hasRoom)
                    .sorted(leastLoaded(key)).toList();
            boolean mayReplicate = holding.size() < settings.maxReplicas();
            if (withRoom.isEmpty()) {
                Optional<WorkerLoad> target = mayReplicate ? placementTarget(key, candidates, holders)
                        : Optional.empty();
                return target.<Decision>map(t -> new Route(t.workerId(), Outcome.REPLICATED,
                        Optional.of(t.workerId()))).orElseGet(() -> new Overloaded(1,
                        "every worker serving this adapter has a full queue"));
            }
            WorkerLoad best = withRoom.get(0);
            boolean backlogged = withRoom.stream().allMatch(w -> w.waiting() >= settings.replicateQueueThreshold()
                    && w.loadOf(key) > 0);
            if (backlogged && mayReplicate) {
                Optional<WorkerLoad> target = placementTarget(key, candidates, holders)
                        .filter(t -> load(t) < load(best));
                if (target.isPresent()) {
                    return new Route(target.get().workerId(), Outcome.REPLICATED,
                            Optional.of(target.get().workerId()));
                }
            }
            return new Route(best.workerId(), Outcome.RESIDENT, Optional.empty());
        }
        Optional<WorkerLoad> target = placementTarget(key, candidates, holders);
        if (target.isPresent()) {
            return new Route(target.get().workerId(), Outcome.PLACED, Optional.of(target.get().workerId()));
        }
        return candidates.isEmpty() ? new NoWorker(live.isEmpty() ? "no worker is available in the cluster"
                : "no other worker is available for this request")
                : new Overloaded(1, "every worker has a full queue or only pinned adapter slots");
    }

    /** Routes a request for the base model: the least loaded worker with room in its queue. */
    public Decision routeBase(Set<String> exclude, Collection<WorkerLoad> live) {
        List<WorkerLoad> candidates = live.stream().filter(w -> !exclude.contains(w.workerId())).toList();
        return candidates.stream().filter(PlacementPolicy::hasRoom).min(leastLoaded(null))
                .<Decision>map(w -> new Route(w.workerId(), Outcome.RESIDENT, Optional.empty()))
                .orElseGet(() -> candidates.isEmpty() ? new NoWorker("no worker is available in the cluster")
                        : new Overloaded(1, "every worker has a full queue"));
    }

    /**
     * Up to {@code wanted} more workers to hold adapter version {@code key} pinned (preloaded), best first: ones
     * with a free slot, then ones with an unpinned slot to evict, least loaded first; never one in
     * {@code holders}.
     */
    public List<String> pinTargets(String key, Collection<String> holders, int wanted, Collection<WorkerLoad> live) {
        if (wanted <= 0) {
            return List.of();
        }
        return live.stream().filter(w -> !holders.contains(w.workerId()) && canPlace(w))
                .sorted(placementOrder(key)).limit(wanted).map(WorkerLoad::workerId).toList();
    }

    private Optional<WorkerLoad> placementTarget(String key, List<WorkerLoad> candidates,
                                                 Collection<String> holders) {
        return candidates.stream().filter(w -> !holders.contains(w.workerId()) && hasRoom(w) && canPlace(w))
                .min(placementOrder(key));
    }

    /**
     * Free slot first, then least loaded, then most free slots; between equals, a hash of adapter and worker
     * (rendezvous hashing), so adapters placed at the same moment from stale loads spread over the workers
     * instead of all picking the first by name.
     */
    private static Comparator<WorkerLoad> placementOrder(String key) {
        return Comparator.<WorkerLoad>comparingInt(w -> w.freeSlots() > 0 ? 0 : 1)
                .thenComparingInt(PlacementPolicy::load)
                .thenComparing(Comparator.comparingInt(WorkerLoad::freeSlots).reversed())
                .thenComparingLong(w -> rendezvous(key, w.workerId()))
                .thenComparing(WorkerLoad::workerId);
    }

    /** A well-mixed 64-bit hash of (adapter key, worker id). */
    static long rendezvous(String key, String workerId) {
        long h = 0x9E3779B97F4A7C15L;
        for (char c : (key + '\u0000' + workerId).toCharArray()) {
            h = (h ^ c) * 0xBF58476D1CE4E5B9L;
            h ^= h >>> 31;
        }
        return h;
    }

    private static Comparator<WorkerLoad> leastLoaded(String key) {
        return Comparator.<WorkerLoad>comparingInt(PlacementPolicy::load)
                .thenComparingInt(w -> key == null ? 0 : w.loadOf(key))
                .thenComparing(WorkerLoad::workerId);
    }

    static int load(WorkerLoad w) {
        return w.running() + w.waiting();
    }

    static boolean hasRoom(WorkerLoad w) {
        return w.waiting() < w.maxWaiting();
    }

    /** A slot is free, or one holds an unpinned adapter that LRU can evict. */
    static boolean canPlace(WorkerLoad w) {
        return w.freeSlots() > 0 || w.pinned().size() < w.maxSlots();
    }
}
