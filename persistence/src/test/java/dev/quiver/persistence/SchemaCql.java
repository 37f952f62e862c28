package dev.quiver.persistence;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Test helper: schema.cql split into statements, optionally with keyspaces renamed. */
public final class SchemaCql {

  private SchemaCql() {}

  public static List<String> statements() {
    try (InputStream in = SchemaCql.class.getResourceAsStream("/schema.cql")) {
      String text = new String(in.readAllBytes(), StandardCharsets.UTF_8)
          .replaceAll("(?m)--.*$", "");
      return Arrays.stream(text.split(";")).map(String::strip).filter(s -> !s.isEmpty())
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The statements for a one-node test cluster: keyspaces renamed, replication factor 1. */
  public static List<String> statementsFor(Map<String, String> keyspaceRenames) {
    return statements().stream().map(s -> {
      String out = s.replaceAll("\\{'class': 'NetworkTopologyStrategy'[^}]*}",
          "{'class': 'SimpleStrategy', 'replication_factor': 1}");
      for (var rename : keyspaceRenames.entrySet()) {
        out = out.replaceAll("\\b" + rename.getKey() + "\\b", rename.getValue());
      }
      return out;
    }).toList();
  }
}
