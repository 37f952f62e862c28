package dev.quiver.node.adapters;

import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.cql.SimpleStatement;
import dev.quiver.edge.api.AdapterEvent;
import dev.quiver.edge.api.AdapterSource;
import dev.quiver.edge.api.AdapterView;
import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.edge.api.ServiceException;
import dev.quiver.gpu.worker.EngineStatus;
import dev.quiver.node.local.LocalWorker;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.audit.AdapterAuditLog;
import dev.quiver.persistence.audit.AuditRecord;
import dev.quiver.persistence.blob.AdapterDirectories;
import dev.quiver.persistence.events.EvictionReason;
import dev.quiver.persistence.lifecycle.AdapterLifecycle;
import dev.quiver.persistence.lifecycle.LifecycleReply;
import dev.quiver.persistence.state.AdapterState;
import dev.quiver.persistence.state.AdapterVersion;
import dev.quiver.persistence.state.LifecycleRequest;
import dev.quiver.persistence.state.Rejection;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.persistence.cassandra.query.javadsl.CassandraReadJournal;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable adapter registry of a single node ({@code quiver.node.persistence = cassandra}). Every lifecycle
 * command goes through the adapter's {@link AdapterLifecycle} event-sourced actor, so its events are journaled in
 * Cassandra; the audit API reads them back through {@link AdapterAuditLog}; each accepted version's files are put
 * into the Cassandra blob store before the event that names their digest, and fetched into the node's local cache
 * ({@code <adapter-store>/blobs/<digest>/}, the engine's disk tier) when missing. At start, {@link #recover} replays
 * every adapter from the journal, so a restarted node serves the same versions, current versions and retirements.
 *
 * <p>NOTE: one {@link AdapterLifecycle} actor per adapter name, spawned locally on this node; with more than one
 * node the cluster issue shards them by adapter name (the state and events stay the same). This class keeps the
 * last state each actor replied with, so that resolving a request's model needs no ask.
 *
 * <p>NOTE: {@code AdapterRegistered} has a tenant but no "shared" flag. Until persistence adds one (a v3 of the
 * event), a shared adapter is registered with tenant {@code shared:<owner>}; {@link #owner}/{@link #shared} read it
 * back.
 */
public final class JournaledAdapterRegistry implements AdapterCatalog {
    private static final Logger log = LoggerFactory.getLogger(JournaledAdapterRegistry.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final String SHARED_PREFIX = "shared:";
    private static final Duration ASK_TIMEOUT = Duration.ofSeconds(30);
    private static final int AUDIT_LIMIT = 10_000;
    /** 100-ns intervals between the UUID epoch (1582-10-15) and the Unix epoch. */
    private static final long UUID_EPOCH_OFFSET = 0x01b21dd213814000L;

    private final ActorSystem<?> system;
    private final AdapterStore store;
    private final AdapterDirectories blobs;
    private final AdapterAuditLog audit;
    private final CqlSession session;
    private final LocalWorker worker;
    private final String baseModel;
    private final String nodeId;
    private final PersistenceSettings.Lifecycle lifecycle;
    private final Executor io;
    private final Map<String, ActorRef<AdapterLifecycle.Command>> entities = new ConcurrentHashMap<>();
    private final Map<String, AdapterState> states = new ConcurrentHashMap<>();
    /** Why an adapter key is being evicted on purpose (retired, superseded), for the log. */
    private final Map<String, String> evictionReasons = new ConcurrentHashMap<>();

    public JournaledAdapterRegistry(ActorSystem<?> system, AdapterStore store, AdapterDirectories blobs,
                                    AdapterAuditLog audit, CqlSession session, LocalWorker worker, String baseModel,
                                    String nodeId, PersistenceSettings.Lifecycle lifecycle, Executor io) {
        this.system = system;
        this.store = store;
        this.blobs = blobs;
        this.audit = audit;
        this.session = session;
        this.worker = worker;
        this.baseModel = baseModel;
        this.nodeId = nodeId;
        this.lifecycle = lifecycle;
        this.io = io;
        // NOTE: the engine calls this on its own thread; the Evict request is a tell-like ask whose reply is only
        // logged. An eviction of an adapter that was never placed (a plain LRU drop) is rejected as NotPlaced and
        // ignored: only pinned placements are journaled.
        worker.engine().onEviction(s -> {
            int sp = s.lastIndexOf(' ');
            String key = s.substring(0, sp);
            String reason = Optional.ofNullable(evictionReasons.remove(key)).orElse(s.substring(sp + 1));
            int at = key.lastIndexOf("@v");
            if (at > 0 && states.containsKey(key.substring(0, at))) {
                String name = key.substring(0, at);
                EvictionReason r = reason.equals("lru") ? EvictionReason.LRU : EvictionReason.OPERATOR;
                execute(name, new LifecycleRequest.Evict(worker.name(), nodeId, r, "system:worker"))
                        .whenComplete((reply, err) -> log.debug("eviction of {} ({}): {}", key, reason,
                                err != null ? err.toString() : reply));
            }
        });
    }

    // ---- recovery ----

    /**
     * Replays every adapter in the journal into its actor, fetches each active adapter's current version into the
     * local cache, and pins again the ones that were placed on this worker. Returns the number of adapters.
     */
    public CompletionStage<Integer> recover() {
        CassandraReadJournal journal = PersistenceQuery.get(system)
                .getReadJournalFor(CassandraReadJournal.class, CassandraReadJournal.Identifier());
        String prefix = AdapterLifecycle.ENTITY_TYPE + "|";
        return journal.currentPersistenceIds().filter(id -> id.startsWith(prefix))
                .map(id -> id.substring(prefix.length()))
                .runWith(Sink.seq(), system)
                .thenCompose(names -> {
                    List<CompletableFuture<AdapterState>> all = new ArrayList<>();
                    for (String name : names) {
                        all.add(state(name).toCompletableFuture());
                    }
                    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).thenApplyAsync(v -> {
                        for (CompletableFuture<AdapterState> f : all) {
                            AdapterState st = f.join();
                            if (!st.isRegistered() || st.isRetired()) {
                                continue;
                            }
                            AdapterVersion current = st.current().orElseThrow();
                            Path dir = fetch(current.digest());
                            if (st.residencyOn(worker.name()).isPresent()) {
                                worker.load(key(st.name(), current.version()), dir.toString(), true);
                            }
                        }
                        log.info("recovered {} adapters from the journal", all.size());
                        return all.size();
                    }, io);
                });
    }

    // ---- serving ----

    @Override
    public Optional<Resolved> resolve(Caller caller, String name) {
        AdapterState st = states.get(name);
        if (st == null || !st.isRegistered() || st.isRetired() || !visible(caller, st)) {
            return Optional.empty();
        }
        AdapterVersion v = st.current().orElseThrow();
        Path dir = blobs.cachedPath(v.digest());
        if (!Files.isDirectory(dir)) {
            // NOTE: normally fetched before the version became current (or at recovery); this covers a cache
            // directory deleted while the node runs, at the cost of blocking this request's thread.
            dir = fetch(v.digest());
        }
        return Optional.of(new Resolved(name, key(name, v.version()), dir));
    }

    @Override
    public List<AdapterView> visible(Caller caller) {
        return states.values().stream().filter(st -> st.isRegistered() && !st.isRetired() && visible(caller, st))
                .map(st -> view(st, null)).sorted(Comparator.comparing(AdapterView::name)).toList();
    }

    @Override
    public boolean durable() {
        return true;
    }

    @Override
    public CompletionStage<StorageCheck> storageCheck() {
        return CompletableFuture.supplyAsync(() -> {
            try {
                var row = session.execute(SimpleStatement.newInstance(
                        "SELECT release_version FROM system.local").setTimeout(Duration.ofSeconds(3))).one();
                Map<String, Object> d = new LinkedHashMap<>();
                d.put("reachable", true);
                d.put("release_version", row == null ? null : row.getString(0));
                d.put("adapters", states.size());
                return new StorageCheck(true, d);
            } catch (RuntimeException e) {
                return new StorageCheck(false, Map.of("reachable", false, "error", String.valueOf(e.getMessage())));
            }
        }, io).completeOnTimeout(new StorageCheck(false, Map.of("reachable", false, "error", "no answer in 4 s")),
                4, TimeUnit.SECONDS);
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
        return state(name).thenCompose(existing -> {
            if (existing.isRegistered()) {
                if (!visible(caller, existing) || !owner(existing).equals(caller.tenant())) {
                    throw conflict("adapter name '" + name + "' is not available; choose another", "name")
                            .exception();
                }
                throw conflict(existing.isRetired()
                        ? "adapter '" + name + "' is retired; adapter names are never reused, choose another"
                        : "adapter '" + name + "' already exists; publish a new version with POST /v1/adapters/"
                                + name + "/versions", "name").exception();
            }
            return CompletableFuture.supplyAsync(() -> stageAndStore(name, source), io);
        }).thenCompose(c -> execute(name, new LifecycleRequest.Register(
                shared ? SHARED_PREFIX + caller.tenant() : caller.tenant(), baseModel, c.staged.rank(),
                c.staged.targets(), c.digest, c.staged.sizeBytes(), source.describe(), caller.keyName()))
                .thenApply(st -> {
                    log.info("adapter {} v1 registered by {} ({}, {})", name, caller.keyName(), source.describe(),
                            c.digest.shortForm());
                    return view(st, null);
                }));
    }

    @Override
    public CompletionStage<AdapterView> publishVersion(Caller caller, String name, AdapterSource source) {
        AdapterState found = owned(caller, name);
        if (found == null) {
            return failed(notFound(name));
        }
        int oldVersion = found.currentVersion();
        return CompletableFuture.supplyAsync(() -> stageAndStore(name, source), io)
                .thenCompose(c -> execute(name, new LifecycleRequest.PublishVersion(c.digest, c.staged.sizeBytes(),
                        c.staged.rank(), c.staged.targets(), source.describe(), caller.keyName())))
                .thenApply(st -> {
                    afterSwitch(st, oldVersion);
                    return view(st, null);
                });
    }

    @Override
    public CompletionStage<List<AdapterView>> list(Caller caller) {
        return worker.status().thenApply(es -> states.values().stream()
                .filter(st -> st.isRegistered() && visible(caller, st)).map(st -> view(st, es))
                .sorted(Comparator.comparing(AdapterView::name)).toList());
    }

    @Override
    public CompletionStage<AdapterView> get(Caller caller, String name) {
        AdapterState st = states.get(name);
        if (st == null || !st.isRegistered() || !visible(caller, st)) {
            return failed(notFound(name));
        }
        return worker.status().thenApply(es -> view(states.get(name), es));
    }

    /**
     * Rolls back to the version that was current before, or (with {@code toVersion}) repeatedly until
     * {@code toVersion} is current; each step is one journaled RolledBack event. Only versions on the rollback
     * stack (ones that were current before) can be reached.
     */
    @Override
    public CompletionStage<AdapterView> rollback(Caller caller, String name, Integer toVersion) {
        AdapterState st = owned(caller, name);
        if (st == null) {
            return failed(notFound(name));
        }
        if (st.isRetired()) {
            return failed(conflict("adapter '" + name + "' is retired", null));
        }
        if (toVersion != null && (toVersion == st.currentVersion() || !st.rollbackStack().contains(toVersion))) {
            return failed(ServiceError.invalid("version", "adapter '" + name + "' can roll back only to a version "
                    + "that was current before v" + st.currentVersion() + " (" + st.rollbackStack() + "), got "
                    + toVersion));
        }
        int target = toVersion != null ? toVersion
                : st.rollbackStack().isEmpty() ? 0 : st.rollbackStack().get(st.rollbackStack().size() - 1);
        int oldVersion = st.currentVersion();
        return CompletableFuture.supplyAsync(() -> {
            // the target's files are local before it becomes current
            st.version(target).ifPresent(v -> fetch(v.digest()));
            return target;
        }, io).thenCompose(t -> rollbackUntil(caller, name, t))
                .thenCompose(after -> {
                    afterSwitch(after, oldVersion);
                    return get(caller, name);
                });
    }

    private CompletionStage<AdapterState> rollbackUntil(Caller caller, String name, int target) {
        return execute(name, new LifecycleRequest.RollBack("requested by " + caller.keyName(), caller.keyName()))
                .thenCompose(st -> target == 0 || st.currentVersion() == target
                        ? CompletableFuture.completedFuture(st) : rollbackUntil(caller, name, target));
    }

    @Override
    public CompletionStage<AdapterView> preload(Caller caller, String name, int replicas) {
        AdapterState st = owned(caller, name);
        if (st == null) {
            return failed(notFound(name));
        }
        if (st.isRetired()) {
            return failed(conflict("adapter '" + name + "' is retired", null));
        }
        AdapterVersion v = st.current().orElseThrow();
        // NOTE: one node has one worker; more replicas need the cluster. At most one placement is journaled.
        return CompletableFuture.supplyAsync(() -> fetch(v.digest()), io)
                .thenCompose(dir -> worker.load(key(name, v.version()), dir.toString(), true))
                .thenCompose(r -> {
                    if (!r.ok()) {
                        execute(name, new LifecycleRequest.ReportLoadFailure(worker.name(), nodeId, v.version(),
                                String.valueOf(r.error()), "system:worker"));
                        ServiceError.Kind kind = r.error() != null && r.error().contains("no free adapter slot")
                                ? ServiceError.Kind.CONFLICT : ServiceError.Kind.ADAPTER_REFUSED;
                        throw new ServiceError(kind, "preloading adapter '" + name + "' failed: " + r.error(), null,
                                0).exception();
                    }
                    return execute(name, new LifecycleRequest.Place(worker.name(), nodeId, caller.keyName()))
                            .exceptionally(err -> states.get(name)); // AlreadyPlaced: nothing new to record
                })
                .thenCompose(x -> get(caller, name));
    }

    @Override
    public CompletionStage<AdapterView> retire(Caller caller, String name) {
        AdapterState st = owned(caller, name);
        if (st == null || st.isRetired()) {
            return failed(notFound(name));
        }
        return execute(name, new LifecycleRequest.Retire("retired through the admin API", caller.keyName()))
                .thenCompose(after -> {
                    evictWhenIdle(key(name, after.currentVersion()), "retired", 0);
                    return get(caller, name);
                });
    }

    @Override
    public CompletionStage<List<AdapterEvent>> events(Caller caller, String name) {
        AdapterState st = states.get(name);
        if (st == null || !visible(caller, st)) {
            return failed(notFound(name));
        }
        return audit.historyList(name, AUDIT_LIMIT)
                .thenApply(records -> records.stream().map(r -> toEdge(r, r.sequenceNr())).toList());
    }

    /**
     * Every lifecycle event the caller may see written after {@code since}, from the tagged journal. A record's
     * {@code seq} here is the time of its journal offset (a time-based UUID) in 100-ns units since 1582, which is
     * increasing and unique per write, so a client passes the last {@code seq} it saw to continue.
     */
    @Override
    public CompletionStage<List<AdapterEvent>> eventsSince(Caller caller, long since) {
        Instant from = since <= UUID_EPOCH_OFFSET ? Instant.EPOCH
                : Instant.ofEpochMilli((since - UUID_EPOCH_OFFSET) / 10_000);
        return audit.lifecycleEventsList(from, AUDIT_LIMIT).thenApply(records -> records.stream()
                .map(r -> toEdge(r, offsetSeq(r)))
                .filter(e -> e.seq() > since)
                .filter(e -> {
                    AdapterState st = states.get(e.adapter());
                    return st != null && visible(caller, st);
                }).toList());
    }

    // ---- internals ----

    /** A staged, validated version whose files are in the blob store and in the local cache. */
    private record Stored(AdapterStore.Staged staged, ContentDigest digest) {
    }

    private Stored stageAndStore(String name, AdapterSource source) {
        AdapterStore.Staged staged = store.stage(name, source);
        try {
            ContentDigest digest = blobs.store(staged.dir());
            fetch(digest);
            return new Stored(staged, digest);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot store adapter '" + name + "' in the blob store", e);
        } finally {
            store.discard(staged.dir());
        }
    }

    private Path fetch(ContentDigest digest) {
        try {
            return blobs.fetch(digest);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot fetch adapter blob " + digest + " from Cassandra", e);
        }
    }

    private ActorRef<AdapterLifecycle.Command> entity(String name) {
        return entities.computeIfAbsent(name, n -> system.systemActorOf(
                AdapterLifecycle.create(n, lifecycle, Clock.systemUTC()), "adapter-" + n, Props.empty()));
    }

    private CompletionStage<AdapterState> state(String name) {
        return AskPattern.<AdapterLifecycle.Command, AdapterState>ask(entity(name), AdapterLifecycle.GetState::new,
                ASK_TIMEOUT, system.scheduler()).thenApply(st -> {
                    if (st.isRegistered()) {
                        states.put(name, st);
                    }
                    return st;
                });
    }

    /** Sends a request to the adapter's actor; the new state, or the rejection as a {@link ServiceException}. */
    private CompletionStage<AdapterState> execute(String name, LifecycleRequest request) {
        return AskPattern.<AdapterLifecycle.Command, LifecycleReply>ask(entity(name),
                replyTo -> new AdapterLifecycle.Execute(request, replyTo), ASK_TIMEOUT, system.scheduler())
                .thenApply(reply -> {
                    if (reply instanceof LifecycleReply.Accepted a) {
                        states.put(name, a.state());
                        return a.state();
                    }
                    throw toServiceError(((LifecycleReply.Rejected) reply).rejection()).exception();
                });
    }

    /** The one mapping from a lifecycle rejection to the edge's error kinds. */
    private static ServiceError toServiceError(Rejection r) {
        if (r instanceof Rejection.NotRegistered n) {
            return notFound(n.adapter());
        }
        if (r instanceof Rejection.InvalidRequest i) {
            return ServiceError.invalid(i.field(), i.problem());
        }
        return new ServiceError(ServiceError.Kind.CONFLICT, r.message(), null, 0);
    }

    /** After the current version changed: move a pin to the new version and evict the old one when idle. */
    private void afterSwitch(AdapterState st, int oldVersion) {
        if (st.currentVersion() == oldVersion) {
            return;
        }
        evictWhenIdle(key(st.name(), oldVersion), "superseded", 0);
        if (st.residencyOn(worker.name()).isPresent()) {
            AdapterVersion v = st.current().orElseThrow();
            CompletableFuture.supplyAsync(() -> fetch(v.digest()), io)
                    .thenCompose(dir -> worker.load(key(st.name(), v.version()), dir.toString(), true))
                    .thenAccept(r -> {
                        if (r.ok()) {
                            execute(st.name(), new LifecycleRequest.Place(worker.name(), nodeId, "system:worker"));
                        }
                    });
        }
    }

    private void evictWhenIdle(String key, String reason, int attempt) {
        evictionReasons.put(key, reason);
        worker.evict(key).whenComplete((r, err) -> {
            if (err == null && r.evicted()) {
                CompletableFuture.delayedExecutor(1, TimeUnit.SECONDS).execute(() -> evictionReasons.remove(key, reason));
                return;
            }
            if (attempt < 600) {
                CompletableFuture.delayedExecutor(100, TimeUnit.MILLISECONDS)
                        .execute(() -> evictWhenIdle(key, reason, attempt + 1));
            } else {
                log.warn("adapter {} could not be evicted ({}): {}", key, reason, err != null ? err : r.reason());
            }
        });
    }

    private AdapterState owned(Caller caller, String name) {
        AdapterState st = states.get(name);
        return st != null && st.isRegistered() && owner(st).equals(caller.tenant()) ? st : null;
    }

    static String owner(AdapterState st) {
        return st.tenant().startsWith(SHARED_PREFIX) ? st.tenant().substring(SHARED_PREFIX.length()) : st.tenant();
    }

    static boolean shared(AdapterState st) {
        return st.tenant().startsWith(SHARED_PREFIX);
    }

    private static boolean visible(Caller caller, AdapterState st) {
        return shared(st) || owner(st).equals(caller.tenant());
    }

    private static String key(String name, int version) {
        return AdapterCatalog.key(name, version);
    }

    private AdapterView view(AdapterState st, EngineStatus es) {
        List<AdapterView.Version> versions = st.versions().stream().map(v -> new AdapterView.Version(v.version(),
                v.digest().hex(), v.sizeBytes(), v.publishedAt().toEpochMilli(), v.source(), v.rank(),
                v.targetModules())).toList();
        List<String> resident = new ArrayList<>();
        Map<String, Object> cache = new LinkedHashMap<>();
        AdapterRegistry.cacheView(key(st.name(), st.currentVersion()), worker, es, resident, cache);
        return new AdapterView(st.name(), owner(st), shared(st), st.isRetired() ? "retired" : "active",
                st.currentVersion(), versions, st.residencyOn(worker.name()).isPresent() ? 1 : 0, resident, cache);
    }

    private static long offsetSeq(AuditRecord r) {
        try {
            return UUID.fromString(r.offset()).timestamp();
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            return r.writtenAt().toEpochMilli() * 10_000 + UUID_EPOCH_OFFSET;
        }
    }

    /** A journaled event as the audit API shows it. */
    private static AdapterEvent toEdge(AuditRecord r, long seq) {
        dev.quiver.persistence.events.AdapterEvent e = r.event();
        String type;
        int version;
        Map<String, Object> d = new LinkedHashMap<>();
        if (e instanceof dev.quiver.persistence.events.AdapterEvent.AdapterRegistered x) {
            type = "Registered";
            version = 1;
            d.putAll(AdapterRegistry.detail("owner", x.tenant().startsWith(SHARED_PREFIX)
                    ? x.tenant().substring(SHARED_PREFIX.length()) : x.tenant(), "shared",
                    x.tenant().startsWith(SHARED_PREFIX), "source", x.source(), "sha256", x.digest().hex(),
                    "rank", x.rank()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.VersionPublished x) {
            type = "VersionPublished";
            version = x.version();
            d.putAll(AdapterRegistry.detail("source", x.source(), "sha256", x.digest().hex(), "rank", x.rank()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.RolledBack x) {
            type = "RolledBack";
            version = x.toVersion();
            d.putAll(AdapterRegistry.detail("from", x.fromVersion(), "to", x.toVersion(), "reason", x.reason()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.PlacedOn x) {
            type = "PlacedOn";
            version = x.version();
            d.putAll(AdapterRegistry.detail("worker", x.worker(), "node", x.node(), "pinned", true));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.EvictedFrom x) {
            type = "EvictedFrom";
            version = 0;
            d.putAll(AdapterRegistry.detail("worker", x.worker(), "node", x.node(), "reason", x.reason().wireName()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.LoadFailed x) {
            type = "LoadFailed";
            version = x.version();
            d.putAll(AdapterRegistry.detail("worker", x.worker(), "node", x.node(), "error", x.error()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.Retired x) {
            type = "Retired";
            version = 0;
            d.putAll(AdapterRegistry.detail("reason", x.reason()));
        } else {
            type = e.getClass().getSimpleName();
            version = 0;
        }
        d.put("journal_seq", r.sequenceNr());
        return new AdapterEvent(seq, e.at().toEpochMilli(), r.adapter(), type, version, e.by(), d);
    }

    private static ServiceError conflict(String message, String param) {
        return new ServiceError(ServiceError.Kind.CONFLICT, message, param, 0);
    }

    private static ServiceError notFound(String name) {
        return ServiceError.notFound(null, "adapter '" + name + "' does not exist or you do not have access to it");
    }

    private static <T> CompletionStage<T> failed(ServiceError e) {
        return CompletableFuture.failedFuture(new ServiceException(e));
    }
}
