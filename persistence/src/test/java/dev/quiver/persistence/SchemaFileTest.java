package dev.quiver.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.quiver.persistence.blob.AdapterBlobStore;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.persistence.cassandra.KeyspaceAndTableStatements;
import org.apache.pekko.persistence.cassandra.PluginSettings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * schema.cql, the production schema an operator applies, defines exactly the tables (columns and
 * keys) that pekko-persistence-cassandra and the blob store create for themselves in dev.
 */
class SchemaFileTest {

  private static final ActorSystem<Void> system =
      ActorSystem.create(Behaviors.empty(), "SchemaFileTest", ConfigFactory.load());

  @AfterAll
  static void shutdown() {
    system.terminate();
  }

  /** table name to its normalized "(columns, primary key)" body. */
  static Map<String, String> tables(List<String> statements) {
    Pattern table = Pattern.compile(
        "(?is)CREATE TABLE IF NOT EXISTS\\s+([\\w.]+)\\s*\\((.*)\\)\\s*(WITH.*)?$");
    Map<String, String> tables = new LinkedHashMap<>();
    for (String statement : statements) {
      Matcher m = table.matcher(statement.strip());
      if (m.find()) {
        tables.put(m.group(1).toLowerCase(), m.group(2).replaceAll("\\s+", "").toLowerCase());
      }
    }
    return tables;
  }

  @Test
  void schema_file_matches_the_tables_the_journal_plugin_creates() {
    var classic = Adapter.toClassic(system);
    var settings = PluginSettings.apply(classic,
        system.settings().config().getConfig("pekko.persistence.cassandra"));
    var plugin = new KeyspaceAndTableStatements(system, "pekko.persistence.cassandra", settings);
    List<String> expected = new ArrayList<>(plugin.getCreateJournalTablesStatements());
    expected.addAll(plugin.getCreateSnapshotTablesStatements());
    expected.addAll(AdapterBlobStore.schema("quiver_blobs", "'class': 'SimpleStrategy'"));
    Map<String, String> fromFile = tables(SchemaCql.statements());
    Map<String, String> fromCode = tables(expected);
    assertEquals(9, fromCode.size(), fromCode.keySet().toString());
    assertEquals(fromCode, fromFile);
  }

  @Test
  void schema_file_creates_the_three_keyspaces() {
    List<String> keyspaces = SchemaCql.statements().stream()
        .filter(s -> s.startsWith("CREATE KEYSPACE")).toList();
    assertEquals(3, keyspaces.size());
    assertTrue(keyspaces.get(0).contains("quiver_journal"));
    assertTrue(keyspaces.get(1).contains("quiver_snapshot"));
    assertTrue(keyspaces.get(2).contains("quiver_blobs"));
  }
}
