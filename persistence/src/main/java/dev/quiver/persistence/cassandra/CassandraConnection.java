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

  /**
   * A config overlay with everything Quiver sets for the driver and the Pekko plugin from
   * {@code quiver.persistence.cassandra}: contact points and local data center, the
   * PasswordAuthenticator login, client TLS, the replication of the journal and snapshot
   * keyspaces the plugin creates, and the journal's and snapshot store's consistency levels.
   */
  public static Config driverConfig(PersistenceSettings.Cassandra cassandra,
      List<String> contactPoints) {
    Map<String, Object> m = new java.util.LinkedHashMap<>();
    m.put("datastax-java-driver.basic.contact-points", contactPoints);
    m.put("datastax-java-driver.basic.load-balancing-policy.local-datacenter",
        cassandra.localDatacenter());
    cassandra.credentials().ifPresent(c -> {
      m.put("datastax-java-driver.advanced.auth-provider.class", "PlainTextAuthProvider");
      m.put("datastax-java-driver.advanced.auth-provider.username", c.username());
      m.put("datastax-java-driver.advanced.auth-provider.password", c.password());
    });
    PersistenceSettings.Tls tls = cassandra.tls();
    if (tls.enabled()) {
      String ssl = "datastax-java-driver.advanced.ssl-engine-factory.";
      m.put(ssl + "class", "DefaultSslEngineFactory");
      m.put(ssl + "hostname-validation", tls.hostnameValidation());
      tls.truststore().ifPresent(t -> {
        m.put(ssl + "truststore-path", t.toString());
        m.put(ssl + "truststore-password", tls.truststorePassword());
      });
      tls.keystore().ifPresent(k -> {
        m.put(ssl + "keystore-path", k.toString());
        m.put(ssl + "keystore-password", tls.keystorePassword());
      });
    }
    PersistenceSettings.Replication r = cassandra.replication();
    for (String store : List.of("journal", "snapshot")) {
      String p = "pekko.persistence.cassandra." + store + ".";
      m.put(p + "replication-strategy", r.strategy());
      m.put(p + "replication-factor", r.replicationFactor());
      m.put(p + "data-center-replication-factors", r.dataCenters().entrySet().stream()
          .map(e -> e.getKey() + ":" + e.getValue()).toList());
    }
    m.put("datastax-java-driver.profiles.pekko-persistence-cassandra-profile.basic.request"
        + ".consistency", cassandra.consistency().journal());
    m.put("datastax-java-driver.profiles.pekko-persistence-cassandra-snapshot-profile.basic"
        + ".request.consistency", cassandra.consistency().snapshot());
    return ConfigFactory.parseMap(m);
  }

  /** {@code config} with the driver pointed at Cassandra (embedded started when needed). */
  public static Config connect(Config config) {
    PersistenceSettings settings = PersistenceSettings.fromConfig(config);
    return driverConfig(settings.cassandra(), contactPoints(settings)).withFallback(config);
  }
}
