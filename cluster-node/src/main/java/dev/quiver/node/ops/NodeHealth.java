package dev.quiver.node.ops;

import dev.quiver.gpu.worker.Engine;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.AbstractExtensionId;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.Extension;
import org.apache.pekko.actor.ExtensionIdProvider;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.MemberStatus;

/**
 * What this node's liveness and readiness are, for Pekko Management's {@code /alive} and {@code /ready}. QuiverNode
 * writes the facts as start, serving and shutdown go on; the two checks below ({@link Readiness}, {@link Liveness},
 * named in this module's reference.conf under {@code pekko.management.health-checks}) read them. One per actor
 * system (a Pekko extension), so checks that Pekko Management instantiates by class name find the node's state.
 *
 * <p>Ready means: this node is an Up (or WeaklyUp) member of the cluster, its start finished (edge bound, adapters
 * recovered), its worker engine is loaded and healthy (on a {@code worker} node), the journal has answered a probe
 * since the node started, and it is not shutting down. A journal outage after that leaves the node ready: serving
 * does not touch the journal (lifecycle writes answer 503 meanwhile, see {@link #journalOutage()}), and a balancer
 * that took every node out during an outage of Cassandra would stop all serving. Alive means the actor system runs and the engine, once loaded, has not failed: a node
 * waiting to join (Cluster Bootstrap still looking for contact points) or loading its model is alive and not ready.
 */
public final class NodeHealth implements Extension {
    /** Where the node is in its life. */
    public enum Phase {
        /** Joining, loading the model, binding: not ready yet. */
        STARTING,
        /** Start finished. */
        SERVING,
        /** Coordinated shutdown has begun: readiness is false from here on, so a balancer drains the node. */
        DRAINING
    }

    /** The extension id: {@code NodeHealth.ID.get(system)}. */
    public static final Id ID = new Id();

    private final ActorSystem system;
    private volatile Phase phase = Phase.STARTING;
    private volatile boolean workerRole;
    private volatile Engine engine;
    private volatile String journalProblem = "not probed yet";
    /** The latest probe's failure, null while the journal answers or before the first probe. */
    private volatile String journalOutage;
    private volatile boolean journalAnswered;

    private NodeHealth(ActorSystem system) {
        this.system = system;
    }

    public static NodeHealth get(ActorSystem system) {
        return ID.get(system);
    }

    public static NodeHealth get(org.apache.pekko.actor.typed.ActorSystem<?> system) {
        return ID.get(system.classicSystem());
    }

    /** Whether this node runs a worker: then readiness waits for {@link #workerLoaded}. */
    public void expectWorker(boolean worker) {
        this.workerRole = worker;
    }

    /** The worker's engine finished loading the base model. */
    public void workerLoaded(Engine loaded) {
        this.engine = loaded;
    }

    /** The result of the latest journal probe: null when the journal answered, else what went wrong. */
    public void journalProbed(String problem) {
        this.journalProblem = problem;
        this.journalOutage = problem;
        if (problem == null) {
            journalAnswered = true;
        }
    }

    /** Whether a journal probe has succeeded since this node started. */
    public boolean journalAnsweredSinceStart() {
        return journalAnswered;
    }

    /**
     * What is wrong with the journal if its latest probe failed; empty while it answers and before the first probe
     * (so a node that has not probed yet is not taken for one in an outage). Lifecycle writes and adapter entities
     * read this to refuse or defer journal writes at once instead of waiting for a write that cannot succeed.
     */
    public Optional<String> journalOutage() {
        return Optional.ofNullable(journalOutage);
    }

    /** Start finished: the edge is bound and the adapters are recovered. */
    public void serving() {
        if (phase == Phase.STARTING) {
            phase = Phase.SERVING;
        }
    }

    /** Shutdown began; readiness stays false until the process ends. */
    public void draining() {
        phase = Phase.DRAINING;
    }

    public Phase phase() {
        return phase;
    }

    /** Empty when ready, else why not (the first reason found, in the order a node gets ready). */
    public Optional<String> notReadyReason() {
        if (phase == Phase.DRAINING) {
            return Optional.of("draining: the node is shutting down");
        }
        MemberStatus status = Cluster.get(system).selfMember().status();
        if (status != MemberStatus.up() && status != MemberStatus.weaklyUp()) {
            // NOTE: Pekko reports a node that has not joined anything yet as Removed.
            return Optional.of("not a cluster member yet (" + (status == MemberStatus.removed()
                    ? "looking for the cluster to join" : "status " + status) + ")");
        }
        if (workerRole && engine == null) {
            return Optional.of("the worker engine is not loaded yet");
        }
        if (engine != null && !engine.isHealthy()) {
            return Optional.of("the worker engine has failed");
        }
        if (phase == Phase.STARTING) {
            return Optional.of("starting: adapters being recovered, edge not bound yet");
        }
        if (!journalAnswered) {
            return Optional.of("journal not reachable since the node started: " + journalProblem);
        }
        return Optional.empty();
    }

    /** Empty when alive, else why not: only an engine that failed after loading makes a node not alive. */
    public Optional<String> notAliveReason() {
        if (system.whenTerminated().isCompleted()) {
            return Optional.of("the actor system has terminated");
        }
        Engine e = engine;
        if (e != null && !e.isHealthy()) {
            return Optional.of("the worker engine has failed: restart the node");
        }
        return Optional.empty();
    }

    private static CompletionStage<Boolean> answer(Optional<String> reason) {
        return reason.<CompletionStage<Boolean>>map(r -> CompletableFuture.failedFuture(new NotHealthy(r)))
                .orElse(CompletableFuture.completedFuture(true));
    }

    /** The failure a check reports: Pekko Management puts its message in the 503 body. */
    public static final class NotHealthy extends RuntimeException {
        public NotHealthy(String reason) {
            super(reason, null, false, false);
        }
    }

    /** {@code pekko.management.health-checks.readiness-checks.quiver}. */
    public static final class Readiness implements Supplier<CompletionStage<Boolean>> {
        private final NodeHealth health;

        public Readiness(ActorSystem system) {
            this.health = NodeHealth.get(system);
        }

        @Override
        public CompletionStage<Boolean> get() {
            return answer(health.notReadyReason());
        }
    }

    /** {@code pekko.management.health-checks.liveness-checks.quiver}. */
    public static final class Liveness implements Supplier<CompletionStage<Boolean>> {
        private final NodeHealth health;

        public Liveness(ActorSystem system) {
            this.health = NodeHealth.get(system);
        }

        @Override
        public CompletionStage<Boolean> get() {
            return answer(health.notAliveReason());
        }
    }

    /** The extension's id. */
    public static final class Id extends AbstractExtensionId<NodeHealth> implements ExtensionIdProvider {
        private Id() {
        }

        @Override
        public NodeHealth createExtension(ExtendedActorSystem system) {
            return new NodeHealth(system);
        }

        @Override
        public Id lookup() {
            return ID;
        }
    }
}
