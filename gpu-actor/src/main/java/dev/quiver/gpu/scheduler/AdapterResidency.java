package dev.quiver.gpu.scheduler;

import java.util.function.Predicate;

/**
 * What the scheduler needs to know of the adapter cache: whether an adapter is ready in a compute slot. The
 * scheduler holds a reference on the slot while a sequence using it is running, so it cannot be evicted
 * under the sequence.
 *
 * <p>The default methods describe a cache that tells the scheduler nothing beyond {@link #acquire}: every
 * adapter looks not ready, and slots look free. With them the scheduler admits in queue order and never
 * pauses anyone to rotate a slot; the adapter cache overrides them so the scheduler can group requests by
 * resident adapter and rotate slots fairly when there are more hot adapters than slots.
 */
public interface AdapterResidency {
    /**
     * Returns the slot of a ready adapter and takes a reference on it; or -1 when it is not ready yet (the
     * cache then starts bringing it in, in the background).
     */
    int acquire(String adapter);

    /** Drops a reference taken by {@link #acquire}. */
    void release(String adapter);

    /**
     * As {@link #acquire(String)}, but when the adapter needs a slot and none is free, only an adapter that
     * {@code mayEvict} accepts may lose its slot (the scheduler keeps slots whose requests have not run yet).
     */
    default int acquire(String adapter, Predicate<String> mayEvict) {
        return acquire(adapter);
    }

    /** Whether the adapter is in a compute slot now, so {@link #acquire} would succeed without loading. */
    default boolean isReady(String adapter) {
        return false;
    }

    /**
     * Whether the adapter is loaded in host memory and needs only a slot: {@link #acquire} would succeed now
     * if a slot were free.
     */
    default boolean isStaged(String adapter) {
        return false;
    }

    /**
     * Slots that {@link #acquire(String, Predicate)} could take now: free ones, and those held by an adapter
     * that no sequence references, nobody pinned and {@code mayEvict} accepts.
     */
    default int freeSlots(Predicate<String> mayEvict) {
        return Integer.MAX_VALUE;
    }

    /** Whether the adapter's slot may go to another adapter once no sequence references it (not pinned). */
    default boolean isEvictable(String adapter) {
        return true;
    }
}
