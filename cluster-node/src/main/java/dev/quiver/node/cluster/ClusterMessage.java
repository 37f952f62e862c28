package dev.quiver.node.cluster;

/**
 * Marker for every message of the node application that may cross the network (adapter entity commands and
 * replies, worker agent commands, worker load and catalog entries in Distributed Data); bound to Jackson CBOR in
 * this module's reference.conf. Each has a round-trip test.
 */
public interface ClusterMessage {
}
