package dev.quiver.persistence.blob;

import com.datastax.oss.driver.api.core.CqlSession;
import com.typesafe.config.ConfigFactory;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.cassandra.CassandraEndpoint;
import dev.quiver.persistence.cassandra.EmbeddedCassandra;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Measures blob store put and get throughput for an adapter-sized blob (default 84 MB, an 8B
 * model's rank-16 LoRA over all projections in BF16). Starts its own embedded Cassandra in a
 * temporary directory on free ports unless {@code --contact-point host:port} is given.
 *
 * <pre>
 *   java -cp "persistence/target/quiver-persistence-*.jar:persistence/target/lib/*" \
 *     dev.quiver.persistence.blob.BlobBenchmark [--size-mb 84] [--rounds 3] [--contact-point h:p]
 * </pre>
 *
 * Not a test: numbers go into docs/PERSISTENCE.md by hand, with the machine they came from.
 */
public final class BlobBenchmark {

  private BlobBenchmark() {}

  public static void main(String[] args) throws IOException {
    ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(
        org.slf4j.Logger.ROOT_LOGGER_NAME)).setLevel(ch.qos.logback.classic.Level.WARN);
    int sizeMb = 84;
    int rounds = 3;
    String contactPoint = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--size-mb" -> sizeMb = Integer.parseInt(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--contact-point" -> contactPoint = args[++i];
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    PersistenceSettings settings = PersistenceSettings.fromConfig(ConfigFactory.load());
    Path work = Files.createTempDirectory("quiver-blob-bench");
    EmbeddedCassandra server = null;
    try {
      CassandraEndpoint endpoint;
      if (contactPoint == null) {
        server = EmbeddedCassandra.start(settings.cassandra().embedded()
            .at(work.resolve("cassandra"), freePort(), freePort()),
            EmbeddedCassandra.Mode.ATTACHED);
        endpoint = server.endpoint();
      } else {
        endpoint = CassandraEndpoint.parse(contactPoint);
      }
      try (CqlSession session = CqlSession.builder()
          .addContactPoint(new InetSocketAddress(endpoint.host(), endpoint.port()))
          .withLocalDatacenter(settings.cassandra().localDatacenter())
          .build()) {
        AdapterBlobStore store = AdapterBlobStore.create(session, settings.blob());
        run(store, work, sizeMb, rounds, settings.blob());
      }
    } finally {
      if (server != null) {
        server.close();
      }
      deleteTree(work);
    }
  }

  private static void run(AdapterBlobStore store, Path work, int sizeMb, int rounds,
      PersistenceSettings.Blob blob) throws IOException {
    long size = sizeMb * 1_000_000L;
    System.out.printf("blob %d MB, chunk %d KiB, write-parallelism %d, read-ahead %d, %d rounds"
        + " (round 1 is warm-up)%n", sizeMb, blob.chunkSizeBytes() / 1024,
        blob.writeParallelism(), blob.readAhead(), rounds);
    Random random = new Random(42);
    for (int round = 1; round <= rounds; round++) {
      Path source = work.resolve("adapter-" + round + ".bin");
      writeRandom(source, size, random);
      long t0 = System.nanoTime();
      ContentDigest digest = store.put(source);
      long t1 = System.nanoTime();
      Path copy = work.resolve("copy-" + round + ".bin");
      store.get(digest, copy);
      long t2 = System.nanoTime();
      store.get(digest, OutputStream.nullOutputStream());
      long t3 = System.nanoTime();
      System.out.printf("round %d: put %.1f MB/s (%.2f s), get to file %.1f MB/s (%.2f s),"
              + " get to null %.1f MB/s (%.2f s), heap used %d MiB%n", round,
          mbps(size, t1 - t0), (t1 - t0) / 1e9, mbps(size, t2 - t1), (t2 - t1) / 1e9,
          mbps(size, t3 - t2), (t3 - t2) / 1e9,
          (Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory()) >> 20);
      Files.delete(source);
      Files.delete(copy);
    }
  }

  private static double mbps(long bytes, long nanos) {
    return bytes / 1e6 / (nanos / 1e9);
  }

  private static void writeRandom(Path file, long size, Random random) throws IOException {
    byte[] buffer = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(file)) {
      long left = size;
      while (left > 0) {
        random.nextBytes(buffer);
        int n = (int) Math.min(buffer.length, left);
        out.write(buffer, 0, n);
        left -= n;
      }
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
