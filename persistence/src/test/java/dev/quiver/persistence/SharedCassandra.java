package dev.quiver.persistence;

import com.datastax.oss.driver.api.core.CqlSession;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.quiver.persistence.cassandra.CassandraEndpoint;
import dev.quiver.persistence.cassandra.EmbeddedCassandra;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 extension: one real Cassandra for the whole test JVM, started by
 * {@link EmbeddedCassandra} on free loopback ports under {@code target/it-cassandra/}, stopped
 * when the test run ends (root store resource) or, failing that, by the launcher's shutdown hook
 * and the child's parent-pid watch. Each test class gets fresh keyspaces from {@link #config}.
 */
public final class SharedCassandra implements BeforeAllCallback {

  private static EmbeddedCassandra server;

  @Override
  public void beforeAll(ExtensionContext context) {
    start();
    context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL)
        .getOrComputeIfAbsent(SharedCassandra.class, k -> new Stopper(),
            Stopper.class);
  }

  private static final class Stopper implements ExtensionContext.Store.CloseableResource {
    @Override
    public void close() {
      stop();
    }
  }

  public static synchronized EmbeddedCassandra start() {
    if (server == null) {
      Path dataDir = Path.of("target", "it-cassandra", "shared").toAbsolutePath();
      deleteTree(dataDir);
      PersistenceSettings.Embedded settings = PersistenceSettings.fromConfig(
          ConfigFactory.defaultReference()).cassandra().embedded()
          .at(dataDir, freePort(), freePort());
      server = EmbeddedCassandra.start(settings, EmbeddedCassandra.Mode.ATTACHED);
    }
    return server;
  }

  static synchronized void stop() {
    if (server != null) {
      server.close();
      server = null;
    }
  }

  public static CassandraEndpoint endpoint() {
    return start().endpoint();
  }

  /** A driver session to the shared server, for tests that reach into tables directly. */
  public static CqlSession session() {
    CassandraEndpoint e = endpoint();
    return CqlSession.builder()
        .addContactPoint(new InetSocketAddress(e.host(), e.port()))
        .withLocalDatacenter("datacenter1")
        .build();
  }

  /**
   * Config for one test class: the driver at the shared server, and keyspaces of its own
   * ({@code <prefix>_journal}, {@code _snapshot}, {@code _blobs}); tagged events visible within
   * about 200 ms, the first tag bucket yesterday.
   */
  public static Config config(String prefix) {
    String p = prefix.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
    String firstBucket = LocalDateTime.now(ZoneOffset.UTC).minusDays(1)
        .format(DateTimeFormatter.ofPattern("yyyyMMdd'T'HH:00"));
    return ConfigFactory.parseMap(Map.of(
            "datastax-java-driver.basic.contact-points",
            java.util.List.of(endpoint().toString()),
            "pekko.persistence.cassandra.journal.keyspace", p + "_journal",
            "pekko.persistence.cassandra.snapshot.keyspace", p + "_snapshot",
            "quiver.persistence.blob.keyspace", p + "_blobs",
            "pekko.persistence.cassandra.events-by-tag.first-time-bucket", firstBucket))
        .withFallback(ConfigFactory.parseString("""
            pekko.loglevel = WARNING
            pekko.persistence.cassandra.events-by-tag.eventual-consistency-delay = 200ms
            pekko.persistence.cassandra.query.refresh-interval = 200ms
            pekko.persistence.cassandra.events-by-tag.back-track.interval = 200ms
            datastax-java-driver.basic.request.timeout = 20s
            datastax-java-driver.advanced.connection.init-query-timeout = 10s
            datastax-java-driver.advanced.control-connection.schema-agreement.timeout = 30s
            datastax-java-driver.profiles.pekko-persistence-cassandra-profile.basic.request.timeout = 20s
            """))
        .withFallback(ConfigFactory.load());
  }

  public static int freePort() {
    return LocalResources.freePort();
  }

  public static void deleteTree(Path dir) {
    LocalResources.deleteTree(dir);
  }
}
