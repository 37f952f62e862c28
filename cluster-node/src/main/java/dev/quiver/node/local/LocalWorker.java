package dev.quiver.node.local;

import dev.quiver.gpu.worker.Engine;
import dev.quiver.gpu.worker.EngineStatus;
import dev.quiver.gpu.worker.GpuWorker;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

/**
 * The node's one GpuWorker: its actor (requests, adapter loads and evictions go through its protocol, as they
 * will from the cluster) and its engine (read directly for the status snapshot, which is local and cheap).
 */
public record LocalWorker(String name, ActorRef<GpuWorker.Command> ref, Engine engine, ActorSystem<?> system) {
    static final Duration ASK = Duration.ofSeconds(60);

    public CompletionStage<GpuWorker.AdapterLoaded> load(String key, String dir, boolean pin) {
        return AskPattern.ask(ref, r -> new GpuWorker.LoadAdapter(key, dir, pin, r), ASK, system.scheduler());
    }

    public CompletionStage<GpuWorker.AdapterEvicted> evict(String key) {
        return AskPattern.ask(ref, r -> new GpuWorker.EvictAdapter(key, r), ASK, system.scheduler());
    }

    public CompletionStage<EngineStatus> status() {
        return engine.status();
    }
}
