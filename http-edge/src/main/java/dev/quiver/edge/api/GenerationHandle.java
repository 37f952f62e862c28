package dev.quiver.edge.api;

/** A running generation; {@link #cancel()} stops it in the engine and frees its KV blocks (idempotent). */
@FunctionalInterface
public interface GenerationHandle {
    void cancel();
}
