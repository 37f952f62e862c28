package dev.quiver.edge;

import dev.quiver.edge.api.AdapterAdmin;
import dev.quiver.edge.api.InferenceService;
import dev.quiver.edge.metrics.EdgeMetrics;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.stream.Materializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Binds {@link EdgeRoutes} on the configured host and port and takes part in the actor system's coordinated
 * shutdown: before unbinding, /ready turns 503 and new generations are refused; then the port is unbound (no new
 * connections) and requests in flight, streams included, get up to {@code shutdown-deadline} to finish.
 */
public final class EdgeServer {
    private static final Logger log = LoggerFactory.getLogger(EdgeServer.class);

    private final ServerBinding binding;
    private final EdgeRoutes routes;
    private final EdgeSettings settings;

    private EdgeServer(ServerBinding binding, EdgeRoutes routes, EdgeSettings settings) {
        this.binding = binding;
        this.routes = routes;
        this.settings = settings;
    }

    public static CompletionStage<EdgeServer> start(ActorSystem<?> system, EdgeSettings settings,
                                                    InferenceService service, AdapterAdmin admin) {
        EdgeMetrics.init(system.settings().config());
        EdgeRoutes routes = new EdgeRoutes(settings, service, admin, Materializer.matFromSystem(system));
        CoordinatedShutdown cs = CoordinatedShutdown.get(system);
        cs.addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "quiver-edge-drain", () -> {
            routes.startDraining();
            return CompletableFuture.completedFuture(Done.getInstance());
        });
        CompletableFuture<ServerBinding> bound = new CompletableFuture<>();
        // NOTE: not binding.addToCoordinatedShutdown: its terminate() treats a streamed response as done once its
        // headers are out and closes the connection under it. Instead: unbind (no new connections), wait for the
        // edge's own in-flight count to reach zero (streams included) up to the deadline, then terminate.
        cs.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "quiver-edge-unbind", () ->
                bound.thenCompose(ServerBinding::unbind).thenApply(d -> Done.getInstance()));
        cs.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "quiver-edge-await-in-flight", () ->
                routes.awaitIdle(settings.shutdownDeadline()).thenCompose(idle -> {
                    if (!idle) {
                        log.warn("shutdown deadline {} passed with generations still in flight",
                                settings.shutdownDeadline());
                    }
                    return bound.thenCompose(b -> b.terminate(Duration.ofSeconds(1)));
                }).thenApply(t -> Done.getInstance()));
        return Http.get(system).newServerAt(settings.host(), settings.port()).bind(routes.route())
                .thenApply(b -> {
                    bound.complete(b);
                    log.info("HTTP edge listening on http://{}:{}", b.localAddress().getHostString(),
                            b.localAddress().getPort());
                    return new EdgeServer(b, routes, settings);
                });
    }

    public InetSocketAddress address() {
        return binding.localAddress();
    }

    /** Stops accepting, lets in-flight requests finish up to the deadline, then closes. */
    public CompletionStage<?> stop() {
        routes.startDraining();
        return binding.unbind().thenCompose(d -> routes.awaitIdle(settings.shutdownDeadline()))
                .thenCompose(idle -> binding.terminate(Duration.ofSeconds(1)));
    }

    public Duration shutdownDeadline() {
        return settings.shutdownDeadline();
    }
}
