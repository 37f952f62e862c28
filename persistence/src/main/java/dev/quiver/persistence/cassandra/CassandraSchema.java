package dev.quiver.persistence.cassandra;

import dev.quiver.persistence.PersistenceSettings;
import java.util.regex.Matcher;

/**
 * The CQL an operator applies when the node may not create keyspaces ({@code bin/quiver cassandra
 * schema}): the bundled {@code schema.cql} with the configured keyspace names and, once a
 * replication other than the development default (SimpleStrategy, factor 1) is configured in
 * {@code quiver.persistence.cassandra.replication}, that replication on every keyspace. With the
 * default, the file's own example ({@code NetworkTopologyStrategy}, {@code datacenter1: 3}) stays,
 * to be edited.
 */
public final class CassandraSchema {

  private static final String TEMPLATE_REPLICATION =
      "{'class': 'NetworkTopologyStrategy', 'datacenter1': 3}";

  private CassandraSchema() {}

  public static String render(String template, PersistenceSettings settings) {
    String out = template;
    PersistenceSettings.Replication r = settings.cassandra().replication();
    if (!r.equals(PersistenceSettings.Replication.SINGLE)) {
      out = out.replace(TEMPLATE_REPLICATION, "{" + r.cql() + "}");
    }
    out = rename(out, "quiver_journal", settings.journalKeyspace());
    out = rename(out, "quiver_snapshot", settings.snapshotKeyspace());
    out = rename(out, "quiver_blobs", settings.blob().keyspace());
    return out;
  }

  private static String rename(String cql, String from, String to) {
    if (!to.matches("[A-Za-z][A-Za-z0-9_]{0,47}")) {
      throw new IllegalArgumentException("keyspace name '" + to + "' is not a valid CQL identifier");
    }
    return cql.replaceAll("\\b" + from + "\\b", Matcher.quoteReplacement(to));
  }
}
