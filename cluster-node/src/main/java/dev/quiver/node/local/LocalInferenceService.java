package dev.quiver.node.local;

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
import dev.quiver.gpu.worker.GpuWorker;
import dev.quiver.node.adapters.AdapterCatalog;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Props;

/**
 * The {@link InferenceService} of a single node: every request goes to the one local {@link GpuWorker}, through a
 * {@link RequestRelay} actor per request; {@code model} is the base model's name or an adapter the caller may use
 * (resolved by the {@link AdapterCatalog} to its active version's key and directory).
 */
public final class LocalInferenceService implements InferenceService {
    private final ModelSpec spec;
    private final LocalWorker worker;
    private final AdapterCatalog registry;

    public LocalInferenceService(ModelSpec spec, LocalWorker worker, AdapterCatalog registry) {
        this.spec = spec;
        this.worker = worker;
        this.registry = registry;
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
        String key = null;
        String dir = null;
        if (!g.model().equals(spec.id())) {
            Optional<AdapterCatalog.Resolved> r = registry.resolve(caller, g.model());
            if (r.isEmpty()) {
                listener.onFailed(OpenAiRequest.unknownModel(g.model()));
                return () -> { };
            }
            key = r.get().key();
            dir = r.get().dir().toString();
        }
        GpuWorker.Generate msg = new GpuWorker.Generate(g.requestId(), key, dir, g.promptIds(), g.params(), null);
        ActorRef<Object> relay = worker.system().systemActorOf(
                RequestRelay.create(msg, worker.ref(), listener), "req-" + g.requestId(), Props.empty());
        return () -> relay.tell(new RequestRelay.CancelRequest());
    }

    /** Ready when the worker is healthy and the registry's storage (Cassandra, when configured) answers. */
    @Override
    public CompletionStage<Readiness> readiness() {
        CompletableFuture<AdapterCatalog.StorageCheck> storage = registry.storageCheck().toCompletableFuture();
        return worker.status().toCompletableFuture().orTimeout(5, java.util.concurrent.TimeUnit.SECONDS)
                .handle((s, err) -> {
                    Map<String, Object> checks = new LinkedHashMap<>();
                    Map<String, Object> w = new LinkedHashMap<>();
                    boolean ok = err == null && s.healthy();
                    w.put("name", worker.name());
                    w.put("ready", ok);
                    if (s != null) {
                        w.put("backend", s.backend());
                        w.put("running", s.running());
                        w.put("waiting", s.waiting());
                        w.put("free_kv_blocks", s.freeKvBlocks());
                        w.put("total_kv_blocks", s.totalKvBlocks());
                        w.put("resident_adapters", s.adapters().resident());
                    } else {
                        w.put("error", String.valueOf(err));
                    }
                    checks.put("workers", List.of(w));
                    checks.put("cluster", "not configured (single node)");
                    return new Readiness(ok, checks);
                }).thenCombine(storage, (r, st) -> {
                    Map<String, Object> checks = new LinkedHashMap<>(r.checks());
                    checks.put("cassandra", st.detail());
                    return new Readiness(r.ready() && st.ok(), checks);
                });
    }
}
