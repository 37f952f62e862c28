package dev.quiver.gpu.cache;

import dev.quiver.gpu.backend.Backend;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.lora.AdapterRefusedException;
import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.scheduler.AdapterResidency;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.function.Predicate;

/**
 * The tiered adapter cache of one worker, owned by its engine thread: compute slots (tier 1, {@code max-loras}),
 * validated host copies (tier 2, at most {@code max-cpu-loras} of them taking at most {@code max-cpu-lora-memory}
 * bytes together) and adapter directories on local disk (tier 3, every registered adapter). Disk → host loading
 * (read + validate) runs on a loader executor so the batch keeps running; host → slot happens on the engine thread
 * between steps. Both tiers evict least-recently-used entries; a slot in use by a running sequence or pinned by an
 * operator is never evicted.
 *
 * <p>The byte bound keeps the host tier inside the heap whatever the adapters' ranks and targets: a count alone
 * does not (a rank-16 adapter on every projection of an 8B model is ~170 MB, of a 256-hidden test model ~0.1 MB),
 * and a heap filled by host copies turns into back-to-back full collections that stop the node's heartbeats.
 * The newest copy is never evicted by it, so one adapter larger than the whole budget still loads and runs.
 */
public final class AdapterCache implements AdapterResidency {
    /** Where a request found its adapter. */
    public enum Tier { SLOT, HOST, DISK }

    /** {@code hostBytes}: what the host copies may take together ({@link LoraAdapter#hostBytes()} each). */
    public record Settings(int slots, int hostCapacity, int maxRank, long hostBytes) {
        /** No byte bound on the host tier, only a count. */
        public Settings(int slots, int hostCapacity, int maxRank) {
            this(slots, hostCapacity, maxRank, Long.MAX_VALUE);
        }
    }

    /**
     * Told when an adapter leaves this worker's memory, so the worker can report it (the cluster persists
     * {@code EvictedFrom}): by LRU once it is in neither a slot nor the host tier (a slot eviction of an adapter
     * with a host copy is a move between tiers of this worker, not reported), or by an operator's eviction.
     */
    public interface Listener {
        void evicted(String adapter, String reason);
    }

    /** Counters and load-time figures of one worker's cache. */
    public record Stats(long slotHits, long hostHits, long diskMisses, long slotEvictions, long hostEvictions,
                        LatencyRecorder.Snapshot diskToHost, LatencyRecorder.Snapshot hostToSlot,
                        List<String> resident, List<String> host, List<String> pinned, int freeSlots) {
    }

    private record Loaded(String key, LoraAdapter adapter, Throwable error, long micros) {
    }

    private final Settings settings;
    private final Backend backend;
    private final ModelConfig model;
    private final Executor loader;
    private final Listener listener;

    private final Map<String, Path> sources = new HashMap<>();
    private final LinkedHashMap<String, LoraAdapter> host = new LinkedHashMap<>(16, 0.75f, true);
    private final String[] slotKey;
    private final int[] slotRefs;
    private final long[] slotUsed;
    private final Map<String, Integer> slotOf = new HashMap<>();
    private final Set<String> pinned = new HashSet<>();
    private final Set<String> loading = new HashSet<>();
    private final Map<String, String> failures = new HashMap<>();
    private final ConcurrentLinkedQueue<Loaded> completed = new ConcurrentLinkedQueue<>();
    private long clock;
    /** What the host copies take ({@link LoraAdapter#hostBytes()} summed over {@link #host}). */
    private long hostBytes;
    private long slotHits;
    private long hostHits;
    private long diskMisses;
    private long slotEvictions;
    private long hostEvictions;
    private final LatencyRecorder diskToHost = new LatencyRecorder(1024);
    private final LatencyRecorder hostToSlot = new LatencyRecorder(1024);

    public AdapterCache(Settings settings, Backend backend, ModelConfig model, Executor loader, Listener listener) {
        this.settings = settings;
        this.backend = backend;
        this.model = model;
        this.loader = loader;
        this.listener = listener;
        this.slotKey = new String[settings.slots()];
        this.slotRefs = new int[settings.slots()];
        this.slotUsed = new long[settings.slots()];
    }

    /** Makes an adapter known by its local directory (the disk tier). A new source clears a past failure. */
    public void register(String key, Path dir) {
        Path old = sources.put(key, dir);
        if (old == null || !old.equals(dir)) {
            failures.remove(key);
        }
    }

    public boolean isKnown(String key) {
        return sources.containsKey(key);
    }

    /** Where the adapter is now; counted as this request's hit or miss. */
    public Tier lookup(String key) {
        if (slotOf.containsKey(key)) {
            slotHits++;
            return Tier.SLOT;
        }
        if (host.containsKey(key)) {
            hostHits++;
            return Tier.HOST;
        }
        diskMisses++;
        return Tier.DISK;
    }

    @Override
    public int acquire(String key) {
        return acquire(key, k -> true);
    }

    @Override
    public int acquire(String key, Predicate<String> mayEvict) {
        Integer slot = slotOf.get(key);
        if (slot == null) {
            slot = bringIn(key, mayEvict);
            if (slot < 0) {
                return -1;
            }
        }
        slotRefs[slot]++;
        slotUsed[slot] = ++clock;
        return slot;
    }

    @Override
    public void release(String key) {
        Integer slot = slotOf.get(key);
        if (slot == null || slotRefs[slot] == 0) {
            throw new IllegalStateException("release of adapter " + key + " that holds no slot reference");
        }
        slotRefs[slot]--;
    }

    @Override
    public boolean isReady(String key) {
        return slotOf.containsKey(key);
    }

    @Override
    public boolean isStaged(String key) {
        return !slotOf.containsKey(key) && host.containsKey(key); // containsKey leaves the LRU order alone
    }

    @Override
    public int freeSlots(Predicate<String> mayEvict) {
        int n = 0;
        for (int i = 0; i < slotKey.length; i++) {
            if (slotKey[i] == null || evictable(i, mayEvict)) {
                n++;
            }
        }
        return n;
    }

    @Override
    public boolean isEvictable(String key) {
        return !pinned.contains(key);
    }

    /** Host → slot if it is on the host; else starts disk → host. Returns the slot or -1. */
    private int bringIn(String key, Predicate<String> mayEvict) {
        LoraAdapter a = host.get(key);
        if (a == null) {
            startLoad(key);
            return -1;
        }
        int slot = freeSlot(mayEvict);
        if (slot < 0) {
            return -1;
        }
        long t0 = System.nanoTime();
        backend.loadSlot(slot, a);
        hostToSlot.record((System.nanoTime() - t0) / 1000);
        slotKey[slot] = key;
        slotOf.put(key, slot);
        return slot;
    }

    private boolean evictable(int slot, Predicate<String> mayEvict) {
        return slotRefs[slot] == 0 && !pinned.contains(slotKey[slot]) && mayEvict.test(slotKey[slot]);
    }

    /**
     * A free slot, or the least recently used unreferenced, unpinned one that {@code mayEvict} accepts
     * (evicted); -1 when all are busy.
     */
    private int freeSlot(Predicate<String> mayEvict) {
        int victim = -1;
        for (int i = 0; i < slotKey.length; i++) {
            if (slotKey[i] == null) {
                return i;
            }
            if (evictable(i, mayEvict) && (victim < 0 || slotUsed[i] < slotUsed[victim])) {
                victim = i;
            }
        }
        if (victim >= 0) {
            String key = slotKey[victim];
            clearSlot(victim);
            slotEvictions++;
            if (!host.containsKey(key)) {
                listener.evicted(key, "lru");
            }
        }
        return victim;
    }

    private void clearSlot(int slot) {
        slotOf.remove(slotKey[slot]);
        slotKey[slot] = null;
        backend.clearSlot(slot);
    }

    private void startLoad(String key) {
        if (loading.contains(key) || failures.containsKey(key)) {
            return;
        }
        Path dir = sources.get(key);
        if (dir == null) {
            failures.put(key, "adapter '" + key + "' is not registered on this worker");
            return;
        }
        loading.add(key);
        CompletableFuture.runAsync(() -> {
            long t0 = System.nanoTime();
            try {
                LoraAdapter a = AdapterLoader.load(dir, key, model, settings.maxRank());
                completed.add(new Loaded(key, a, null, (System.nanoTime() - t0) / 1000));
            } catch (Throwable e) {
                completed.add(new Loaded(key, null, e, 0));
            }
        }, loader);
    }

    /** Installs finished loads into the host tier; call between steps. Returns true if anything changed. */
    public boolean poll() {
        boolean changed = false;
        for (Loaded l; (l = completed.poll()) != null; ) {
            loading.remove(l.key());
            changed = true;
            if (l.error() != null) {
                String msg = l.error() instanceof AdapterRefusedException ? l.error().getMessage()
                        : "adapter '" + l.key() + "' failed to load: " + l.error();
                failures.put(l.key(), msg);
                continue;
            }
            diskToHost.record(l.micros());
            LoraAdapter old = host.put(l.key(), l.adapter());
            hostBytes += l.adapter().hostBytes() - (old == null ? 0 : old.hostBytes());
            evictHostOverCapacity();
        }
        return changed;
    }

    /**
     * Evicts least recently used host copies while the tier holds more than {@code hostCapacity} of them or more than
     * {@code hostBytes} together, but never the last one left (the one just loaded, at most over the byte budget).
     */
    private void evictHostOverCapacity() {
        for (Iterator<Map.Entry<String, LoraAdapter>> it = host.entrySet().iterator(); it.hasNext()
                && (host.size() > settings.hostCapacity() || hostBytes > settings.hostBytes() && host.size() > 1); ) {
            Map.Entry<String, LoraAdapter> e = it.next();
            String key = e.getKey();
            hostBytes -= e.getValue().hostBytes();
            it.remove(); // least recently used first; a copy in a slot stays usable there
            hostEvictions++;
            if (!slotOf.containsKey(key)) {
                listener.evicted(key, "lru");
            }
        }
    }

    public boolean isLoading() {
        return !loading.isEmpty();
    }

    /** Adapters whose load failed, with the reason; the engine fails their waiting requests. */
    public Map<String, String> failures() {
        return Map.copyOf(failures);
    }

    /**
     * Brings an adapter into a slot now if it is on the host (else starts its load); pin keeps it resident.
     * Returns the slot, or -1 while it is still loading or no slot is free.
     */
    public int preload(String key, boolean pin) {
        if (pin) {
            pinned.add(key);
        }
        Integer slot = slotOf.get(key);
        if (slot != null) {
            return slot;
        }
        return bringIn(key, k -> true);
    }

    public void unpin(String key) {
        pinned.remove(key);
    }

    /**
     * Operator eviction from slot and host. Returns false if a running sequence still uses it (the caller
     * retries or reports busy).
     */
    public boolean evict(String key) {
        Integer slot = slotOf.get(key);
        if (slot != null) {
            if (slotRefs[slot] > 0) {
                return false;
            }
            clearSlot(slot);
            slotEvictions++;
        }
        pinned.remove(key);
        LoraAdapter copy = host.remove(key);
        boolean wasHost = copy != null;
        if (wasHost) {
            hostBytes -= copy.hostBytes();
        }
        if (slot != null || wasHost) {
            listener.evicted(key, "operator");
        }
        return true;
    }

    /** What the host copies take together, in bytes (each counted with its transposed B, made or not). */
    public long hostBytes() {
        return hostBytes;
    }

    public boolean isResident(String key) {
        return slotOf.containsKey(key);
    }

    public Stats stats() {
        List<String> resident = new ArrayList<>();
        int free = 0;
        for (String k : slotKey) {
            if (k == null) {
                free++;
            } else {
                resident.add(k);
            }
        }
        return new Stats(slotHits, hostHits, diskMisses, slotEvictions, hostEvictions, diskToHost.snapshot(),
                hostToSlot.snapshot(), resident, new ArrayList<>(host.keySet()), new ArrayList<>(pinned), free);
    }
}
