package dev.quiver.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.quiver.persistence.LocalResources;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.cassandra.CassandraStartException;
import dev.quiver.persistence.cassandra.EmbeddedCassandra;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A node against a Cassandra that demands a login (PasswordAuthenticator) and speaks mutual TLS to clients
 * ({@code require_client_auth}; keystores made by {@code keytool} here): with the right credentials, a truststore
 * holding the server's certificate and a keystore holding a client certificate the server trusts, the node starts
 * and its journal answers; a wrong password, a server certificate the truststore does not hold, no client
 * certificate, or one the server does not trust stops the start at once with one sentence naming the cause and the
 * setting, not a driver retrying forever.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CassandraAuthIT {
    static final String PASSWORD = "changeit";

    Path dir;
    EmbeddedCassandra cassandra;
    Path truststore;
    Path rogueTruststore;
    Path clientKeystore;
    Path untrustedClientKeystore;

    @BeforeAll
    void start() throws Exception {
        dir = Path.of("target", "it-cassandra", "auth").toAbsolutePath();
        LocalResources.deleteTree(dir);
        Files.createDirectories(dir);
        Path server = dir.resolve("server.p12");
        keytool("-genkeypair", "-alias", "server", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-keystore", server.toString(),
                "-storetype", "PKCS12", "-storepass", PASSWORD, "-keypass", PASSWORD);
        keytool("-exportcert", "-alias", "server", "-keystore", server.toString(), "-storepass", PASSWORD, "-file",
                dir.resolve("server.crt").toString());
        truststore = dir.resolve("trust.p12");
        keytool("-importcert", "-noprompt", "-alias", "server", "-file", dir.resolve("server.crt").toString(),
                "-keystore", truststore.toString(), "-storetype", "PKCS12", "-storepass", PASSWORD);
        // Another self-signed certificate: a truststore that does not hold the server's.
        Path rogue = dir.resolve("rogue.p12");
        keytool("-genkeypair", "-alias", "rogue", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-keystore", rogue.toString(),
                "-storetype", "PKCS12", "-storepass", PASSWORD, "-keypass", PASSWORD);
        keytool("-exportcert", "-alias", "rogue", "-keystore", rogue.toString(), "-storepass", PASSWORD, "-file",
                dir.resolve("rogue.crt").toString());
        rogueTruststore = dir.resolve("rogue-trust.p12");
        keytool("-importcert", "-noprompt", "-alias", "rogue", "-file", dir.resolve("rogue.crt").toString(),
                "-keystore", rogueTruststore.toString(), "-storetype", "PKCS12", "-storepass", PASSWORD);

        // The node's client certificate, and the server's truststore that holds it; rogue.p12 is a client
        // certificate the server does not trust.
        clientKeystore = dir.resolve("client.p12");
        keytool("-genkeypair", "-alias", "client", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                "-dname", "CN=quiver-node", "-keystore", clientKeystore.toString(), "-storetype", "PKCS12",
                "-storepass", PASSWORD, "-keypass", PASSWORD);
        keytool("-exportcert", "-alias", "client", "-keystore", clientKeystore.toString(), "-storepass", PASSWORD,
                "-file", dir.resolve("client.crt").toString());
        Path serverTrust = dir.resolve("server-trust.p12");
        keytool("-importcert", "-noprompt", "-alias", "client", "-file", dir.resolve("client.crt").toString(),
                "-keystore", serverTrust.toString(), "-storetype", "PKCS12", "-storepass", PASSWORD);
        untrustedClientKeystore = rogue;

        String template;
        try (InputStream in = EmbeddedCassandra.class.getResourceAsStream("cassandra.yaml")) {
            template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(template.contains("authenticator: AllowAllAuthenticator"));
        // NOTE: TLS optional on the CQL port: the launcher's readiness probe speaks plain CQL, the node speaks TLS.
        String yaml = template.replace("authenticator: AllowAllAuthenticator", "authenticator: PasswordAuthenticator")
                .replace("authorizer: AllowAllAuthorizer", "authorizer: CassandraAuthorizer")
                + "\nclient_encryption_options:\n  enabled: true\n  optional: true\n  keystore: " + server
                + "\n  keystore_password: " + PASSWORD + "\n  store_type: PKCS12\n  require_client_auth: true\n"
                + "  truststore: " + serverTrust + "\n  truststore_password: " + PASSWORD + "\n";
        Path yamlFile = dir.resolve("cassandra-auth.yaml");
        Files.writeString(yamlFile, yaml);
        PersistenceSettings.Embedded base = PersistenceSettings.fromConfig(ConfigFactory.defaultReference())
                .cassandra().embedded();
        PersistenceSettings.Embedded embedded = new PersistenceSettings.Embedded(dir.resolve("data"), base.host(),
                LocalResources.freePort(), LocalResources.freePort(), base.clusterName(), base.heapMinMiB(),
                base.heapMaxMiB(), base.startTimeout(), base.stopTimeout(), java.util.Optional.of(yamlFile),
                base.logbackConfig(), List.of("-Dcassandra.superuser_setup_delay_ms=0"));
        cassandra = EmbeddedCassandra.start(embedded, EmbeddedCassandra.Mode.ATTACHED);
    }

    @AfterAll
    void stop() {
        if (cassandra != null) {
            cassandra.close();
        }
    }

    static void keytool(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "keytool " + cmd + ": " + out);
    }

    /** A node config over this Cassandra with the given login and truststore, and the trusted client certificate. */
    Config nodeConfig(String password, Path trust) {
        return nodeConfig(password, trust, clientKeystore);
    }

    /** A node config over this Cassandra with the given login, truststore and client keystore (null: none). */
    Config nodeConfig(String password, Path trust, Path keystore) {
        String ks = "auth_it";
        String client = keystore == null ? "" : ", keystore = \"" + keystore + "\", keystore-password = \"" + PASSWORD
                + "\"";
        return ConfigFactory.parseString("""
                quiver.node.persistence = cassandra
                quiver.persistence.cassandra {
                  contact-points = ["%s"]
                  username = "cassandra"
                  password = "%s"
                  tls { enabled = on, truststore = "%s", truststore-password = "%s"%s }
                  consistency.journal = ONE
                }
                pekko.persistence.cassandra.journal.keyspace = %s_journal
                pekko.persistence.cassandra.snapshot.keyspace = %s_snapshot
                quiver.persistence.blob.keyspace = %s_blobs
                datastax-java-driver.basic.request.timeout = 20s
                datastax-java-driver.advanced.control-connection.schema-agreement.timeout = 30s
                datastax-java-driver.profiles.pekko-persistence-cassandra-profile.basic.request.timeout = 20s
                """.formatted(cassandra.endpoint(), password, trust, PASSWORD, client, ks, ks, ks))
                .withFallback(TestNodes.config("")).resolve();
    }

    @Test
    void a_node_with_the_right_login_and_truststore_starts_and_its_journal_answers() {
        QuiverNode node = QuiverNode.start(nodeConfig("cassandra", truststore));
        try {
            Client.Reply ready = new Client(node.baseUrl()).get("/ready", null);
            assertEquals(200, ready.status(), ready.body());
            assertEquals(true, ready.json().at("/checks/cassandra/reachable").asBoolean(), ready.body());
        } finally {
            node.stop();
        }
    }

    @Test
    void a_wrong_password_stops_the_start_at_once_naming_the_login_and_the_setting() {
        long started = System.nanoTime();
        CassandraStartException e = assertThrows(CassandraStartException.class,
                () -> QuiverNode.start(nodeConfig("wrong-password", truststore)));
        assertTrue(e.getMessage().contains("refused the login of user 'cassandra'"), e.getMessage());
        assertTrue(e.getMessage().contains("QUIVER_CASSANDRA_PASSWORD"), e.getMessage());
        assertFalse(e.getMessage().contains("wrong-password"), "the password is not echoed: " + e.getMessage());
        assertTrue(Duration.ofNanos(System.nanoTime() - started).toSeconds() < 30, "no retry loop");
    }

    @Test
    void an_untrusted_server_certificate_stops_the_start_naming_the_truststore() {
        CassandraStartException e = assertThrows(CassandraStartException.class,
                () -> QuiverNode.start(nodeConfig("cassandra", rogueTruststore)));
        assertTrue(e.getMessage().startsWith("TLS handshake with Cassandra at"), e.getMessage());
        assertTrue(e.getMessage().contains("quiver.persistence.cassandra.tls.truststore"), e.getMessage());
    }

    @Test
    void a_node_without_a_client_certificate_refuses_to_start_naming_the_keystore_setting() {
        long started = System.nanoTime();
        CassandraStartException e = assertThrows(CassandraStartException.class,
                () -> QuiverNode.start(nodeConfig("cassandra", truststore, null)));
        assertTrue(e.getMessage().contains("requires a client certificate (require_client_auth) and none is "
                + "configured"), e.getMessage());
        assertTrue(e.getMessage().contains("quiver.persistence.cassandra.tls.keystore"), e.getMessage());
        assertTrue(Duration.ofNanos(System.nanoTime() - started).toSeconds() < 30, "no retry loop");
    }

    @Test
    void a_client_certificate_the_server_does_not_trust_stops_the_start_naming_the_keystore() {
        CassandraStartException e = assertThrows(CassandraStartException.class,
                () -> QuiverNode.start(nodeConfig("cassandra", truststore, untrustedClientKeystore)));
        assertTrue(e.getMessage().contains("refused this node's client certificate from keystore "
                + untrustedClientKeystore), e.getMessage());
        assertTrue(e.getMessage().contains("QUIVER_CASSANDRA_KEYSTORE"), e.getMessage());
        assertFalse(e.getMessage().contains(PASSWORD), "no password echoed: " + e.getMessage());
    }

    @Test
    void bin_quiver_node_with_a_wrong_password_exits_2_with_one_line_not_a_stack_trace_loop() throws Exception {
        Path conf = dir.resolve("wrong.conf");
        Files.writeString(conf, """
                quiver.node { model-dir = "%s", bootstrap-admin-key = off, adapter-store = "%s" }
                quiver.persistence.cassandra {
                  contact-points = ["%s"]
                  username = "cassandra"
                  tls { enabled = on, truststore = "%s", truststore-password = "%s", keystore = "%s" }
                  tls.keystore-password = "%s"
                }
                pekko.remote.artery.canonical.port = 0
                quiver.edge.port = 0
                """.formatted(TestNodes.model(), dir.resolve("store"), cassandra.endpoint(), truststore, PASSWORD,
                clientKeystore, PASSWORD));
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                "dev.quiver.node.NodeMain", "--config", conf.toString()).redirectErrorStream(true);
        pb.environment().put("QUIVER_CASSANDRA_PASSWORD", "not-the-password");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(90, TimeUnit.SECONDS), "the node stops by itself");
        assertEquals(2, p.exitValue(), out);
        assertTrue(out.contains("quiver: Cassandra at [" + cassandra.endpoint() + "] refused the login of user "
                + "'cassandra'"), out);
        long traces = out.lines().filter(l -> l.startsWith("\tat ")).count();
        assertTrue(traces < 40, "at most a stack trace from the driver's own log, not a loop: " + traces
                + " frames\n" + out);
    }
}
