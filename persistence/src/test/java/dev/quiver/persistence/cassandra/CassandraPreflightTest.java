package dev.quiver.persistence.cassandra;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/** The one sentence a refused connection is reported as, by what the TLS layer said. */
class CassandraPreflightTest {
  static final List<String> POINTS = List.of("10.0.0.5:9042");

  static Config tls(String keystore) {
    String ssl = "datastax-java-driver.advanced.ssl-engine-factory.";
    return ConfigFactory.parseString(ssl + "class = DefaultSslEngineFactory\n"
        + (keystore == null ? "" : ssl + "keystore-path = \"" + keystore + "\"\n"));
  }

  static RuntimeException wrapped(Throwable cause) {
    return new IllegalStateException("Could not reach any contact point",
        new RuntimeException("[/10.0.0.5:9042] init query OPTIONS: error writing", cause));
  }

  @Test
  void a_server_that_wants_a_client_certificate_and_gets_none_is_named_with_the_keystore_setting() {
    String m = CassandraPreflight.describe(POINTS, tls(null),
        wrapped(new SSLException("Received fatal alert: certificate_required")));
    assertTrue(m.startsWith("Cassandra at [10.0.0.5:9042] requires a client certificate "
        + "(require_client_auth) and none is configured"), m);
    assertTrue(m.contains("quiver.persistence.cassandra.tls.keystore"), m);
    assertTrue(m.contains("QUIVER_CASSANDRA_KEYSTORE"), m);
  }

  @Test
  void a_client_certificate_the_server_refuses_is_named_with_its_keystore() {
    String m = CassandraPreflight.describe(POINTS, tls("/etc/quiver/client.p12"),
        wrapped(new SSLHandshakeException("Received fatal alert: bad_certificate")));
    assertTrue(m.startsWith("Cassandra at [10.0.0.5:9042] refused this node's client certificate from "
        + "keystore /etc/quiver/client.p12"), m);
  }

  @Test
  void a_server_certificate_this_node_does_not_trust_still_names_the_truststore() {
    String m = CassandraPreflight.describe(POINTS, tls("/etc/quiver/client.p12"),
        wrapped(new SSLHandshakeException("PKIX path building failed: unable to find valid "
            + "certification path to requested target")));
    assertTrue(m.startsWith("TLS handshake with Cassandra at [10.0.0.5:9042] failed"), m);
    assertTrue(m.contains("quiver.persistence.cassandra.tls.truststore"), m);
  }
}
