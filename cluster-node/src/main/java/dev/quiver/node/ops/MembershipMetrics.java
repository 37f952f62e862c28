package dev.quiver.node.ops;

import java.util.EnumMap;
import java.util.Map;
import kamon.Kamon;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * The cluster as this node sees it, for operators' dashboards: {@code quiver_cluster_members{status}} (members by
 * status, unreachable ones counted under {@code unreachable} too), {@code quiver_node_ready} (1 when
 * {@link NodeHealth} says ready) and {@code quiver_node_journal_reachable} (0 while the latest journal probe failed:
 * a node stays ready through an outage of Cassandra, so alert on this one). Updated on the node's metrics tick
 * ({@code quiver.node.metrics-interval}).
 */
public final class MembershipMetrics {
    private enum Status { JOINING, WEAKLY_UP, UP, LEAVING, EXITING, DOWN, REMOVED, UNREACHABLE }

    private MembershipMetrics() {
    }

    public static void update(Cluster cluster, NodeHealth health) {
        Map<Status, Integer> counts = new EnumMap<>(Status.class);
        for (Status s : Status.values()) {
            counts.put(s, 0);
        }
        for (Member m : cluster.state().getMembers()) {
            counts.merge(of(m.status()), 1, Integer::sum);
        }
        counts.put(Status.UNREACHABLE, cluster.state().getUnreachable().size());
        counts.forEach((s, n) -> Kamon.gauge("quiver.cluster.members").withTag("status",
                s.name().toLowerCase(java.util.Locale.ROOT)).update(n));
        Kamon.gauge("quiver.node.ready").withoutTags().update(health.notReadyReason().isEmpty() ? 1 : 0);
        Kamon.gauge("quiver.node.journal.reachable").withoutTags().update(health.journalOutage().isEmpty() ? 1 : 0);
    }

    private static Status of(MemberStatus s) {
        if (s == MemberStatus.up()) {
            return Status.UP;
        } else if (s == MemberStatus.weaklyUp()) {
            return Status.WEAKLY_UP;
        } else if (s == MemberStatus.leaving()) {
            return Status.LEAVING;
        } else if (s == MemberStatus.exiting()) {
            return Status.EXITING;
        } else if (s == MemberStatus.down()) {
            return Status.DOWN;
        } else if (s == MemberStatus.removed()) {
            return Status.REMOVED;
        }
        return Status.JOINING;
    }
}
