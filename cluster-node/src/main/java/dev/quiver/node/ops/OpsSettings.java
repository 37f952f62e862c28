package dev.quiver.node.ops;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * How a node forms its cluster and runs its management endpoint ({@code quiver.node.cluster-formation},
 * {@code quiver.node.management}, {@code quiver.node.shutdown}; documented in this module's reference.conf).
 *
 * @param formation        how this node finds the cluster
 * @param management       whether Pekko Management's HTTP server runs ({@code pekko.management.http.*})
 * @param readinessGrace   how long shutdown keeps serving after readiness went false (a balancer's probe period)
 * @param journalProbe     how often the journal is probed for readiness
 */
public record OpsSettings(Formation formation, boolean management, Duration readinessGrace, Duration journalProbe) {

    /** {@code quiver.node.cluster-formation}. */
    public enum Formation {
        /** {@code pekko.cluster.seed-nodes} when configured, else a cluster of this node alone. */
        AUTO,
        /** Pekko Management's Cluster Bootstrap over {@code pekko.management.cluster.bootstrap} discovery. */
        BOOTSTRAP
    }

    public static OpsSettings fromConfig(Config root) {
        Config c = root.getConfig("quiver.node");
        Formation formation = switch (c.getString("cluster-formation")) {
            case "auto" -> Formation.AUTO;
            case "bootstrap" -> Formation.BOOTSTRAP;
            default -> throw new IllegalArgumentException("quiver.node.cluster-formation must be auto or bootstrap, "
                    + "got '" + c.getString("cluster-formation") + "'");
        };
        boolean management = c.getBoolean("management.enabled");
        if (formation == Formation.BOOTSTRAP) {
            if (!management) {
                throw new IllegalArgumentException("quiver.node.cluster-formation = bootstrap needs "
                        + "quiver.node.management.enabled = on (nodes probe each other's management endpoints)");
            }
            if (!root.getStringList("pekko.cluster.seed-nodes").isEmpty()) {
                throw new IllegalArgumentException("quiver.node.cluster-formation = bootstrap and "
                        + "pekko.cluster.seed-nodes are both set: use one way to form the cluster");
            }
        }
        Duration grace = c.getDuration("shutdown.readiness-grace");
        Duration probe = c.getDuration("management.journal-probe-interval");
        if (grace.isNegative() || probe.isNegative() || probe.isZero()) {
            throw new IllegalArgumentException("quiver.node.shutdown.readiness-grace must be >= 0 and "
                    + "quiver.node.management.journal-probe-interval > 0");
        }
        return new OpsSettings(formation, management, grace, probe);
    }
}
