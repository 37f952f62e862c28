package dev.quiver.gpu.scheduler;

/**
 * What the scheduler needs to know of the adapter cache: whether an adapter is ready in a compute slot. The
 * scheduler holds a reference on the slot while a sequence using it is running, so it cannot be evicted
 * under the sequence.
 */
public interface AdapterResidency {
    /**
     * Returns the slot of a ready adapter and takes a reference on it; or -1 when it is not ready yet (the
     * cache then starts bringing it in, in the background).
     */
    int acquire(String adapter);

    /** Drops a reference taken by {@link #acquire}. */
    void release(String adapter);
}
