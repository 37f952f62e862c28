package dev.quiver.node.cluster;

import dev.quiver.node.worker.WorkerLoad;
import java.util.Collection;
import kamon.Kamon;
import kamon.tag.TagSet;
import kamon.metric.MeasurementUnit;

/**
 * The cluster's Prometheus metrics (through Kamon): routing decisions by outcome, entity ask and placement latency,
 * requests resumed after their worker died, and adapters per worker. The edge renders them at {@code /metrics} with the
 * rest.
 */
public final class ClusterMetrics {
    private ClusterMetrics() {
    }

    /**
     * One routing decision: {@code resident} (a worker holding the adapter), {@code placed}, {@code replicated},
     * {@code base} (base model), {@code overloaded}, {@code unavailable}, {@code not_found}.
     */
    public static void routed(String outcome) {
        Kamon.counter("quiver.routing.decisions").withTag("outcome", outcome).increment();
    }

    /** A placement (fetch + load into a slot) finished, {@code ok} or not, after {@code nanos}. */
    public static void placed(boolean ok, long nanos) {
        Kamon.histogram("quiver.placement.latency", MeasurementUnit.time().nanoseconds())
                .withTag("result", ok ? "ok" : "failed").record(Math.max(0, nanos));
    }

    /**
     * A relay's ask of an adapter's entity for a worker took {@code nanos}: {@code answered}, or {@code failed} (it
     * timed out or could not be sent). It includes the entity's recovery from the journal when it was not running.
     */
    public static void entityAsked(boolean answered, long nanos) {
        Kamon.histogram("quiver.routing.entity.ask", MeasurementUnit.time().nanoseconds())
                .withTag("result", answered ? "answered" : "failed").record(Math.max(0, nanos));
    }

    /** A worker brought an adapter version's files from the blob store into its disk cache, or failed to. */
    public static void fetched(boolean ok, long nanos) {
        Kamon.histogram("quiver.adapter.fetch", MeasurementUnit.time().nanoseconds())
                .withTag("result", ok ? "ok" : "failed").record(Math.max(0, nanos));
    }

    /** This node did not run for longer than the pause fence's threshold ({@code quiver.node.pause-fence}). */
    public static void paused() {
        Kamon.counter("quiver.node.pauses").withoutTags().increment();
    }

    /** A request continued on another worker after its worker died or failed. */
    public static void resumed() {
        Kamon.counter("quiver.requests.resumed").withoutTags().increment();
    }

    /** A request resumed elsewhere because its worker's node became unreachable (before any removal). */
    public static void resumedOnUnreachable() {
        Kamon.counter("quiver.requests.resumed.unreachable").withoutTags().increment();
    }

    /** A request that could not be served before its deadline. */
    public static void deadlineExceeded() {
        Kamon.counter("quiver.requests.deadline.exceeded").withoutTags().increment();
    }

    /**
     * A put into the replicated map {@code map}: {@code written} to this node's replica (then gossiped to every
     * node), or {@code unchanged} (this node already held a newer version, or this very value).
     */
    public static void replicatedWrite(String map, boolean written) {
        // one TagSet: chained withTag calls would also register a series with the map tag alone
        Kamon.counter("quiver.replicated.writes").withTags(TagSet.of("map", map)
                .withTag("result", written ? "written" : "unchanged")).increment();
    }

    /** Adapters resident in each worker's compute slots, from the workers' published loads. */
    public static void adaptersPerWorker(Collection<WorkerLoad> loads) {
        for (WorkerLoad l : loads) {
            Kamon.gauge("quiver.worker.adapters").withTag("worker", l.workerId()).update(l.resident().size());
        }
    }
}
