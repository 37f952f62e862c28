package dev.quiver.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.quiver.persistence.cassandra.CassandraConnection;
import dev.quiver.persistence.cassandra.CassandraSchema;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * An external Cassandra cluster: contact points, data center, login, TLS, replication and consistency come from
 * config (or the environment variables reference.conf reads), reach the driver and the journal plugin, and shape
 * the CQL of {@code bin/quiver cassandra schema}.
 */
class ExternalCassandraSettingsTest {

  static PersistenceSettings settings(String hocon) {
    return PersistenceSettings.fromConfig(config(hocon));
  }

  static Config config(String hocon) {
    return ConfigFactory.parseString(hocon).withFallback(ConfigFactory.defaultReference()).resolve();
  }

  static final String PRODUCTION = """
      quiver.home = "/opt/quiver"
      quiver.persistence.cassandra {
        contact-points = "10.0.0.5:9042, 10.0.0.6:9042"
        local-datacenter = "eu-west"
        username = "quiver"
        password = "s3cret"
        tls { enabled = on, truststore = "certs/trust.p12", truststore-password = "tp",
              keystore = "/etc/quiver/client.p12", keystore-password = "kp", hostname-validation = off }
        replication { strategy = NetworkTopologyStrategy, data-centers = "eu-west:3, us-east:2" }
        consistency { journal = LOCAL_QUORUM, snapshot = LOCAL_ONE }
      }
      """;

  @Test
  void defaults_have_no_login_no_tls_one_replica_and_the_plugins_consistency() {
    PersistenceSettings.Cassandra c = settings("").cassandra();
    assertTrue(c.credentials().isEmpty());
    assertFalse(c.tls().enabled());
    assertEquals(PersistenceSettings.Replication.SINGLE, c.replication());
    assertEquals("QUORUM", c.consistency().journal());
    assertEquals("ONE", c.consistency().snapshot());
    assertEquals("'class': 'SimpleStrategy', 'replication_factor': 1", settings("").blob().replication());
  }

  @Test
  void reads_a_production_cluster_from_config_with_contact_points_as_one_comma_separated_string() {
    PersistenceSettings s = settings(PRODUCTION);
    PersistenceSettings.Cassandra c = s.cassandra();
    assertEquals(List.of("10.0.0.5:9042", "10.0.0.6:9042"), c.contactPoints());
    assertEquals("eu-west", c.localDatacenter());
    assertEquals("quiver", c.credentials().orElseThrow().username());
    assertFalse(c.credentials().orElseThrow().toString().contains("s3cret"), "the password is not printed");
    assertEquals(Path.of("/opt/quiver/certs/trust.p12"), c.tls().truststore().orElseThrow());
    assertEquals(Path.of("/etc/quiver/client.p12"), c.tls().keystore().orElseThrow());
    assertEquals(Map.of("eu-west", 3, "us-east", 2), c.replication().dataCenters());
    assertEquals("'class': 'NetworkTopologyStrategy', 'eu-west': 3, 'us-east': 2", s.blob().replication(),
        "the blob keyspace follows the cluster's replication");
  }

  @Test
  void the_driver_and_the_journal_plugin_get_login_tls_replication_and_consistency() {
    PersistenceSettings s = settings(PRODUCTION);
    Config d = CassandraConnection.driverConfig(s.cassandra(), s.cassandra().contactPoints())
        .withFallback(config(PRODUCTION)).resolve();
    assertEquals(List.of("10.0.0.5:9042", "10.0.0.6:9042"),
        d.getStringList("datastax-java-driver.basic.contact-points"));
    assertEquals("eu-west", d.getString("datastax-java-driver.basic.load-balancing-policy.local-datacenter"));
    assertEquals("PlainTextAuthProvider", d.getString("datastax-java-driver.advanced.auth-provider.class"));
    assertEquals("quiver", d.getString("datastax-java-driver.advanced.auth-provider.username"));
    assertEquals("s3cret", d.getString("datastax-java-driver.advanced.auth-provider.password"));
    assertEquals("DefaultSslEngineFactory", d.getString("datastax-java-driver.advanced.ssl-engine-factory.class"));
    assertEquals("/opt/quiver/certs/trust.p12",
        d.getString("datastax-java-driver.advanced.ssl-engine-factory.truststore-path"));
    assertEquals("/etc/quiver/client.p12",
        d.getString("datastax-java-driver.advanced.ssl-engine-factory.keystore-path"));
    assertFalse(d.getBoolean("datastax-java-driver.advanced.ssl-engine-factory.hostname-validation"));
    for (String store : List.of("journal", "snapshot")) {
      assertEquals("NetworkTopologyStrategy",
          d.getString("pekko.persistence.cassandra." + store + ".replication-strategy"));
      assertEquals(List.of("eu-west:3", "us-east:2"),
          d.getStringList("pekko.persistence.cassandra." + store + ".data-center-replication-factors"));
    }
    assertEquals("LOCAL_QUORUM", d.getString(
        "datastax-java-driver.profiles.pekko-persistence-cassandra-profile.basic.request.consistency"));
    assertEquals("LOCAL_ONE", d.getString(
        "datastax-java-driver.profiles.pekko-persistence-cassandra-snapshot-profile.basic.request.consistency"));
  }

  @Test
  void without_a_login_or_tls_the_driver_gets_neither() {
    PersistenceSettings s = settings("quiver.persistence.cassandra.contact-points = [\"h:9042\"]");
    Config d = CassandraConnection.driverConfig(s.cassandra(), s.cassandra().contactPoints());
    assertFalse(d.hasPath("datastax-java-driver.advanced.auth-provider"));
    assertFalse(d.hasPath("datastax-java-driver.advanced.ssl-engine-factory"));
  }

  @Test
  void refuses_network_topology_without_data_centers_naming_the_key() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> settings(
        "quiver.persistence.cassandra.replication.strategy = NetworkTopologyStrategy"));
    assertTrue(e.getMessage().contains("quiver.persistence.cassandra.replication.data-centers"), e.getMessage());
  }

  @Test
  void refuses_a_malformed_data_center_factor_naming_it() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> settings("""
        quiver.persistence.cassandra.replication { strategy = NetworkTopologyStrategy, data-centers = "dc1=3" }
        """));
    assertTrue(e.getMessage().contains("'dc1=3'"), e.getMessage());
  }

  @Test
  void refuses_an_unknown_consistency_level_naming_the_key() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> settings(
        "quiver.persistence.cassandra.consistency.journal = MOSTLY"));
    assertTrue(e.getMessage().contains("quiver.persistence.cassandra.consistency.journal"), e.getMessage());
  }

  @Test
  void the_schema_command_prints_the_configured_keyspaces_and_replication() throws Exception {
    String template;
    try (InputStream in = CassandraSchema.class.getResourceAsStream("/schema.cql")) {
      template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertEquals(template, CassandraSchema.render(template, settings("")), "defaults: the file as shipped");
    String cql = CassandraSchema.render(template, settings(PRODUCTION + """
        pekko.persistence.cassandra.journal.keyspace = prod_journal
        quiver.persistence.blob.keyspace = prod_blobs
        """));
    assertTrue(cql.contains("CREATE KEYSPACE IF NOT EXISTS prod_journal\n  WITH replication = {'class': "
        + "'NetworkTopologyStrategy', 'eu-west': 3, 'us-east': 2};"), cql);
    assertTrue(cql.contains("CREATE TABLE IF NOT EXISTS prod_blobs.adapter_chunks"), cql);
    assertTrue(cql.contains("CREATE KEYSPACE IF NOT EXISTS quiver_snapshot"), "unchanged names stay");
    assertFalse(cql.contains("'datacenter1': 3"), cql);
  }
}
