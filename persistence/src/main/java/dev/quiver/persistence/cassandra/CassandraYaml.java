package dev.quiver.persistence.cassandra;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renders the embedded server's cassandra.yaml from the template in {@code conf/cassandra.yaml}:
 * the template is a complete, valid yaml; the launcher replaces the top-level keys that depend
 * on where this instance runs (cluster name, addresses, ports, seeds) and leaves the rest alone.
 * Directories are not in the yaml: {@code -Dcassandra.storagedir} places them all.
 */
final class CassandraYaml {

  private CassandraYaml() {}

  static String render(String template, String clusterName, String host, int nativePort,
      int storagePort) {
    String yaml = template;
    Map<String, String> scalars =
        Map.of(
            "cluster_name", "'" + clusterName + "'",
            "listen_address", host,
            "rpc_address", host,
            "native_transport_port", Integer.toString(nativePort),
            "storage_port", Integer.toString(storagePort));
    for (Map.Entry<String, String> e : scalars.entrySet()) {
      yaml = setTopLevel(yaml, e.getKey(), e.getValue());
    }
    Pattern seeds = Pattern.compile("(?m)^(\\s*-\\s*seeds:\\s*).*$");
    Matcher m = seeds.matcher(yaml);
    if (!m.find()) {
      throw new CassandraStartException(
          "the cassandra.yaml template has no seed_provider '- seeds:' line");
    }
    return m.replaceFirst(Matcher.quoteReplacement(m.group(1) + "\"" + host + ":" + storagePort
        + "\""));
  }

  private static String setTopLevel(String yaml, String key, String value) {
    Pattern line = Pattern.compile("(?m)^" + Pattern.quote(key) + ":.*$");
    Matcher m = line.matcher(yaml);
    String replacement = key + ": " + value;
    if (m.find()) {
      return m.replaceFirst(Matcher.quoteReplacement(replacement));
    }
    return yaml + (yaml.endsWith("\n") ? "" : "\n") + replacement + "\n";
  }
}
