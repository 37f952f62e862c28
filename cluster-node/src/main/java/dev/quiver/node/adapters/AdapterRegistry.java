package dev.quiver.node.adapters;

import dev.quiver.edge.api.AdapterAdmin;
import dev.quiver.edge.api.AdapterEvent;
import dev.quiver.edge.api.AdapterSource;
import dev.quiver.edge.api.AdapterView;
import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.edge.api.ServiceException;
import dev.quiver.node.catalog.AdapterCatalog;
import dev.quiver.node.catalog.CatalogEntry;
import dev.quiver.node.directory.WorkerDirectory;
import dev.quiver.node.entity.AdapterEntity;
import dev.quiver.node.worker.WorkerAgent;
import dev.quiver.node.worker.WorkerLoad;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.audit.AdapterAuditLog;
import dev.quiver.persistence.audit.AuditRecord;
import dev.quiver.persistence.blob.AdapterDirectories;
import dev.quiver.persistence.lifecycle.AdapterLifecycle;
import dev.quiver.persistence.lifecycle.LifecycleReply;
import dev.quiver.persistence.state.AdapterState;
import dev.quiver.persistence.state.LifecycleRequest;
import dev.quiver.persistence.state.Rejection;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.apache.pekko.persistence.cassandra.query.javadsl.CassandraReadJournal;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The adapter admin and audit API over the cluster: every lifecycle command goes to the adapter's sharded
 * {@link AdapterEntity} (wherever in the cluster it lives), so every change is an event in its journal; reads come
 * from the {@link AdapterCatalog} every node holds, and the audit API reads the journal back through
 * {@link AdapterAuditLog}.
 *
 * <p>An accepted version's files are staged and validated against the base model ({@link AdapterStore}), then put
 * into the blob store as one content-addressed blob <em>before</em> the event that names its digest, so any node's
 * worker can fetch it; the registering node keeps it in its disk cache at once.
 *
 * <p>While the node knows its journal is down (the journal probe failed; {@code journalOutage}), lifecycle writes
 * are refused at once with a retriable {@code UNAVAILABLE} that names the journal, before anything is staged; a
 * write already waiting for its entity is answered the same way as soon as the probe notices, instead of waiting
 * for its ask to time out. Serving does not go through here and goes on.
 */
public final class AdapterRegistry implements AdapterAdmin {
    private static final Logger log = LoggerFactory.getLogger(AdapterRegistry.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Duration ASK_TIMEOUT = Duration.ofSeconds(15);
    /** {@code Retry-After} of a write refused because the journal is down or an entity did not answer. */
    public static final int JOURNAL_RETRY_AFTER_SECONDS = 5;
    /** How often a write waiting for its entity looks whether the journal went down meanwhile. */
    private static final long JOURNAL_WATCH_MS = 200;
    private static final int AUDIT_LIMIT = 10_000;
    /** 100-ns intervals between the UUID epoch (1582-10-15) and the Unix epoch. */
    private static final long UUID_EPOCH_OFFSET = 0x01b21dd213814000L;

    /** Where the registry keeps its state, for {@code /ready}: ok, and a detail object. */
    public record StorageCheck(boolean ok, Object detail) {
    }

    private final ActorSystem<?> system;
    private final ClusterSharding sharding;
    private final AdapterStore store;
    private final AdapterDirectories files;
    private final AdapterAuditLog audit;
    private final AdapterCatalog catalog;
    private final WorkerDirectory directory;
    private final String baseModel;
    private final Executor io;
    private final boolean durable;
    private final Supplier<CompletionStage<StorageCheck>> storageCheck;
    private final Supplier<Optional<String>> journalOutage;

    public AdapterRegistry(ActorSystem<?> system, AdapterStore store, AdapterDirectories files, AdapterAuditLog audit,
                           AdapterCatalog catalog, WorkerDirectory directory, String baseModel, Executor io,
                           boolean durable, Supplier<CompletionStage<StorageCheck>> storageCheck) {
        this(system, store, files, audit, catalog, directory, baseModel, io, durable, storageCheck, Optional::empty);
    }

    /**
     * @param journalOutage what is wrong with the journal while the node knows it is down (its latest probe
     *                      failed), else empty: lifecycle writes are refused at once while it is present
     */
    public AdapterRegistry(ActorSystem<?> system, AdapterStore store, AdapterDirectories files, AdapterAuditLog audit,
                           AdapterCatalog catalog, WorkerDirectory directory, String baseModel, Executor io,
                           boolean durable, Supplier<CompletionStage<StorageCheck>> storageCheck,
                           Supplier<Optional<String>> journalOutage) {
        this.system = system;
        this.sharding = ClusterSharding.get(system);
        this.store = store;
        this.files = files;
        this.audit = audit;
        this.catalog = catalog;
        this.directory = directory;
        this.baseModel = baseModel;
        this.io = io;
        this.durable = durable;
        this.storageCheck = storageCheck;
        this.journalOutage = journalOutage;
    }

    // ---- serving ----

    /** The adapter {@code name} if the caller may use it now (registered, not retired, theirs or shared). */
    public Optional<CatalogEntry> usable(Caller caller, String name) {
        return catalog.get(name).filter(e -> e.active() && e.visibleTo(caller.tenant()));
    }

    /** Like {@link #usable}, also seeing a change that reached this node's catalog replica a moment ago. */
    public CompletionStage<Optional<CatalogEntry>> usableFresh(Caller caller, String name) {
        return catalog.getFresh(name).thenApply(e -> e.filter(x -> x.active() && x.visibleTo(caller.tenant())));
    }

    /** The active adapters the caller may use, by name (without cache details). */
    public List<AdapterView> visible(Caller caller) {
        List<WorkerLoad> live = directory.routable();
        return catalog.all().stream().filter(e -> e.active() && e.visibleTo(caller.tenant()))
                .map(e -> view(e, false, live)).sorted(Comparator.comparing(AdapterView::name)).toList();
    }

    /** Whether the lifecycle and its audit trail survive a restart. */
    public boolean durable() {
        return durable;
    }

    public CompletionStage<StorageCheck> storageCheck() {
        return storageCheck.get();
    }

    /**
     * Makes the catalog hold every adapter of the journal before the node serves (Cassandra only; completes with
     * the number of adapters). After a restart of the whole cluster the catalog starts empty; a node that joins a
     * running cluster finds it in its peers' replicas. So the catalog is first read from a majority of the nodes,
     * and only the adapters it lacks, or holds at an older event than the journal's latest, have their entity
     * woken (which publishes its state): a check per adapter is one journal query from its catalog sequence
     * number on, far cheaper than recovering the entity, so a node joining a running cluster of thousands of
     * adapters is ready in seconds.
     */
    public CompletionStage<Integer> recover() {
        CassandraReadJournal journal = PersistenceQuery.get(system)
                .getReadJournalFor(CassandraReadJournal.class, CassandraReadJournal.Identifier());
        String prefix = AdapterLifecycle.ENTITY_TYPE + "|";
        long started = System.nanoTime();
        return catalog.readMajority(RECOVER_CATALOG_READ).thenCompose(known -> {
            java.util.concurrent.atomic.AtomicInteger woken = new java.util.concurrent.atomic.AtomicInteger();
            return journal.currentPersistenceIds().filter(id -> id.startsWith(prefix))
                    .mapAsyncUnordered(8, id -> {
                        String name = id.substring(prefix.length());
                        CatalogEntry entry = known.get(name);
                        CompletionStage<Boolean> current = entry == null
                                ? CompletableFuture.completedFuture(false)
                                : journal.currentEventsByPersistenceId(id, entry.seqNr() + 1, Long.MAX_VALUE)
                                        .take(1).runWith(Sink.seq(), system).thenApply(List::isEmpty);
                        return current.thenCompose(ok -> {
                            if (ok) {
                                return CompletableFuture.completedFuture(name);
                            }
                            woken.incrementAndGet();
                            return recoverState(name, 1).thenApply(e -> name);
                        });
                    })
                    .runWith(Sink.seq(), system)
                    .thenApply(names -> {
                        log.info("recovered {} adapters in {} ms: {} current in the cluster's catalog, {} woken "
                                        + "from the journal", names.size(),
                                (System.nanoTime() - started) / 1_000_000, names.size() - woken.get(), woken.get());
                        return names.size();
                    });
        });
    }

    /** How long recovery waits for a majority's copy of the catalog before it falls back to this node's own. */
    private static final Duration RECOVER_CATALOG_READ = Duration.ofSeconds(5);

    // ---- admin ----

    @Override
    public CompletionStage<AdapterView> register(Caller caller, String name, AdapterSource source, boolean shared) {
        if (name == null || !NAME.matcher(name).matches()) {
            return failed(ServiceError.invalid("name", "adapter name must match " + NAME.pattern() + ", got '"
                    + name + "'"));
        }
        return registerNamed(caller, name, source, shared);
    }

    /**
     * Registers an adapter that an {@link AdapterResolvers adapter resolver} found for a request's model name
     * ({@code ORG/NAME}, the one name form with a '/'), through the same lifecycle as an admin registration:
     * staged, validated, journaled as {@code Registered} by {@code caller.keyName()} ("resolver:PREFIX").
     */
    public CompletionStage<AdapterView> registerResolved(Caller caller, String name, AdapterSource source,
                                                         boolean shared) {
        if (name == null || !AdapterResolvers.NAME.matcher(name).matches()) {
            return failed(ServiceError.invalid("name", "a resolved adapter name must match "
                    + AdapterResolvers.NAME.pattern() + ", got '" + name + "'"));
        }
        return registerNamed(caller, name, source, shared);
    }

    private CompletionStage<AdapterView> registerNamed(Caller caller, String name, AdapterSource source,
                                                       boolean shared) {
        if (name.equals(baseModel)) {
            return failed(conflict("'" + name + "' is the base model's name", "name"));
        }
        Optional<String> outage = journalOutage.get();
        if (outage.isPresent()) {
            return failed(journalDown(outage.get()));
        }
        return state(name).thenCompose(existing -> {
            AdapterState st = existing.state();
            if (st.isRegistered()) {
                if (!existing.visibleTo(caller.tenant()) || !existing.owner().equals(caller.tenant())) {
                    throw conflict("adapter name '" + name + "' is not available; choose another", "name")
                            .exception();
                }
                throw conflict(st.isRetired()
                        ? "adapter '" + name + "' is retired; adapter names are never reused, choose another"
                        : "adapter '" + name + "' already exists; publish a new version with POST /v1/adapters/"
                                + name + "/versions", "name").exception();
            }
            return CompletableFuture.supplyAsync(() -> stageAndStore(name, source), io);
        }).thenCompose(c -> execute(name, new LifecycleRequest.Register(
                shared ? CatalogEntry.SHARED_PREFIX + caller.tenant() : caller.tenant(), baseModel, c.staged.rank(),
                c.staged.targets(), c.digest, c.staged.sizeBytes(), c.describe(source), caller.keyName())))
                .thenApply(e -> {
                    log.info("adapter {} v1 registered by {} ({}, {})", name, caller.keyName(), source.describe(),
                            e.current().digest().shortForm());
                    return view(e, true);
                });
    }

    @Override
    public CompletionStage<AdapterView> publishVersion(Caller caller, String name, AdapterSource source) {
        return publishVersion(caller, name, source, true);
    }

    /** Publishes a version; with {@code activate} false it is added without traffic (staged, for a split). */
    @Override
    public CompletionStage<AdapterView> publishVersion(Caller caller, String name, AdapterSource source,
                                                       boolean activate) {
        return owned(caller, name).thenCompose(e -> {
            if (e.state().isRetired()) {
                throw conflict("adapter '" + name + "' is retired", null).exception();
            }
            if (activate && e.state().split().isPresent()) {
                throw toServiceError(new Rejection.SplitInProgress(name, e.state().split().get().weights()))
                        .exception();
            }
            return CompletableFuture.supplyAsync(() -> stageAndStore(name, source), io);
        }).thenCompose(c -> execute(name, new LifecycleRequest.PublishVersion(c.digest, c.staged.sizeBytes(),
                c.staged.rank(), c.staged.targets(), c.describe(source), caller.keyName(), !activate)))
                .thenApply(e -> view(e, true));
    }

    /**
     * Starts, changes or (one version at 100) ends a traffic split. Returns once the new state is in every
     * reachable node's catalog, so every node routes by it.
     */
    @Override
    public CompletionStage<AdapterView> split(Caller caller, String name, Map<Integer, Integer> weights,
                                              String reason) {
        String why = reason != null ? reason : "requested by " + caller.keyName();
        return owned(caller, name).thenCompose(e -> execute(name,
                new LifecycleRequest.SetSplit(weights, why, caller.keyName()))).thenApply(e -> {
                    log.info("adapter {}: traffic {} by {}", name, e.state().split().map(sp -> "split "
                            + dev.quiver.persistence.state.Split.describe(sp.weights())).orElse("all on v"
                            + e.state().currentVersion()), caller.keyName());
                    return view(e, true);
                });
    }

    @Override
    public CompletionStage<AdapterView> abortSplit(Caller caller, String name, String reason) {
        return owned(caller, name).thenCompose(e -> execute(name, new LifecycleRequest.AbortSplit(
                reason != null ? reason : "aborted by " + caller.keyName(), caller.keyName())))
                .thenApply(e -> view(e, true));
    }

    @Override
    public CompletionStage<AdapterView> setFallback(Caller caller, String name, String fallback) {
        return owned(caller, name).thenCompose(e -> e.state().fallback().equals(fallback)
                ? CompletableFuture.completedFuture(e)
                : execute(name, new LifecycleRequest.SetFallback(fallback, caller.keyName())))
                .thenApply(e -> view(e, true));
    }

    @Override
    public CompletionStage<List<AdapterView>> list(Caller caller) {
        List<WorkerLoad> live = directory.routable();
        return CompletableFuture.completedFuture(catalog.all().stream().filter(e -> e.visibleTo(caller.tenant()))
                .map(e -> view(e, true, live)).sorted(Comparator.comparing(AdapterView::name)).toList());
    }

    @Override
    public CompletionStage<AdapterView> get(Caller caller, String name) {
        return visibleState(caller, name).thenApply(e -> view(e, true));
    }

    /**
     * Rolls back to the version that was current before, or (with {@code toVersion}) repeatedly until
     * {@code toVersion} is current; each step is one journaled RolledBack event. Only versions on the rollback
     * stack (ones that were current before) can be reached.
     */
    @Override
    public CompletionStage<AdapterView> rollback(Caller caller, String name, Integer toVersion) {
        return owned(caller, name).thenCompose(e -> {
            AdapterState st = e.state();
            if (st.isRetired()) {
                throw conflict("adapter '" + name + "' is retired", null).exception();
            }
            if (toVersion != null && (toVersion == st.currentVersion() || !st.rollbackStack().contains(toVersion))) {
                throw ServiceError.invalid("version", "adapter '" + name + "' can roll back only to a version "
                        + "that was current before v" + st.currentVersion() + " (" + st.rollbackStack() + "), got "
                        + toVersion).exception();
            }
            int target = toVersion != null ? toVersion
                    : st.rollbackStack().isEmpty() ? 0 : st.rollbackStack().get(st.rollbackStack().size() - 1);
            return rollbackUntil(caller, name, target);
        }).thenApply(e -> view(e, true));
    }

    private CompletionStage<CatalogEntry> rollbackUntil(Caller caller, String name, int target) {
        return execute(name, new LifecycleRequest.RollBack("requested by " + caller.keyName(), caller.keyName()))
                .thenCompose(e -> target == 0 || e.state().currentVersion() == target
                        ? CompletableFuture.completedFuture(e) : rollbackUntil(caller, name, target));
    }

    /**
     * Asks for {@code replicas} workers to keep the current version pinned (0 unpins it), and waits (up to the
     * ask timeout) until as many live workers as there are, at most {@code replicas}, hold it pinned.
     */
    @Override
    public CompletionStage<AdapterView> preload(Caller caller, String name, int replicas) {
        return owned(caller, name).thenCompose(e -> {
            if (e.state().isRetired()) {
                throw conflict("adapter '" + name + "' is retired", null).exception();
            }
            return execute(name, new LifecycleRequest.SetPreload(replicas, caller.keyName()))
                    .exceptionallyCompose(err -> unchangedPreload(err) ? state(name)
                            : CompletableFuture.failedFuture(err));
        }).thenCompose(e -> awaitPinned(name, replicas, System.nanoTime() + ASK_TIMEOUT.toNanos()))
                .thenApply(e -> view(e, true));
    }

    private CompletionStage<CatalogEntry> awaitPinned(String name, int replicas, long deadline) {
        return state(name).thenCompose(e -> {
            String key = WorkerAgent.adapterKey(name, e.state().currentVersion());
            List<WorkerLoad> live = directory.routable();
            long pinned = live.stream().filter(w -> w.pinned().contains(key)).count();
            long wanted = Math.min(replicas, live.size());
            if ((replicas == 0 && pinned == 0) || (replicas > 0 && pinned >= wanted)) {
                return CompletableFuture.completedFuture(e);
            }
            if (System.nanoTime() > deadline) {
                String why = e.state().lastLoadFailure().map(f -> ": last load failure on " + f.worker() + ": "
                        + f.error()).orElse(": no worker had a slot to pin it in");
                throw conflict("adapter '" + name + "' is pinned on " + pinned + " of the " + wanted
                        + " workers asked for" + why, "replicas").exception();
            }
            return CompletableFuture.supplyAsync(() -> null,
                    CompletableFuture.delayedExecutor(100, TimeUnit.MILLISECONDS, io))
                    .thenCompose(x -> awaitPinned(name, replicas, deadline));
        });
    }

    private static boolean unchangedPreload(Throwable err) {
        Throwable t = err instanceof java.util.concurrent.CompletionException && err.getCause() != null
                ? err.getCause() : err;
        return t instanceof UnchangedPreload;
    }

    @Override
    public CompletionStage<AdapterView> retire(Caller caller, String name) {
        return owned(caller, name).thenCompose(e -> {
            if (e.state().isRetired()) {
                throw notFound(name).exception();
            }
            return execute(name, new LifecycleRequest.Retire("retired through the admin API", caller.keyName()));
        }).thenApply(e -> view(e, true));
    }

    @Override
    public CompletionStage<List<AdapterEvent>> events(Caller caller, String name) {
        return visibleState(caller, name).thenCompose(e -> audit.historyList(name, AUDIT_LIMIT))
                .thenApply(records -> records.stream().map(r -> toEdge(r, r.sequenceNr())).toList());
    }

    /**
     * Every lifecycle event the caller may see written after {@code since}, from the tagged journal. A record's
     * {@code seq} here is the time of its journal offset (a time-based UUID) in 100-ns units since 1582, which is
     * increasing and unique per write, so a client passes the last {@code seq} it saw to continue. (The in-memory
     * journal has no such offsets: its events are numbered by write time in ms, ties in journal order.)
     */
    @Override
    public CompletionStage<List<AdapterEvent>> eventsSince(Caller caller, long since) {
        Instant from = since <= UUID_EPOCH_OFFSET ? Instant.EPOCH
                : Instant.ofEpochMilli((since - UUID_EPOCH_OFFSET) / 10_000);
        return audit.lifecycleEventsList(from, AUDIT_LIMIT).thenApply(records -> {
            List<AdapterEvent> out = new ArrayList<>();
            long previous = 0;
            for (AuditRecord r : records) {
                long seq = offsetSeq(r);
                seq = seq <= previous ? previous + 1 : seq;
                previous = seq;
                Optional<CatalogEntry> e = catalog.get(r.adapter());
                if (seq > since && e.isPresent() && e.get().visibleTo(caller.tenant())) {
                    out.add(toEdge(r, seq));
                }
            }
            return out;
        });
    }

    // ---- internals ----

    /** A staged, validated version whose files are in the blob store and in the local cache. */
    private record Stored(AdapterStore.Staged staged, ContentDigest digest) {
        /** The journal's name for the source: a remote one pinned to the commit it resolved to. */
        String describe(AdapterSource source) {
            return staged.origin() != null ? staged.origin() : source.describe();
        }
    }

    private Stored stageAndStore(String name, AdapterSource source) {
        AdapterStore.Staged staged = store.stage(name, source);
        try {
            ContentDigest digest = files.store(staged.dir());
            files.fetch(digest);
            return new Stored(staged, digest);
        } catch (IOException e) {
            if (cassandraUnreachable(e)) {
                throw blobStoreDown(name, e).exception();
            }
            throw new UncheckedIOException("cannot store adapter '" + name + "' in the blob store", e);
        } catch (RuntimeException e) {
            if (cassandraUnreachable(e)) {
                throw blobStoreDown(name, e).exception();
            }
            throw e;
        } finally {
            store.discard(staged.dir());
        }
    }

    /** Whether {@code e} (or a cause) says that no Cassandra node could be reached or answered in time. */
    private static boolean cassandraUnreachable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof com.datastax.oss.driver.api.core.AllNodesFailedException
                    || t instanceof com.datastax.oss.driver.api.core.DriverTimeoutException) {
                return true;
            }
        }
        return false;
    }

    private static ServiceError blobStoreDown(String name, Throwable e) {
        log.warn("adapter {}: the blob store (Cassandra) is unreachable: {}", name, e.toString());
        return new ServiceError(ServiceError.Kind.UNAVAILABLE, "the blob store and " + AdapterEntity.JOURNAL_DOWN
                + ": adapter '" + name + "' was not changed; retry later", null, JOURNAL_RETRY_AFTER_SECONDS);
    }

    private EntityRef<AdapterEntity.Command> entity(String name) {
        return sharding.entityRefFor(AdapterEntity.ENTITY_KEY, name);
    }

    /** The entity's own state (authoritative), also written to the local catalog. */
    /** How often recovery asks one entity for its state before giving up (each ask up to {@link #ASK_TIMEOUT}). */
    private static final int RECOVER_ATTEMPTS = 4;

    /**
     * {@link #state} for recovery at start. NOTE: an entity answers once its shard is at home, and a node joining
     * a running cluster (a rolling restart) makes the coordinator move shards onto it: a shard in hand-off holds
     * messages, on a busy machine for longer than one ask. So an ask that timed out is made again, a bounded number
     * of times, rather than fail the node's start.
     */
    private CompletionStage<CatalogEntry> recoverState(String name, int attempt) {
        return state(name).exceptionallyCompose(err -> {
            Throwable cause = err instanceof java.util.concurrent.CompletionException && err.getCause() != null
                    ? err.getCause() : err;
            // answered() turns the ask's timeout into a 503 for callers; both mean "not now", so ask again.
            boolean notNow = cause instanceof java.util.concurrent.TimeoutException
                    || cause instanceof dev.quiver.edge.api.ServiceException se
                    && se.error().kind() == ServiceError.Kind.UNAVAILABLE;
            if (attempt >= RECOVER_ATTEMPTS || !notNow) {
                return CompletableFuture.failedStage(err);
            }
            log.warn("adapter {}: its entity did not answer within {} (shard moving?); asking again ({} of {})",
                    name, ASK_TIMEOUT, attempt + 1, RECOVER_ATTEMPTS);
            return recoverState(name, attempt + 1);
        });
    }

    private CompletionStage<CatalogEntry> state(String name) {
        return answered(name, entity(name).<CatalogEntry>ask(AdapterEntity.GetState::new, ASK_TIMEOUT))
                .thenApply(e -> {
            if (e.state().isRegistered()) {
                catalog.put(e);
            }
            return e;
        });
    }

    /**
     * Whether {@code name} has the form of an adapter name: one given at registration, or one a resolver registered
     * ({@code ORG/NAME}, reached through the admin paths with its slash URL-encoded).
     */
    private static boolean nameForm(String name) {
        return name != null && (NAME.matcher(name).matches() || AdapterResolvers.NAME.matcher(name).matches());
    }

    /**
     * For reads: the adapter as this node's catalog holds it (no round trip, and answers while the entity's shard
     * is moving after a node loss); the entity itself only for a name the catalog does not know.
     */
    private CompletionStage<CatalogEntry> visibleState(Caller caller, String name) {
        if (!nameForm(name)) {
            return failed(notFound(name));
        }
        Optional<CatalogEntry> known = catalog.get(name);
        if (known.isPresent()) {
            return known.get().visibleTo(caller.tenant()) ? CompletableFuture.completedFuture(known.get())
                    : failed(notFound(name));
        }
        return state(name).thenApply(e -> {
            if (!e.visibleTo(caller.tenant())) {
                throw notFound(name).exception();
            }
            return e;
        });
    }

    /**
     * For changes: the adapter as its entity holds it (authoritative), if the caller's tenant owns it (a shared
     * adapter of another tenant is not theirs to change).
     */
    private CompletionStage<CatalogEntry> owned(Caller caller, String name) {
        if (!nameForm(name)) {
            return failed(notFound(name));
        }
        Optional<String> outage = journalOutage.get();
        if (outage.isPresent()) {
            return failed(journalDown(outage.get()));
        }
        return state(name).thenApply(e -> {
            if (!e.visibleTo(caller.tenant())) {
                throw notFound(name).exception();
            }
            if (!e.owner().equals(caller.tenant())) {
                throw notFound(name).exception();
            }
            return e;
        });
    }

    /** Sends a request to the adapter's entity; the new state, or the rejection as a {@link ServiceException}. */
    private CompletionStage<CatalogEntry> execute(String name, LifecycleRequest request) {
        return answered(name, entity(name).<AdapterEntity.Outcome>ask(replyTo -> new AdapterEntity.Execute(request,
                replyTo), ASK_TIMEOUT)).thenCompose(o -> {
                    if (o.unavailable() != null) {
                        throw new ServiceError(ServiceError.Kind.UNAVAILABLE, o.unavailable(), null,
                                o.unavailable().startsWith(AdapterEntity.JOURNAL_DOWN) ? JOURNAL_RETRY_AFTER_SECONDS
                                        : 2).exception();
                    }
                    if (o.reply() instanceof LifecycleReply.Accepted) {
                        return catalog.putEverywhere(o.entry(), CATALOG_WRITE_TIMEOUT).thenApply(x -> o.entry());
                    }
                    Rejection r = ((LifecycleReply.Rejected) o.reply()).rejection();
                    if (r instanceof Rejection.PreloadUnchanged) {
                        throw new UnchangedPreload();
                    }
                    throw toServiceError(r).exception();
                });
    }

    /**
     * The entity's answer to {@code ask}; or, as soon as this node's journal probe reports the journal down while
     * it waits, a retriable error naming the journal; an ask that times out is a retriable error that says which
     * adapter's entity did not answer (never the ask's internal message).
     */
    private <T> CompletionStage<T> answered(String name, CompletionStage<T> ask) {
        CompletableFuture<T> out = new CompletableFuture<>();
        ask.whenComplete((value, err) -> {
            if (err == null) {
                out.complete(value);
            } else {
                Throwable cause = err instanceof java.util.concurrent.CompletionException && err.getCause() != null
                        ? err.getCause() : err;
                out.completeExceptionally(cause instanceof java.util.concurrent.TimeoutException
                        ? new ServiceError(ServiceError.Kind.UNAVAILABLE, "adapter '" + name + "': its entity did "
                                + "not answer within " + ASK_TIMEOUT.toSeconds() + " s (its shard may be moving to "
                                + "another node, or the journal (Cassandra) may be unreachable); retry", null,
                                JOURNAL_RETRY_AFTER_SECONDS).exception()
                        : cause);
            }
        });
        watchJournal(out, name, System.nanoTime() + ASK_TIMEOUT.toNanos());
        return out;
    }

    /** Fails {@code waiting} once the journal is reported down; looks every {@link #JOURNAL_WATCH_MS} until done. */
    private void watchJournal(CompletableFuture<?> waiting, String name, long deadline) {
        if (waiting.isDone() || System.nanoTime() > deadline) {
            return;
        }
        Optional<String> outage = journalOutage.get();
        if (outage.isPresent()) {
            waiting.completeExceptionally(new ServiceError(ServiceError.Kind.UNAVAILABLE, AdapterEntity.JOURNAL_DOWN
                    + " (" + outage.get() + "): it went down while adapter '" + name + "' was being read or changed; a "
                    + "change may not have been journaled: check the adapter and retry once it is back", null,
                    JOURNAL_RETRY_AFTER_SECONDS).exception());
            return;
        }
        CompletableFuture.delayedExecutor(JOURNAL_WATCH_MS, TimeUnit.MILLISECONDS)
                .execute(() -> watchJournal(waiting, name, deadline));
    }

    /** A lifecycle write refused up front because the journal is known down. */
    private static ServiceError journalDown(String problem) {
        return new ServiceError(ServiceError.Kind.UNAVAILABLE, AdapterEntity.JOURNAL_DOWN + " (" + problem
                + "): adapter lifecycle changes (register, publish, rollback, retire, preload, split) are refused "
                + "until it is back; registered adapters are still served; retry later", null,
                JOURNAL_RETRY_AFTER_SECONDS);
    }

    /** How long an admin call waits for its change to reach every node's catalog (unreachable ones: by gossip). */
    private static final Duration CATALOG_WRITE_TIMEOUT = Duration.ofSeconds(3);

    /** A preload for the count already set: not an error, the registry then waits for the pins as usual. */
    private static final class UnchangedPreload extends RuntimeException {
        UnchangedPreload() {
            super(null, null, false, false);
        }
    }

    /** The one mapping from a lifecycle rejection to the edge's error kinds. */
    private static ServiceError toServiceError(Rejection r) {
        if (r instanceof Rejection.NotRegistered n) {
            return notFound(n.adapter());
        }
        if (r instanceof Rejection.InvalidRequest i) {
            return ServiceError.invalid(i.field(), i.field() + " " + i.problem());
        }
        return new ServiceError(ServiceError.Kind.CONFLICT, r.message(), null, 0);
    }

    /**
     * The admin view: versions, status, the live workers holding the current version, and (with {@code cache})
     * where it is in each live worker's tiered cache plus the worker's cache counters.
     */
    private AdapterView view(CatalogEntry e, boolean cache) {
        return view(e, cache, directory.routable());
    }

    /** The view over {@code live}, the routable workers (read once for a whole list). */
    private AdapterView view(CatalogEntry e, boolean cache, List<WorkerLoad> live) {
        AdapterState st = e.state();
        List<AdapterView.Version> versions = st.versions().stream().map(v -> new AdapterView.Version(v.version(),
                v.digest().hex(), v.sizeBytes(), v.publishedAt().toEpochMilli(), v.source(), v.rank(),
                v.targetModules())).toList();
        Set<String> liveIds = live.stream().map(WorkerLoad::workerId).collect(Collectors.toSet());
        List<String> residentOn = e.holders().stream().filter(liveIds::contains).sorted().toList();
        Map<String, Object> details = new LinkedHashMap<>();
        if (cache && st.isRegistered()) {
            String key = WorkerAgent.adapterKey(st.name(), st.currentVersion());
            String best = "disk";
            boolean pinned = false;
            for (WorkerLoad w : live.stream().sorted(Comparator.comparing(WorkerLoad::workerId)).toList()) {
                String tier = w.tierOf(key);
                best = tier.equals("slot") || (tier.equals("host") && best.equals("disk")) ? tier : best;
                pinned |= w.pinned().contains(key);
                Map<String, Object> d = new LinkedHashMap<>();
                d.put("tier", tier);
                d.put("pinned", w.pinned().contains(key));
                d.put("slot_hits", w.cache().slotHits());
                d.put("host_hits", w.cache().hostHits());
                d.put("disk_misses", w.cache().diskMisses());
                d.put("slot_evictions", w.cache().slotEvictions());
                d.put("host_evictions", w.cache().hostEvictions());
                d.put("free_slots", w.freeSlots());
                d.put("disk_to_host_ms_p50", w.cache().diskToHostMsP50());
                d.put("host_to_slot_ms_p50", w.cache().hostToSlotMsP50());
                details.put(w.workerId(), d);
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("tier", best);
            out.put("pinned", pinned);
            out.putAll(details);
            details = out;
        }
        Map<String, Object> split = null;
        if (st.split().isPresent()) {
            dev.quiver.persistence.state.Split sp = st.split().get();
            split = new LinkedHashMap<>();
            Map<String, Integer> weights = new LinkedHashMap<>();
            sp.weights().forEach((v, w) -> weights.put(Integer.toString(v), w));
            split.put("versions", weights);
            split.put("baseline_version", sp.baselineVersion());
            split.put("started_at", sp.startedAt().toEpochMilli());
            split.put("started_by", sp.startedBy());
            Map<String, List<String>> arms = new LinkedHashMap<>();
            for (int v : sp.weights().keySet()) {
                String key = WorkerAgent.adapterKey(st.name(), v);
                arms.put(Integer.toString(v), live.stream().filter(w -> w.resident().contains(key))
                        .map(WorkerLoad::workerId).sorted().toList());
            }
            split.put("resident_on", arms);
        }
        return new AdapterView(st.name(), e.owner(), e.shared(), st.isRetired() ? "retired" : "active",
                st.currentVersion(), versions, st.preloadReplicas(), residentOn, details, split, st.fallback());
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
            d.putAll(detail("owner", CatalogEntry.owner(x.tenant()), "shared",
                    x.tenant().startsWith(CatalogEntry.SHARED_PREFIX), "source", x.source(), "sha256",
                    x.digest().hex(), "rank", x.rank()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.VersionPublished x) {
            type = "VersionPublished";
            version = x.version();
            d.putAll(detail("source", x.source(), "sha256", x.digest().hex(), "rank", x.rank(), "activated",
                    !x.staged()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.RolledBack x) {
            type = "RolledBack";
            version = x.toVersion();
            d.putAll(detail("from", x.fromVersion(), "to", x.toVersion(), "reason", x.reason()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.PlacedOn x) {
            type = "PlacedOn";
            version = x.version();
            d.putAll(detail("worker", x.worker(), "node", x.node()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.EvictedFrom x) {
            type = "EvictedFrom";
            version = 0;
            d.putAll(detail("worker", x.worker(), "node", x.node(), "reason", x.reason().wireName()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.LoadFailed x) {
            type = "LoadFailed";
            version = x.version();
            d.putAll(detail("worker", x.worker(), "node", x.node(), "error", x.error()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.PreloadChanged x) {
            type = "PreloadChanged";
            version = 0;
            d.putAll(detail("replicas", x.replicas()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.SplitStarted x) {
            type = "SplitStarted";
            version = x.baselineVersion();
            d.putAll(detail("versions", weights(x.weights()), "baseline_version", x.baselineVersion(), "reason",
                    x.reason()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.SplitChanged x) {
            type = "SplitChanged";
            version = 0;
            d.putAll(detail("versions", weights(x.weights()), "reason", x.reason()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.SplitEnded x) {
            type = "SplitEnded";
            version = x.activeVersion();
            d.putAll(detail("outcome", x.outcome(), "active_version", x.activeVersion(), "reason", x.reason()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.FallbackChanged x) {
            type = "FallbackChanged";
            version = 0;
            d.putAll(detail("fallback", x.fallback()));
        } else if (e instanceof dev.quiver.persistence.events.AdapterEvent.Retired x) {
            type = "Retired";
            version = 0;
            d.putAll(detail("reason", x.reason()));
        } else {
            type = e.getClass().getSimpleName();
            version = 0;
        }
        d.put("journal_seq", r.sequenceNr());
        return new AdapterEvent(seq, e.at().toEpochMilli(), r.adapter(), type, version, e.by(), d);
    }

    private static Map<String, Integer> weights(Map<Integer, Integer> w) {
        Map<String, Integer> out = new LinkedHashMap<>();
        w.forEach((v, p) -> out.put(Integer.toString(v), p));
        return out;
    }

    private static Map<String, Object> detail(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
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
