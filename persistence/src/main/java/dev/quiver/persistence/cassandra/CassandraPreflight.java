package dev.quiver.persistence.cassandra;

import com.datastax.oss.driver.api.core.AllNodesFailedException;
import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.auth.AuthenticationException;
import com.datastax.oss.driver.api.core.cql.Row;
import com.datastax.oss.driver.internal.core.config.typesafe.DefaultDriverConfigLoader;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * One connection attempt with the node's own driver settings, before the node starts its actor
 * system: the journal plugin's driver retries at start ({@code reconnect-on-init}), which turns a
 * wrong password or an untrusted certificate into an endless loop of stack traces. This attempt
 * does not retry; it reports what went wrong in one sentence that names the setting to fix.
 */
public final class CassandraPreflight {

  private CassandraPreflight() {}

  /** What the server said, when it answered. */
  public record Answer(String releaseVersion, String dataCenter) {}

  /**
   * Connects with {@code config}'s {@code datastax-java-driver} section and reads
   * {@code system.local}; throws {@link CassandraStartException} naming the cause otherwise.
   */
  public static Answer check(Config config, Duration timeout) {
    Config once = ConfigFactory.parseString(
            "datastax-java-driver.advanced.reconnect-on-init = false\n"
                + "datastax-java-driver.advanced.connection.connect-timeout = "
                + timeout.toMillis() + "ms\n"
                + "datastax-java-driver.advanced.connection.init-query-timeout = "
                + timeout.toMillis() + "ms\n"
                + "datastax-java-driver.basic.request.timeout = " + timeout.toMillis() + "ms\n")
        .withFallback(config).resolve();
    List<String> points = once.getStringList("datastax-java-driver.basic.contact-points");
    try (CqlSession session = CqlSession.builder()
        .withConfigLoader(new DefaultDriverConfigLoader(
            () -> once.getConfig("datastax-java-driver"), false)).build()) {
      Row row = session.execute("SELECT release_version, data_center FROM system.local").one();
      return new Answer(row == null ? "?" : row.getString(0), row == null ? "?" : row.getString(1));
    } catch (RuntimeException e) {
      throw new CassandraStartException(describe(points, once, e));
    }
  }

  static String describe(List<String> points, Config config, Throwable e) {
    List<Throwable> causes = new ArrayList<>();
    collect(e, causes, 0);
    String where = "Cassandra at " + points;
    for (Throwable t : causes) {
      if (t instanceof AuthenticationException
          || String.valueOf(t.getMessage()).contains("Provided username")) {
        String user = config.hasPath("datastax-java-driver.advanced.auth-provider.username")
            ? config.getString("datastax-java-driver.advanced.auth-provider.username") : "(none)";
        return where + " refused the login of user '" + user + "': " + firstLine(t)
            + " (quiver.persistence.cassandra.username / password, or QUIVER_CASSANDRA_USERNAME / "
            + "QUIVER_CASSANDRA_PASSWORD)";
      }
    }
    String ssl = "datastax-java-driver.advanced.ssl-engine-factory.";
    boolean tls = config.hasPath(ssl + "class");
    String keystore = config.hasPath(ssl + "keystore-path")
        ? config.getString(ssl + "keystore-path") : null;
    for (Throwable t : causes) {
      // NOTE: a fatal alert *received* is the server refusing this client (its certificate, under
      // require_client_auth); a certificate this client refuses fails here without an alert.
      if (tls && t instanceof SSLException && serverRejectedClient(firstLine(t))) {
        return keystore == null
            ? where + " requires a client certificate (require_client_auth) and none is configured: "
                + firstLine(t) + " (quiver.persistence.cassandra.tls.keystore / keystore-password, or "
                + "QUIVER_CASSANDRA_KEYSTORE / QUIVER_CASSANDRA_KEYSTORE_PASSWORD)"
            : where + " refused this node's client certificate from keystore " + keystore + ": "
                + firstLine(t) + " (the server's client_encryption_options truststore must hold it or "
                + "its CA; quiver.persistence.cassandra.tls.keystore / QUIVER_CASSANDRA_KEYSTORE)";
      }
    }
    for (Throwable t : causes) {
      if (t instanceof SSLException) {
        return "TLS handshake with " + where + " failed: " + firstLine(t)
            + " (is the server certificate, or its CA, in quiver.persistence.cassandra.tls"
            + ".truststore? does the server have client_encryption_options enabled?)";
      }
    }
    return "cannot connect to " + where + ": " + firstLine(e)
        + " (quiver.persistence.cassandra.contact-points / local-datacenter)";
  }

  /** Whether a TLS error is a fatal alert the server sent about this client's certificate. */
  private static boolean serverRejectedClient(String message) {
    return message.contains("Received fatal alert") && (message.contains("certificate_required")
        || message.contains("bad_certificate") || message.contains("certificate_unknown")
        || message.contains("unknown_ca") || message.contains("access_denied"));
  }

  private static void collect(Throwable t, List<Throwable> out, int depth) {
    if (t == null || depth > 8 || out.contains(t)) {
      return;
    }
    out.add(t);
    if (t instanceof AllNodesFailedException all) {
      for (List<Throwable> errors : all.getAllErrors().values()) {
        for (Throwable x : errors) {
          collect(x, out, depth + 1);
        }
      }
    }
    collect(t.getCause(), out, depth + 1);
    for (Throwable s : t.getSuppressed()) {
      collect(s, out, depth + 1);
    }
  }

  private static String firstLine(Throwable t) {
    String m = String.valueOf(t.getMessage());
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }
}
