package dev.quiver.persistence.cassandra;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.quiver.persistence.PersistenceSettings;
import java.util.List;
import java.util.Map;

/**
 * Points the Cassandra driver (and through it the journal, snapshot store, read journal and blob
 * store, which all share the {@code datastax-java-driver} section) at the right cluster: the
 * configured contact points, or the embedded server, started on demand. The run command layers
 * {@link #driverConfig} over its config before it creates the actor system.
 */
public final class CassandraConnection {

  private CassandraConnection() {}

  /** The contact points to use; starts the embedded server (detached) when none are configured. */
  public static List<String> contactPoints(PersistenceSettings settings) {
    PersistenceSettings.Cassandra cassandra = settings.cassandra();
    if (!cassandra.useEmbedded()) {
      return cassandra.contactPoints();
    }
    return List.of(EmbeddedCassandra.ensureRunning(cassandra.embedded()).toString());
  }

  /** A config overlay that sets the driver's contact points and local data center. */
  public static Config driverConfig(List<String> contactPoints, String localDatacenter) {
    return ConfigFactory.parseMap(
        Map.of(
            "datastax-java-driver.basic.contact-points",
            ConfigValueFactory.fromIterable(contactPoints),
            "datastax-java-driver.basic.load-balancing-policy.local-datacenter",
            localDatacenter));
  }

  /** {@code config} with the driver pointed at Cassandra (embedded started when needed). */
  public static Config connect(Config config) {
    PersistenceSettings settings = PersistenceSettings.fromConfig(config);
    return driverConfig(contactPoints(settings), settings.cassandra().localDatacenter())
        .withFallback(config);
  }
}
