package dev.quiver.node.serving;

import dev.quiver.edge.api.AdapterView;
import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.Generation;
import dev.quiver.edge.api.GenerationHandle;
import dev.quiver.edge.api.GenerationListener;
import dev.quiver.edge.api.InferenceService;
import dev.quiver.edge.api.ModelEntry;
import dev.quiver.edge.api.ModelSpec;
import dev.quiver.edge.api.Readiness;
import dev.quiver.edge.openai.OpenAiRequest;
import dev.quiver.node.adapters.AdapterRegistry;
import dev.quiver.node.adapters.AdapterResolvers;
import dev.quiver.node.catalog.CatalogEntry;
import dev.quiver.node.directory.WorkerDirectory;
import dev.quiver.node.ops.NodeHealth;
import dev.quiver.node.worker.WorkerLoad;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * The edge's {@link InferenceService} over the cluster: {@code model} is the base model's name or an adapter the
 * caller may use (checked against the local catalog, so an unknown or foreign name costs no round trip); each
 * request gets a {@link RequestRelay} on this node, which finds a worker anywhere in the cluster and survives the
 * loss of that worker.
 */
public final class ClusterInferenceService implements InferenceService {
    private final ActorSystem<?> system;
    private final ModelSpec spec;
    private final AdapterRegistry registry;
    private final WorkerDirectory directory;
    private final RequestRelay.Setup relays;
    /** Null when none are configured. */
    private final AdapterResolvers resolvers;

    public ClusterInferenceService(ActorSystem<?> system, ModelSpec spec, AdapterRegistry registry,
                                   WorkerDirectory directory, RequestRelay.Setup relays) {
        this(system, spec, registry, directory, relays, null);
    }

    /** With adapter resolvers: an unknown model name under a resolver is registered on its first request. */
    public ClusterInferenceService(ActorSystem<?> system, ModelSpec spec, AdapterRegistry registry,
                                   WorkerDirectory directory, RequestRelay.Setup relays, AdapterResolvers resolvers) {
        this.system = system;
        this.spec = spec;
        this.registry = registry;
        this.directory = directory;
        this.relays = relays;
        this.resolvers = resolvers;
    }

    @Override
    public ModelSpec baseModel() {
        return spec;
    }

    @Override
    public List<ModelEntry> models(Caller caller) {
        List<ModelEntry> out = new ArrayList<>();
        out.add(new ModelEntry(spec.id(), spec.created(), spec.ownedBy(), spec.id(), null));
        for (AdapterView a : registry.visible(caller)) {
            long created = a.versions().isEmpty() ? spec.created() : a.versions().get(0).createdAt() / 1000;
            out.add(new ModelEntry(a.name(), created, a.owner(), spec.id(), spec.id()));
        }
        return out;
    }

    @Override
    public GenerationHandle generate(Caller caller, Generation g, GenerationListener listener) {
        boolean base = g.model().equals(spec.id());
        if (base || registry.usable(caller, g.model()).isPresent()) {
            return start(g, base, listener);
        }
        // Not in this node's catalog view: an adapter registered a moment ago may be in the replica already; else an
        // adapter resolver may register it now (the same 404 as any unknown model when none does).
        CompletableFuture<GenerationHandle> started = new CompletableFuture<>();
        registry.usableFresh(caller, g.model()).thenCompose(entry -> entry.isPresent() || resolvers == null
                ? CompletableFuture.completedFuture(entry)
                : resolvers.resolve(caller, g.model()).thenCompose(ok -> ok ? registry.usableFresh(caller, g.model())
                        : CompletableFuture.completedFuture(Optional.<CatalogEntry>empty())))
                .whenComplete((entry, err) -> {
                    if (entry != null && entry.isPresent()) {
                        started.complete(start(g, false, listener));
                    } else {
                        listener.onFailed(OpenAiRequest.unknownModel(g.model()));
                        started.complete(() -> { });
                    }
                });
        return () -> started.thenAccept(GenerationHandle::cancel);
    }

    private GenerationHandle start(Generation g, boolean base, GenerationListener listener) {
        ActorRef<Object> relay = system.systemActorOf(RequestRelay.create(g, base, listener, relays),
                "req-" + g.requestId(), Props.empty());
        return () -> relay.tell(new RequestRelay.CancelRequest());
    }

    /**
     * Ready when this node is Up in the cluster, at least one worker in the cluster is routable, and the
     * registry's storage (Cassandra, when configured) answers or has answered since the node started: serving does
     * not touch the journal, so an outage after start makes the node degraded, not unready (lifecycle writes answer
     * 503 meanwhile). The checks list every worker this node knows.
     */
    @Override
    public CompletionStage<Readiness> readiness() {
        return registry.storageCheck().thenApply(storage -> {
            Map<String, Object> checks = new LinkedHashMap<>();
            List<WorkerLoad> routable = directory.routable();
            List<Map<String, Object>> workers = new ArrayList<>();
            for (WorkerLoad w : directory.loads().values().stream()
                    .sorted(Comparator.comparing(WorkerLoad::workerId)).toList()) {
                Map<String, Object> d = new LinkedHashMap<>();
                d.put("name", w.workerId());
                d.put("ready", routable.stream().anyMatch(r -> r.workerId().equals(w.workerId())));
                d.put("healthy", w.healthy());
                d.put("draining", w.draining());
                d.put("running", w.running());
                d.put("waiting", w.waiting());
                d.put("free_slots", w.freeSlots());
                d.put("kv_usage", w.kvUsage());
                d.put("resident_adapters", w.resident());
                workers.add(d);
            }
            checks.put("workers", workers);
            Cluster cluster = Cluster.get(system);
            boolean up = cluster.selfMember().status() == MemberStatus.up();
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("self", cluster.selfMember().address().toString());
            c.put("status", cluster.selfMember().status().toString());
            List<String> members = new ArrayList<>();
            cluster.state().getMembers().forEach(m -> members.add(m.address() + " " + m.status()));
            c.put("members", members);
            c.put("unreachable", cluster.state().getUnreachable().stream().map(m -> m.address().toString())
                    .toList());
            checks.put("cluster", c);
            checks.put("cassandra", storage.detail());
            boolean journal = storage.ok() || NodeHealth.get(system).journalAnsweredSinceStart();
            List<String> degraded = storage.ok() ? List.of()
                    : List.of("cassandra: the journal is unreachable; serving goes on, lifecycle writes answer 503");
            return new Readiness(up && !routable.isEmpty() && journal, checks, degraded);
        });
    }
}
