package dev.quiver.persistence.cassandra;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.quiver.persistence.PersistenceSettings;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the launcher hands the child JVM, and the checks it makes before starting one. */
class EmbeddedCassandraLaunchTest {

  @TempDir Path tmp;

  private PersistenceSettings.Embedded settings(int nativePort, int storagePort) {
    return PersistenceSettings.fromConfig(ConfigFactory.defaultReference())
        .cassandra().embedded().at(tmp.resolve("cassandra"), nativePort, storagePort);
  }

  private static String bundledYaml() throws IOException {
    try (InputStream in = EmbeddedCassandra.class.getResourceAsStream("cassandra.yaml")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void renders_the_yaml_with_this_instances_ports_and_seed() throws IOException {
    String yaml = CassandraYaml.render(bundledYaml(), "it", "127.0.0.1", 19042, 17000);
    assertTrue(yaml.contains("\nnative_transport_port: 19042\n"), yaml);
    assertTrue(yaml.contains("\nstorage_port: 17000\n"));
    assertTrue(yaml.contains("- seeds: \"127.0.0.1:17000\""));
    assertTrue(yaml.contains("\ncluster_name: 'it'\n"));
    assertTrue(yaml.contains("\ncommitlog_sync: periodic\n"), "keeps the template's tuning");
    assertFalse(yaml.contains("native_transport_port: 9042"));
  }

  @Test
  void the_server_class_path_is_resolved_apart_from_the_node_class_path() {
    CassandraServerClasspath classpath = CassandraServerClasspath.load();
    assertTrue(classpath.jars().stream()
        .anyMatch(p -> p.getFileName().toString().startsWith("cassandra-all-")));
    assertTrue(classpath.jammAgent().isPresent());
    assertThrows(ClassNotFoundException.class,
        () -> Class.forName("org.apache.cassandra.service.CassandraDaemon"),
        "cassandra-all must not be on this JVM's class path");
  }

  @Test
  void passes_java_17_module_flags_heap_and_loopback_settings() {
    var s = settings(19042, 17000);
    List<String> command = EmbeddedCassandra.command(s,
        new EmbeddedCassandra.Layout(s.dataDir()), CassandraServerClasspath.load(),
        EmbeddedCassandra.Mode.ATTACHED);
    assertTrue(command.contains("-Xmx1024m"));
    assertTrue(command.contains("-Xms512m"));
    assertTrue(command.contains("--add-opens=java.base/java.nio=ALL-UNNAMED"));
    assertTrue(command.contains("--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED"));
    assertTrue(command.contains("-Dcassandra.skip_wait_for_gossip_to_settle=0"));
    assertTrue(command.contains("-Dquiver.cassandra.parent-pid=" + ProcessHandle.current().pid()));
    assertTrue(command.stream().anyMatch(c -> c.startsWith("-javaagent:") && c.contains("jamm")));
    assertTrue(command.stream().noneMatch(c -> c.contains("jmx.local.port")), "JMX stays off");
    assertEquals("dev.quiver.persistence.cassandra.child.CassandraChildMain",
        command.get(command.size() - 1));
  }

  @Test
  void refuses_to_start_when_the_cql_port_is_taken_and_names_it() throws IOException {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      int port = taken.getLocalPort();
      CassandraStartException e = assertThrows(CassandraStartException.class,
          () -> EmbeddedCassandra.start(settings(port, freePort()),
              EmbeddedCassandra.Mode.ATTACHED));
      assertTrue(e.getMessage().contains("port " + port + " on 127.0.0.1 is already in use"),
          e.getMessage());
      assertTrue(e.getMessage().contains("native-port"), e.getMessage());
    }
  }

  @Test
  void refuses_to_start_when_the_storage_port_is_taken_and_names_it() throws IOException {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      int port = taken.getLocalPort();
      CassandraStartException e = assertThrows(CassandraStartException.class,
          () -> EmbeddedCassandra.start(settings(freePort(), port),
              EmbeddedCassandra.Mode.ATTACHED));
      assertTrue(e.getMessage().contains("port " + port), e.getMessage());
      assertTrue(e.getMessage().contains("storage_port"), e.getMessage());
    }
  }

  @Test
  void status_of_a_data_dir_without_a_server_is_down() {
    var status = EmbeddedCassandra.status(settings(19042, 17000));
    assertEquals(EmbeddedCassandra.Status.State.DOWN, status.state());
    assertTrue(status.describe().contains("not running"));
    assertFalse(CqlProbe.answers(new CassandraEndpoint("127.0.0.1", freePort()),
        Duration.ofMillis(200)));
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
