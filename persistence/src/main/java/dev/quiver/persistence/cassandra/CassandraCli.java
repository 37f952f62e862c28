package dev.quiver.persistence.cassandra;

import com.typesafe.config.ConfigFactory;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.PersistenceSettings.Embedded;
import dev.quiver.persistence.cassandra.EmbeddedCassandra.Status;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * {@code bin/quiver cassandra start|stop|status|schema}: the embedded Cassandra for developers
 * and operators. {@code start} leaves the server running in the background and returns once CQL
 * answers; {@code stop} stops it cleanly through its pid file; {@code status} says whether it is
 * up and where (exit code 0 up, 3 not running, 1 alive but not answering); {@code schema} prints
 * the production CQL schema with the configured keyspaces and replication
 * ({@link CassandraSchema}). Settings come from {@code quiver.persistence.cassandra.embedded}
 * (override with {@code QUIVER_JAVA_OPTS="-Dquiver.persistence.cassandra.embedded.native-port=..."}).
 */
public final class CassandraCli {

  private static final int EXIT_NOT_RUNNING = 3;

  private CassandraCli() {}

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length != 1) {
      err.println("usage: bin/quiver cassandra start|stop|status|schema");
      return 2;
    }
    PersistenceSettings settings = PersistenceSettings.fromConfig(ConfigFactory.load());
    Embedded embedded = settings.cassandra().embedded();
    switch (args[0]) {
      case "start" -> {
        Status status = EmbeddedCassandra.status(embedded);
        if (status.state() == Status.State.UP) {
          out.println("already running. " + status.describe());
          return 0;
        }
        if (status.state() == Status.State.NOT_ANSWERING) {
          err.println(status.describe());
          return 1;
        }
        try {
          out.println("starting Cassandra " + embedded.host() + ":" + embedded.nativePort()
              + " (data in " + embedded.dataDir() + ")...");
          long started = System.nanoTime();
          EmbeddedCassandra server = EmbeddedCassandra.start(embedded,
              EmbeddedCassandra.Mode.DETACHED);
          out.printf("Cassandra is up after %.1f s: pid %d, CQL at %s%n",
              (System.nanoTime() - started) / 1e9, server.pid(), server.endpoint());
          return 0;
        } catch (CassandraStartException e) {
          err.println("quiver: " + e.getMessage());
          return 1;
        }
      }
      case "stop" -> {
        boolean stopped = EmbeddedCassandra.stop(embedded);
        out.println(stopped ? "Cassandra stopped (data kept in " + embedded.dataDir() + ")"
            : "Cassandra is not running (data dir " + embedded.dataDir() + ")");
        return 0;
      }
      case "status" -> {
        Status status = EmbeddedCassandra.status(embedded);
        out.println(status.describe());
        return switch (status.state()) {
          case UP -> 0;
          case NOT_ANSWERING -> 1;
          case DOWN -> EXIT_NOT_RUNNING;
        };
      }
      case "schema" -> {
        try (InputStream in = CassandraCli.class.getResourceAsStream("/schema.cql")) {
          if (in == null) {
            err.println("quiver: schema.cql is missing from the quiver-persistence jar");
            return 1;
          }
          out.print(CassandraSchema.render(new String(in.readAllBytes(), StandardCharsets.UTF_8),
              settings));
          return 0;
        } catch (IOException e) {
          err.println("quiver: cannot read schema.cql: " + e);
          return 1;
        }
      }
      default -> {
        err.println("quiver: unknown cassandra command '" + args[0]
            + "'; use start, stop, status or schema");
        return 2;
      }
    }
  }
}
