package dev.quiver.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** reference.conf documents and defaults every option; overrides land in the record. */
class PersistenceSettingsTest {

  @Test
  void defaults_run_an_embedded_server_on_loopback_under_the_quiver_home() {
    PersistenceSettings s = PersistenceSettings.fromConfig(
        ConfigFactory.parseString("quiver.home = \"/opt/quiver\"")
            .withFallback(ConfigFactory.defaultReference()));
    assertTrue(s.cassandra().useEmbedded());
    var e = s.cassandra().embedded();
    assertEquals(Path.of("/opt/quiver/.quiver/cassandra"), e.dataDir());
    assertEquals("127.0.0.1", e.host());
    assertEquals(9042, e.nativePort());
    assertEquals(7000, e.storagePort());
    assertEquals(512, e.heapMinMiB());
    assertEquals(1024, e.heapMaxMiB());
    assertEquals(Duration.ofSeconds(120), e.startTimeout());
    assertTrue(e.yamlTemplate().isEmpty());
    assertEquals("quiver_journal", s.journalKeyspace());
    assertEquals("quiver_snapshot", s.snapshotKeyspace());
    assertEquals("quiver_blobs", s.blob().keyspace());
    assertEquals(1024 * 1024, s.blob().chunkSizeBytes());
    assertEquals("adapter-lifecycle", s.lifecycle().tag());
  }

  @Test
  void contact_points_switch_off_the_embedded_server() {
    PersistenceSettings s = PersistenceSettings.fromConfig(ConfigFactory.parseString(
        "quiver.persistence.cassandra.contact-points = [\"10.0.0.5:9042\"]")
        .withFallback(ConfigFactory.defaultReference()));
    assertFalse(s.cassandra().useEmbedded());
    assertEquals(List.of("10.0.0.5:9042"), s.cassandra().contactPoints());
  }

  @Test
  void rejects_a_chunk_size_over_one_mebibyte() {
    var config = ConfigFactory.parseString("quiver.persistence.blob.chunk-size = 2MiB")
        .withFallback(ConfigFactory.defaultReference());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PersistenceSettings.fromConfig(config));
    assertTrue(e.getMessage().contains("chunk-size"), e.getMessage());
  }

  @Test
  void binds_the_module_marker_to_jackson_json() {
    var config = ConfigFactory.load();
    assertEquals("jackson-json", config.getString(
        "pekko.actor.serialization-bindings.\"dev.quiver.persistence.JsonSerializable\""));
    assertEquals("pekko.persistence.cassandra.journal",
        config.getString("pekko.persistence.journal.plugin"));
    assertTrue(config.getBoolean("pekko.persistence.cassandra.events-by-tag.enabled"));
  }
}
