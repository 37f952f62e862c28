package dev.quiver.node.ops;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.management.cluster.bootstrap.ClusterBootstrap;
import org.apache.pekko.management.javadsl.PekkoManagement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts what operators and orchestrators talk to, before the node joins its cluster: Pekko Management's HTTP
 * server ({@code pekko.management.http.hostname/port}: {@code /alive}, {@code /ready} from {@link NodeHealth}, the
 * cluster routes {@code /cluster/members}, {@code /cluster/shards/NAME}, and the bootstrap's contact point route),
 * Cluster Bootstrap when {@code quiver.node.cluster-formation = bootstrap}, and the first step of shutdown:
 * readiness goes false, then the node keeps serving for {@code quiver.node.shutdown.readiness-grace} so that a
 * balancer polling {@code /ready} stops sending before the edge refuses anything.
 */
public final class Management {
    private static final Logger log = LoggerFactory.getLogger(Management.class);
    /** The coordinated-shutdown phase that runs first (reference.conf makes before-service-unbind depend on it). */
    public static final String READINESS_DOWN_PHASE = "quiver-readiness-down";

    private Management() {
    }

    /** Returns the management endpoint's URI, or null when management is off. */
    public static Uri start(ActorSystem<?> system, OpsSettings settings) {
        NodeHealth health = NodeHealth.get(system);
        CoordinatedShutdown.get(system).addTask(READINESS_DOWN_PHASE, "readiness-false", () -> {
            health.draining();
            log.info("shutting down: readiness is false; serving on for {} ms so balancers drain this node",
                    settings.readinessGrace().toMillis());
            CompletableFuture<Done> later = new CompletableFuture<>();
            CompletableFuture.delayedExecutor(settings.readinessGrace().toMillis(), TimeUnit.MILLISECONDS)
                    .execute(() -> later.complete(Done.getInstance()));
            return later;
        });
        if (!settings.management()) {
            return null;
        }
        var config = system.settings().config();
        String where = config.getString("pekko.management.http.hostname") + ":"
                + config.getString("pekko.management.http.port");
        Uri uri;
        try {
            uri = PekkoManagement.get(system.classicSystem()).start().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException("cannot start the management endpoint on " + where
                    + " (pekko.management.http.hostname/port): " + cause.getMessage(), cause);
        }
        log.info("management endpoint on {} (/alive, /ready, /cluster/members)", uri);
        if (settings.formation() == OpsSettings.Formation.BOOTSTRAP) {
            log.info("forming the cluster through Cluster Bootstrap ({} discovery, service '{}', {} contact points "
                            + "required)",
                    config.getString("pekko.management.cluster.bootstrap.contact-point-discovery.discovery-method"),
                    config.getString("pekko.management.cluster.bootstrap.contact-point-discovery.service-name"),
                    config.getInt("pekko.management.cluster.bootstrap.contact-point-discovery"
                            + ".required-contact-point-nr"));
            ClusterBootstrap.get(system.classicSystem()).start();
        }
        return uri;
    }
}
