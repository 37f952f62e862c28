package dev.quiver.node.worker;

import dev.quiver.gpu.worker.Engine;
import dev.quiver.gpu.worker.EngineStatus;
import dev.quiver.gpu.worker.GpuWorker;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * This node's GpuWorker (on a node with the {@code worker} role): its id in the cluster, its actor, its agent, and
 * its engine (read directly for the status snapshot, which is local and cheap).
 */
public record LocalWorker(String id, ActorRef<GpuWorker.Command> ref, ActorRef<WorkerAgent.Command> agent,
                          Engine engine) {
    public CompletionStage<EngineStatus> status() {
        return engine.status();
    }
}
