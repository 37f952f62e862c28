package dev.quiver.multijvm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.AbstractExtensionId;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.AddressFromURIString;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.Extension;
import org.apache.pekko.remote.RARP;
import org.apache.pekko.remote.transport.ThrottlerTransportAdapter;

/**
 * A network partition between node JVMs, made inside each node by Pekko Artery's test transport: a node started
 * with {@code pekko.remote.artery.advanced.test-mode = on} and this class in {@code pekko.extensions} reads the file
 * {@value #FILE} in its working directory every {@value #POLL_MS} ms; each line is the cluster address of a peer
 * ({@code pekko://quiver@127.0.0.1:25520}) that this node neither sends to nor receives from (Artery's blackhole
 * in both directions). A peer whose line is removed is reachable again. {@link LocalCluster#partition} writes the
 * files of both sides, {@link LocalCluster#heal} empties them.
 *
 * <p>Test and benchmark harness only: a production node never loads it (test-mode off, no extension).
 */
public final class Blackholes extends AbstractExtensionId<Blackholes.Running> {
    /** The file a node reads its blackholed peers from (relative to its working directory). */
    public static final String FILE = "blackholes.txt";
    static final long POLL_MS = 100;

    /** The extension's instance in a node: it only runs the poll. */
    public static final class Running implements Extension {
        private Running() {
        }
    }

    @Override
    public Running createExtension(ExtendedActorSystem system) {
        Path file = Path.of(FILE).toAbsolutePath();
        Set<Address> applied = new HashSet<>();
        system.scheduler().scheduleWithFixedDelay(Duration.ofMillis(POLL_MS), Duration.ofMillis(POLL_MS), () -> {
            Set<Address> wanted = read(file);
            for (Address a : wanted) {
                if (applied.add(a)) {
                    command(system, a, ThrottlerTransportAdapter.blackholeThrottleMode());
                    system.log().warning("test partition: blackholing {}", a);
                }
            }
            for (Address a : Set.copyOf(applied)) {
                if (!wanted.contains(a)) {
                    applied.remove(a);
                    command(system, a, ThrottlerTransportAdapter.unthrottledThrottleMode());
                    system.log().warning("test partition: {} passes again", a);
                }
            }
        }, system.dispatcher());
        return new Running();
    }

    private static void command(ExtendedActorSystem system, Address peer,
                                ThrottlerTransportAdapter.ThrottleMode mode) {
        ((RARP) RARP.get(system)).provider().transport().managementCommand(
                new ThrottlerTransportAdapter.SetThrottle(peer, ThrottlerTransportAdapter.bothDirection(), mode));
    }

    private static Set<Address> read(Path file) {
        if (!Files.isRegularFile(file)) {
            return Set.of();
        }
        try {
            List<String> lines = Files.readAllLines(file);
            Set<Address> out = new HashSet<>();
            for (String line : lines) {
                if (!line.isBlank()) {
                    out.add(AddressFromURIString.parse(line.strip()));
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
