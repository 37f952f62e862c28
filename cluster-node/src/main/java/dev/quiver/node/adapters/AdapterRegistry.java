package dev.quiver.node.adapters;

import dev.quiver.edge.api.AdapterAdmin;
import dev.quiver.edge.api.AdapterEvent;
import dev.quiver.edge.api.AdapterSource;
import dev.quiver.edge.api.AdapterView;
import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.edge.api.ServiceException;
import dev.quiver.gpu.worker.EngineStatus;
import dev.quiver.node.audit.AuditLog;
import dev.quiver.node.local.LocalWorker;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The single node's adapter registry: names, owners, versions, the active version, preload pins and retirement,
 * with every change written to the {@link AuditLog}. Files live in the {@link AdapterStore}; the engine is told
 * an adapter's directory with each request (key {@code NAME@vN}), so a new version or a rollback takes effect on
 * the next request, with no restart.
 *
 * <p>Scoping: an adapter belongs to the tenant whose admin registered it; {@code shared} ones are visible to all.
 * Any other tenant's adapter is reported as not found, in the admin API as in generation.
 *
 * <p>NOTE: the registry's state is in memory, like its audit log: a restart forgets registrations (the files stay in
 * the store). It serves {@code quiver.node.persistence = in-memory} (tests, throwaway runs); the durable registry is
 * {@link JournaledAdapterRegistry}.
 */
public final class AdapterRegistry implements AdapterCatalog {
    private static final Logger log = LoggerFactory.getLogger(AdapterRegistry.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    private static final class Version {
        final int number;
        final Path dir;
        final String sha256;
        final long size;
        final long createdAt;
        final String source;
        final int rank;
        final List<String> targets;

        Version(int number, Path dir, AdapterStore.Staged s, String source) {
            this.number = number;
            this.dir = dir;
            this.sha256 = s.sha256();
            this.size = s.sizeBytes();
            this.createdAt = System.currentTimeMillis();
            this.source = source;
            this.rank = s.rank();
            this.targets = s.targets();
        }
    }

    private static final class Adapter {
        final String name;
        final String owner;
        boolean shared;
        boolean retired;
        int active;
        int preload;
        final Map<Integer, Version> versions = new LinkedHashMap<>();

        Adapter(String name, String owner, boolean shared) {
            this.name = name;
            this.owner = owner;
            this.shared = shared;
        }

        Version activeVersion() {
            return versions.get(active);
        }

        int latest() {
            return versions.keySet().stream().mapToInt(Integer::intValue).max().orElse(0);
        }
    }

    private final Map<String, Adapter> adapters = new ConcurrentHashMap<>();
    private final AdapterStore store;
    private final AuditLog audit;
    private final LocalWorker worker;
    private final String baseModel;
    private final Executor io;
    /** Why an adapter key is being evicted on purpose, so the eviction event says "retired", not "operator". */
    private final Map<String, String> evictionReasons = new ConcurrentHashMap<>();

    public AdapterRegistry(AdapterStore store, AuditLog audit, LocalWorker worker, String baseModel, Executor io) {
        this.store = store;
        this.audit = audit;
        this.worker = worker;
        this.baseModel = baseModel;
        this.io = io;
        // NOTE: the engine calls this on its own thread; appending to the audit log is quick and thread-safe.
        worker.engine().onEviction(s -> {
            int sp = s.lastIndexOf(' ');
            String key = s.substring(0, sp);
            String reason = Optional.ofNullable(evictionReasons.remove(key)).orElse(s.substring(sp + 1));
            int at = key.lastIndexOf("@v");
            if (at > 0) {
                audit.append(key.substring(0, at), "EvictedFrom", parseInt(key.substring(at + 2)), "system",
                        Map.of("worker", worker.name(), "reason", reason));
            }
        });
    }

    // ---- serving ----

    @Override
    public Optional<Resolved> resolve(Caller caller, String name) {
        Adapter a = adapters.get(name);
        if (a == null) {
            return Optional.empty();
        }
        synchronized (a) {
            if (a.retired || !visible(caller, a)) {
                return Optional.empty();
            }
            Version v = a.activeVersion();
            return Optional.of(new Resolved(name, key(name, v.number), v.dir));
        }
    }

    @Override
    public List<AdapterView> visible(Caller caller) {
        List<AdapterView> out = new ArrayList<>();
        for (Adapter a : adapters.values()) {
            synchronized (a) {
                if (!a.retired && visible(caller, a)) {
                    out.add(view(a, null));
                }
            }
        }
        out.sort(java.util.Comparator.comparing(AdapterView::name));
        return out;
    }

    // ---- admin ----

    @Override
    public CompletionStage<AdapterView> register(Caller caller, String name, AdapterSource source, boolean shared) {
        if (name == null || !NAME.matcher(name).matches()) {
            return failed(ServiceError.invalid("name", "adapter name must match " + NAME.pattern() + ", got '"
                    + name + "'"));
        }
        if (name.equals(baseModel)) {
            return failed(new ServiceError(ServiceError.Kind.CONFLICT, "'" + name + "' is the base model's name",
                    "name", 0));
        }
        Adapter existing = adapters.get(name);
        if (existing != null) {
            synchronized (existing) {
                if (!visible(caller, existing) || !existing.owner.equals(caller.tenant())) {
                    return failed(new ServiceError(ServiceError.Kind.CONFLICT, "adapter name '" + name
                            + "' is not available; choose another", "name", 0));
                }
                if (!existing.retired) {
                    return failed(new ServiceError(ServiceError.Kind.CONFLICT, "adapter '" + name + "' already "
                            + "exists; publish a new version with POST /v1/adapters/" + name + "/versions", "name", 0));
                }
            }
        }
        return CompletableFuture.supplyAsync(() -> store.stage(name, source), io).thenApply(staged -> {
            Adapter a = adapters.computeIfAbsent(name, n -> new Adapter(n, caller.tenant(), shared));
            synchronized (a) {
                if (!a.owner.equals(caller.tenant()) || (!a.retired && !a.versions.isEmpty())) {
                    store.discard(staged.dir());
                    throw new ServiceError(ServiceError.Kind.CONFLICT, "adapter '" + name + "' was registered "
                            + "concurrently", "name", 0).exception();
                }
                int v = a.latest() + 1;
                Version ver = new Version(v, store.commit(staged, name, v), staged, source.describe());
                a.versions.put(v, ver);
                a.active = v;
                a.retired = false;
                a.shared = shared;
                audit.append(name, "Registered", v, caller.keyName(), detail("owner", a.owner, "shared", shared,
                        "source", ver.source, "sha256", ver.sha256, "rank", ver.rank));
                log.info("adapter {} v{} registered by {} ({})", name, v, caller.keyName(), ver.source);
                return view(a, null);
            }
        });
    }

    @Override
    public CompletionStage<AdapterView> publishVersion(Caller caller, String name, AdapterSource source) {
        Adapter found = owned(caller, name);
        if (found == null) {
            return failed(notFound(name));
        }
        return CompletableFuture.supplyAsync(() -> store.stage(name, source), io).thenApply(staged -> {
            Adapter a = owned(caller, name);
            if (a == null) {
                store.discard(staged.dir());
                throw notFound(name).exception();
            }
            String oldKey;
            synchronized (a) {
                int v = a.latest() + 1;
                Version ver = new Version(v, store.commit(staged, name, v), staged, source.describe());
                a.versions.put(v, ver);
                oldKey = key(name, a.active);
                a.active = v;
                audit.append(name, "VersionPublished", v, caller.keyName(), detail("previous", oldKey,
                        "source", ver.source, "sha256", ver.sha256, "rank", ver.rank));
            }
            afterSwitch(a, oldKey);
            return view(a, null);
        });
    }

    @Override
    public CompletionStage<List<AdapterView>> list(Caller caller) {
        return worker.status().thenApply(st -> {
            List<AdapterView> out = new ArrayList<>();
            for (Adapter a : adapters.values()) {
                synchronized (a) {
                    if (visible(caller, a)) {
                        out.add(view(a, st));
                    }
                }
            }
            out.sort(java.util.Comparator.comparing(AdapterView::name));
            return out;
        });
    }

    @Override
    public CompletionStage<AdapterView> get(Caller caller, String name) {
        Adapter a = visibleAdapter(caller, name);
        if (a == null) {
            return failed(notFound(name));
        }
        return worker.status().thenApply(st -> {
            synchronized (a) {
                return view(a, st);
            }
        });
    }

    @Override
    public CompletionStage<AdapterView> rollback(Caller caller, String name, Integer toVersion) {
        Adapter a = owned(caller, name);
        if (a == null) {
            return failed(notFound(name));
        }
        String oldKey;
        synchronized (a) {
            if (a.retired) {
                return failed(new ServiceError(ServiceError.Kind.CONFLICT, "adapter '" + name + "' is retired", null, 0));
            }
            int to;
            if (toVersion == null) {
                to = a.versions.keySet().stream().mapToInt(Integer::intValue).filter(v -> v < a.active).max()
                        .orElse(0);
                if (to == 0) {
                    return failed(new ServiceError(ServiceError.Kind.CONFLICT, "adapter '" + name + "' has no "
                            + "version before v" + a.active + " to roll back to", null, 0));
                }
            } else {
                if (!a.versions.containsKey(toVersion)) {
                    return failed(ServiceError.invalid("version", "adapter '" + name + "' has no version "
                            + toVersion + " (versions: " + a.versions.keySet() + ")"));
                }
                to = toVersion;
            }
            oldKey = key(name, a.active);
            audit.append(name, "RolledBack", to, caller.keyName(), detail("from", a.active, "to", to));
            a.active = to;
        }
        afterSwitch(a, oldKey);
        return get(caller, name);
    }

    @Override
    public CompletionStage<AdapterView> preload(Caller caller, String name, int replicas) {
        Adapter a = owned(caller, name);
        if (a == null) {
            return failed(notFound(name));
        }
        Version v;
        synchronized (a) {
            if (a.retired) {
                return failed(new ServiceError(ServiceError.Kind.CONFLICT, "adapter '" + name + "' is retired", null, 0));
            }
            // NOTE: one node has one worker; more replicas need the cluster. The request is recorded as asked.
            a.preload = Math.min(replicas, 1);
            v = a.activeVersion();
        }
        audit.append(name, "Preloaded", v.number, caller.keyName(), detail("replicas_requested", replicas,
                "replicas_placed", 1, "workers_available", 1));
        return worker.load(key(name, v.number), v.dir.toString(), true).thenCompose(r -> {
            if (!r.ok()) {
                ServiceError.Kind kind = r.error() != null && r.error().contains("no free adapter slot")
                        ? ServiceError.Kind.CONFLICT : ServiceError.Kind.ADAPTER_REFUSED;
                throw new ServiceError(kind, "preloading adapter '" + name + "' failed: " + r.error(), null, 0)
                        .exception();
            }
            audit.append(name, "PlacedOn", v.number, "system", detail("worker", worker.name(), "slot", r.slot(),
                    "pinned", true));
            return get(caller, name);
        });
    }

    @Override
    public CompletionStage<AdapterView> retire(Caller caller, String name) {
        Adapter a = owned(caller, name);
        if (a == null) {
            return failed(notFound(name));
        }
        String key;
        synchronized (a) {
            if (a.retired) {
                return failed(notFound(name));
            }
            a.retired = true;
            a.preload = 0;
            key = key(name, a.active);
            audit.append(name, "Retired", a.active, caller.keyName(), Map.of());
        }
        evictWhenIdle(key, "retired", 0);
        return get(caller, name);
    }

    @Override
    public CompletionStage<List<AdapterEvent>> events(Caller caller, String name) {
        if (visibleAdapter(caller, name) == null) {
            return failed(notFound(name));
        }
        return CompletableFuture.completedFuture(audit.forAdapter(name));
    }

    @Override
    public CompletionStage<List<AdapterEvent>> eventsSince(Caller caller, long since) {
        return CompletableFuture.completedFuture(audit.since(since).stream()
                .filter(e -> visibleAdapter(caller, e.adapter()) != null).toList());
    }

    // ---- internals ----

    /** After the active version changed: move a preload pin to the new version and evict the old one when idle. */
    private void afterSwitch(Adapter a, String oldKey) {
        Version v;
        int preload;
        synchronized (a) {
            v = a.activeVersion();
            preload = a.preload;
        }
        if (key(a.name, v.number).equals(oldKey)) {
            return;
        }
        evictWhenIdle(oldKey, "superseded", 0);
        if (preload > 0) {
            worker.load(key(a.name, v.number), v.dir.toString(), true).thenAccept(r -> {
                if (r.ok()) {
                    audit.append(a.name, "PlacedOn", v.number, "system", detail("worker", worker.name(),
                            "slot", r.slot(), "pinned", true));
                }
            });
        }
    }

    /**
     * Evicts a key once no running request uses it (the engine refuses while one does), retrying for up to a
     * minute; the engine's eviction callback writes the EvictedFrom event.
     */
    private void evictWhenIdle(String key, String reason, int attempt) {
        evictionReasons.put(key, reason);
        worker.evict(key).whenComplete((r, err) -> {
            if (err == null && r.evicted()) {
                // the engine calls back only when the adapter was in a slot or in host memory; forget the reason
                // shortly either way
                CompletableFuture.delayedExecutor(1, java.util.concurrent.TimeUnit.SECONDS)
                        .execute(() -> evictionReasons.remove(key, reason));
                return;
            }
            if (attempt < 600) {
                CompletableFuture.delayedExecutor(100, java.util.concurrent.TimeUnit.MILLISECONDS)
                        .execute(() -> evictWhenIdle(key, reason, attempt + 1));
            } else {
                log.warn("adapter {} could not be evicted ({}): {}", key, reason, err != null ? err : r.reason());
            }
        });
    }

    private Adapter visibleAdapter(Caller caller, String name) {
        Adapter a = adapters.get(name);
        if (a == null) {
            return null;
        }
        synchronized (a) {
            return visible(caller, a) ? a : null;
        }
    }

    /** An adapter the caller's tenant owns (shared adapters of another tenant are read-only to it). */
    private Adapter owned(Caller caller, String name) {
        Adapter a = adapters.get(name);
        return a != null && a.owner.equals(caller.tenant()) ? a : null;
    }

    private static boolean visible(Caller caller, Adapter a) {
        return a.shared || a.owner.equals(caller.tenant());
    }

    public static String key(String name, int version) {
        return AdapterCatalog.key(name, version);
    }

    @Override
    public boolean durable() {
        return audit.durable();
    }

    @Override
    public CompletionStage<StorageCheck> storageCheck() {
        return CompletableFuture.completedFuture(new StorageCheck(true, "not configured: adapter registry and "
                + "audit log are in memory" + (audit.durable() ? "" : " (lost on restart)")));
    }

    private AdapterView view(Adapter a, EngineStatus st) {
        List<AdapterView.Version> versions = a.versions.values().stream().map(v -> new AdapterView.Version(v.number,
                v.sha256, v.size, v.createdAt, v.source, v.rank, v.targets)).toList();
        String key = key(a.name, a.active);
        List<String> resident = new ArrayList<>();
        Map<String, Object> cache = new LinkedHashMap<>();
        cacheView(key, worker, st, resident, cache);
        return new AdapterView(a.name, a.owner, a.shared, a.retired ? "retired" : "active", a.active, versions,
                a.preload, resident, cache);
    }

    /** Where {@code key} is in the worker's tiered cache and the cache's counters, for an {@link AdapterView}. */
    static void cacheView(String key, LocalWorker worker, EngineStatus st, List<String> resident,
                          Map<String, Object> cache) {
        if (st == null) {
            return;
        }
        var s = st.adapters();
        if (s.resident().contains(key)) {
            resident.add(worker.name());
        }
        cache.put("tier", s.resident().contains(key) ? "slot" : s.host().contains(key) ? "host" : "disk");
        cache.put("pinned", s.pinned().contains(key));
        Map<String, Object> w = new LinkedHashMap<>();
        w.put("slot_hits", s.slotHits());
        w.put("host_hits", s.hostHits());
        w.put("disk_misses", s.diskMisses());
        w.put("slot_evictions", s.slotEvictions());
        w.put("host_evictions", s.hostEvictions());
        w.put("free_slots", s.freeSlots());
        w.put("disk_to_host_ms_p50", s.diskToHost().p50Ms());
        w.put("host_to_slot_ms_p50", s.hostToSlot().p50Ms());
        cache.put(worker.name(), w);
    }

    static Map<String, Object> detail(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static ServiceError notFound(String name) {
        return ServiceError.notFound(null, "adapter '" + name + "' does not exist or you do not have access to it");
    }

    private static <T> CompletionStage<T> failed(ServiceError e) {
        return CompletableFuture.failedFuture(new ServiceException(e));
    }

    private static int parseInt(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
