package dev.quiver.persistence.it;

import static dev.quiver.persistence.Fixtures.register;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.cql.SimpleStatement;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.Fixtures;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.SchemaCql;
import dev.quiver.persistence.SharedCassandra;
import dev.quiver.persistence.blob.AdapterBlobStore;
import dev.quiver.persistence.lifecycle.AdapterLifecycle;
import dev.quiver.persistence.lifecycle.LifecycleReply;
import dev.quiver.persistence.state.AdapterState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The production path: schema.cql applied by hand, every auto-create switch off, and the
 * journal, snapshot store and blob store work on it.
 */
@ExtendWith(SharedCassandra.class)
class SchemaCqlIT {

  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  @Test
  void journal_and_blob_store_run_on_the_schema_file_with_auto_create_off() throws Exception {
    try (CqlSession session = SharedCassandra.session()) {
      for (String statement : SchemaCql.statementsFor(Map.of("quiver_journal", "prod_journal",
          "quiver_snapshot", "prod_snapshot", "quiver_blobs", "prod_blobs"))) {
        session.execute(SimpleStatement.newInstance(statement).setTimeout(TIMEOUT));
      }
      Config config = ConfigFactory.parseString("""
          pekko.persistence.cassandra.journal.keyspace-autocreate = off
          pekko.persistence.cassandra.journal.tables-autocreate = off
          pekko.persistence.cassandra.snapshot.keyspace-autocreate = off
          pekko.persistence.cassandra.snapshot.tables-autocreate = off
          quiver.persistence.blob.auto-create = off
          """).withFallback(SharedCassandra.config("prod"));

      PersistenceSettings settings = PersistenceSettings.fromConfig(config);
      AdapterBlobStore store = AdapterBlobStore.create(session, settings.blob());
      byte[] bytes = new byte[1024 * 1024 + 3];
      new java.util.Random(8).nextBytes(bytes);
      ContentDigest digest = store.put(new ByteArrayInputStream(bytes));
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      store.get(digest, out);
      assertArrayEquals(bytes, out.toByteArray());

      AdapterState written;
      ActorTestKit first = ActorTestKit.create("SchemaCqlIT", config);
      try {
        var adapter = first.spawn(AdapterLifecycle.create("prod-adapter", Fixtures.LIFECYCLE,
            Clock.systemUTC()));
        LifecycleReply reply = AskPattern.<AdapterLifecycle.Command, LifecycleReply>ask(adapter,
                r -> new AdapterLifecycle.Execute(register(1), r), TIMEOUT,
                first.system().scheduler())
            .toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        written = assertInstanceOf(LifecycleReply.Accepted.class, reply).state();
      } finally {
        first.shutdownTestKit();
      }
      ActorTestKit second = ActorTestKit.create("SchemaCqlIT", config);
      try {
        var adapter = second.spawn(AdapterLifecycle.create("prod-adapter", Fixtures.LIFECYCLE,
            Clock.systemUTC()));
        AdapterState recovered = AskPattern.<AdapterLifecycle.Command, AdapterState>ask(adapter,
                AdapterLifecycle.GetState::new, TIMEOUT, second.system().scheduler())
            .toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(written, recovered);
      } finally {
        second.shutdownTestKit();
      }
    }
  }
}
