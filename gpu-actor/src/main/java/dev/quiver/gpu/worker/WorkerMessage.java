package dev.quiver.gpu.worker;

/**
 * Marker for every message of the worker protocol that may cross the network; bound to Jackson CBOR in this
 * module's reference.conf.
 */
public interface WorkerMessage {
}
