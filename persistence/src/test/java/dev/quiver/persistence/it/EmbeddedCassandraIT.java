package dev.quiver.persistence.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.datastax.oss.driver.api.core.CqlSession;
import com.typesafe.config.ConfigFactory;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.SharedCassandra;
import dev.quiver.persistence.cassandra.CassandraStartException;
import dev.quiver.persistence.cassandra.CqlProbe;
import dev.quiver.persistence.cassandra.EmbeddedCassandra;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The launcher against real Cassandra servers of its own (beside the shared one). */
@ExtendWith(SharedCassandra.class)
class EmbeddedCassandraIT {

  private static PersistenceSettings.Embedded ownServer(String name) {
    Path dataDir = Path.of("target", "it-cassandra", name).toAbsolutePath();
    SharedCassandra.deleteTree(dataDir);
    return PersistenceSettings.fromConfig(ConfigFactory.defaultReference()).cassandra()
        .embedded().at(dataDir, SharedCassandra.freePort(), SharedCassandra.freePort());
  }

  private static CqlSession connect(EmbeddedCassandra server) {
    return CqlSession.builder()
        .addContactPoint(new InetSocketAddress(server.endpoint().host(),
            server.endpoint().port()))
        .withLocalDatacenter("datacenter1")
        .build();
  }

  @Test
  void starts_answers_cql_restarts_on_the_same_data_keeping_it_and_stops() {
    PersistenceSettings.Embedded settings = ownServer("lifecycle");
    try (EmbeddedCassandra server = EmbeddedCassandra.start(settings,
        EmbeddedCassandra.Mode.ATTACHED)) {
      assertEquals(EmbeddedCassandra.Status.State.UP,
          EmbeddedCassandra.status(settings).state());
      try (CqlSession session = connect(server)) {
        assertTrue(session.execute("SELECT release_version FROM system.local").one()
            .getString(0).startsWith("5.0"));
        session.execute("CREATE KEYSPACE kept WITH replication ="
            + " {'class': 'SimpleStrategy', 'replication_factor': 1}");
        session.execute("CREATE TABLE kept.notes (id int PRIMARY KEY, text text)");
        session.execute("INSERT INTO kept.notes (id, text) VALUES (1, 'survives a restart')");
      }
    }
    assertEquals(EmbeddedCassandra.Status.State.DOWN, EmbeddedCassandra.status(settings).state());
    assertFalse(CqlProbe.answers(new dev.quiver.persistence.cassandra.CassandraEndpoint(
        settings.host(), settings.nativePort()), Duration.ofMillis(500)), "port released");

    try (EmbeddedCassandra again = EmbeddedCassandra.start(settings,
        EmbeddedCassandra.Mode.ATTACHED);
        CqlSession session = connect(again)) {
      assertEquals("survives a restart",
          session.execute("SELECT text FROM kept.notes WHERE id = 1").one().getString(0));
    }
    assertFalse(Files.exists(settings.dataDir().resolve("cassandra.pid")));
  }

  @Test
  void refuses_to_start_on_a_port_a_running_cassandra_holds_naming_the_port() {
    int taken = SharedCassandra.endpoint().port();
    PersistenceSettings.Embedded settings = ownServer("clash");
    PersistenceSettings.Embedded clashing = settings.at(settings.dataDir(), taken,
        settings.storagePort());
    CassandraStartException e = assertThrows(CassandraStartException.class,
        () -> EmbeddedCassandra.start(clashing, EmbeddedCassandra.Mode.ATTACHED));
    assertTrue(e.getMessage().contains("port " + taken + " on 127.0.0.1 is already in use"),
        e.getMessage());
  }

  @Test
  void refuses_a_second_server_on_the_same_data_directory() {
    var shared = SharedCassandra.start().settings();
    CassandraStartException e = assertThrows(CassandraStartException.class,
        () -> EmbeddedCassandra.start(shared.at(shared.dataDir(), SharedCassandra.freePort(),
            SharedCassandra.freePort()), EmbeddedCassandra.Mode.ATTACHED));
    assertTrue(e.getMessage().contains("already running"), e.getMessage());
  }

  @Test
  void a_failed_start_reports_the_tail_of_cassandras_log() throws IOException {
    PersistenceSettings.Embedded base = ownServer("broken");
    Path badYaml = Files.createDirectories(base.dataDir().getParent())
        .resolve("broken-cassandra.yaml");
    Files.writeString(badYaml, Files.readString(Path.of("..", "conf", "cassandra.yaml"))
        .replace("commitlog_sync: periodic", "commitlog_sync: sometimes"));
    PersistenceSettings.Embedded broken = new PersistenceSettings.Embedded(base.dataDir(),
        base.host(), base.nativePort(), base.storagePort(), base.clusterName(),
        base.heapMinMiB(), base.heapMaxMiB(), Duration.ofSeconds(60), Duration.ofSeconds(20),
        java.util.Optional.of(badYaml), java.util.Optional.empty(), java.util.List.of());
    CassandraStartException e = assertThrows(CassandraStartException.class,
        () -> EmbeddedCassandra.start(broken, EmbeddedCassandra.Mode.ATTACHED));
    assertTrue(e.getMessage().contains("exited with code"), e.getMessage());
    assertTrue(e.getMessage().contains("--- tail of"), e.getMessage());
    assertTrue(e.getMessage().contains("sometimes"), "the log names the bad value: "
        + e.getMessage());
    assertEquals(EmbeddedCassandra.Status.State.DOWN, EmbeddedCassandra.status(broken).state());
  }
}
