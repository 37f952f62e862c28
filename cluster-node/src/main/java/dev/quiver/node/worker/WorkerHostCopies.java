package dev.quiver.node.worker;

import dev.quiver.node.cluster.ClusterMessage;
import java.util.List;

/**
 * Which adapter keys one worker holds as host copies (its adapter cache's host tier), published to every node
 * apart from its {@link WorkerLoad} (Distributed Data, key {@code quiver-worker-host}) and only when the set
 * changes. The load changes every few hundred milliseconds under traffic and is re-published each time; with
 * thousands of host copies the set made every publication, its gossip and each receiving node's digest of the
 * whole map thousands of strings long, while the set itself changes only when an adapter enters or leaves host
 * memory. Readers see the two merged ({@link WorkerLoad#withHost}).
 *
 * @param workerId  {@code <node-id>/<worker-name>}, as in its load
 * @param keys      adapter keys ({@code name@vN}) in host memory, sorted
 * @param updatedAt when the set was read, epoch ms: the last-writer-wins version
 */
public record WorkerHostCopies(String workerId, List<String> keys, long updatedAt) implements ClusterMessage {
    public WorkerHostCopies {
        keys = List.copyOf(keys);
    }
}
