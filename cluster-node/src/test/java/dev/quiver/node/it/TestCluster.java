package dev.quiver.node.it;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.quiver.edge.api.AdapterEvent;
import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.Role;
import dev.quiver.node.Client;
import dev.quiver.node.QuiverNode;
import dev.quiver.node.TestNodes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Several Quiver nodes in this JVM, each its own ActorSystem on a free loopback port, forming one Pekko cluster
 * over the shared test Cassandra (keyspaces of the test class's own). Node 1 is the seed. Each node has a worker
 * over the tiny demo model and an HTTP edge on a free port.
 */
public final class TestCluster implements AutoCloseable {
    /** The tenant of TestNodes.ADMIN_A. */
    public static final Caller ADMIN = new Caller("a", Role.ADMIN, "admin-a");

    private final List<QuiverNode> nodes = new ArrayList<>();
    private final List<Client> clients = new ArrayList<>();

    /** Starts {@code size} nodes ({@code n1}..); {@code extra} is HOCON every node gets. */
    public TestCluster(String keyspacePrefix, int size, String extra) {
        int seedPort = SharedCassandra.freePort();
        try {
            for (int i = 1; i <= size; i++) {
                int port = i == 1 ? seedPort : SharedCassandra.freePort();
                Config config = SharedCassandra.overlay(keyspacePrefix)
                        .withFallback(ConfigFactory.parseString("quiver.node.persistence = cassandra\n"
                                + "quiver.node.node-id = n" + i + "\n"
                                + "pekko.remote.artery.canonical.port = " + port + "\n"
                                + "pekko.cluster.seed-nodes = [\"pekko://quiver@127.0.0.1:" + seedPort + "\"]\n"))
                        .withFallback(TestNodes.config(extra)).resolve();
                QuiverNode node = QuiverNode.start(config);
                nodes.add(node);
                clients.add(new Client(node.baseUrl()));
            }
            await(Duration.ofSeconds(60), () -> nodes.stream().allMatch(n -> n.directory().routable().size() == size),
                    "every node sees " + size + " routable workers");
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** Node {@code i}, counting from 1. */
    public QuiverNode node(int i) {
        return nodes.get(i - 1);
    }

    public Client client(int i) {
        return clients.get(i - 1);
    }

    public List<QuiverNode> nodes() {
        return nodes;
    }

    /** Stops node {@code i} gracefully (it leaves the cluster); the others go on. */
    public void stop(int i) {
        QuiverNode n = nodes.get(i - 1);
        if (n != null) {
            n.stop();
            nodes.set(i - 1, null);
        }
    }

    /** The adapter's audit trail, read through node {@code via}. */
    public List<AdapterEvent> events(int via, String adapter) {
        return node(via).registry().events(ADMIN, adapter).toCompletableFuture().join();
    }

    /** Polls {@code condition} every 50 ms until it holds, or fails naming {@code what}. */
    public static void await(Duration timeout, BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting until " + what);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting until " + what);
            }
        }
    }

    @Override
    public void close() {
        for (int i = nodes.size() - 1; i >= 0; i--) {
            if (nodes.get(i) != null) {
                nodes.get(i).stop();
            }
        }
        nodes.clear();
    }
}
