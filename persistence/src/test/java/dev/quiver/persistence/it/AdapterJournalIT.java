package dev.quiver.persistence.it;

import static dev.quiver.persistence.Fixtures.publish;
import static dev.quiver.persistence.Fixtures.register;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import com.typesafe.config.Config;
import dev.quiver.persistence.Fixtures;
import dev.quiver.persistence.SharedCassandra;
import dev.quiver.persistence.audit.AdapterAuditLog;
import dev.quiver.persistence.audit.AuditRecord;
import dev.quiver.persistence.events.AdapterEvent;
import dev.quiver.persistence.events.EvictionReason;
import dev.quiver.persistence.lifecycle.AdapterLifecycle;
import dev.quiver.persistence.lifecycle.LifecycleReply;
import dev.quiver.persistence.state.AdapterState;
import dev.quiver.persistence.state.LifecycleRequest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Lifecycle events on the real Cassandra journal: recovery and ordering. */
@ExtendWith(SharedCassandra.class)
class AdapterJournalIT {

  private static final Config config = SharedCassandra.config("journal_it");
  private static final Duration TIMEOUT = Duration.ofSeconds(30);
  private static final List<ActorTestKit> kits = new ArrayList<>();

  @AfterAll
  static void shutdown() {
    kits.forEach(ActorTestKit::shutdownTestKit);
  }

  private static ActorTestKit newSystem() {
    ActorTestKit kit = ActorTestKit.create("AdapterJournalIT", config);
    kits.add(kit);
    return kit;
  }

  private static ActorRef<AdapterLifecycle.Command> spawn(ActorTestKit kit, String adapter) {
    return kit.spawn(AdapterLifecycle.create(adapter, Fixtures.LIFECYCLE, Clock.systemUTC()));
  }

  private static LifecycleReply ask(ActorTestKit kit, ActorRef<AdapterLifecycle.Command> ref,
      LifecycleRequest request) throws Exception {
    return AskPattern.<AdapterLifecycle.Command, LifecycleReply>ask(ref,
            replyTo -> new AdapterLifecycle.Execute(request, replyTo), TIMEOUT,
            kit.system().scheduler())
        .toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
  }

  private static AdapterState state(ActorTestKit kit, ActorRef<AdapterLifecycle.Command> ref)
      throws Exception {
    return AskPattern.<AdapterLifecycle.Command, AdapterState>ask(ref,
            AdapterLifecycle.GetState::new, TIMEOUT, kit.system().scheduler())
        .toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
  }

  @Test
  void recovers_adapter_state_in_a_new_actor_system() throws Exception {
    ActorTestKit first = newSystem();
    var adapter = spawn(first, "recovering");
    assertInstanceOf(LifecycleReply.Accepted.class, ask(first, adapter, register(1)));
    ask(first, adapter, publish(2));
    ask(first, adapter, new LifecycleRequest.Place("node-a/gpu-0", "node-a:25520", "sys"));
    ask(first, adapter, new LifecycleRequest.Place("node-b/gpu-0", "node-b:25520", "sys"));
    ask(first, adapter, new LifecycleRequest.Evict("node-a/gpu-0", "node-a:25520",
        EvictionReason.NODE_LOST, "system:failover"));
    ask(first, adapter, new LifecycleRequest.RollBack("regression", "bob"));
    AdapterState before = state(first, adapter);
    first.shutdownTestKit();

    ActorTestKit second = newSystem();
    AdapterState recovered = state(second, spawn(second, "recovering"));
    assertEquals(before, recovered);
    assertEquals(1, recovered.currentVersion());
    assertEquals(2, recovered.versions().size());
    assertEquals("node-b/gpu-0", recovered.residents().get(0).worker());
  }

  @Test
  void concurrent_publishes_of_two_versions_keep_one_total_order() throws Exception {
    ActorTestKit kit = newSystem();
    var adapter = spawn(kit, "contended");
    ask(kit, adapter, register(10));
    List<CompletableFuture<LifecycleReply>> replies = new ArrayList<>();
    for (int seed : new int[] {11, 12}) {
      replies.add(CompletableFuture.supplyAsync(() -> {
        try {
          return ask(kit, adapter, publish(seed));
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }));
    }
    List<Integer> versions = new ArrayList<>();
    for (var reply : replies) {
      var accepted = assertInstanceOf(LifecycleReply.Accepted.class,
          reply.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
      versions.add(((AdapterEvent.VersionPublished) accepted.event()).version());
    }
    assertEquals(List.of(2, 3), versions.stream().sorted().toList(), "distinct versions");

    AdapterAuditLog audit = new AdapterAuditLog(kit.system(), Fixtures.LIFECYCLE.tag());
    List<AuditRecord> history = audit.historyList("contended", 100).toCompletableFuture()
        .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    assertEquals(List.of(1L, 2L, 3L), history.stream().map(AuditRecord::sequenceNr).toList());
    List<Integer> journalOrder = history.stream().skip(1)
        .map(r -> ((AdapterEvent.VersionPublished) r.event()).version()).toList();
    assertEquals(List.of(2, 3), journalOrder, "version numbers follow the journal order");
    AdapterState state = state(kit, adapter);
    assertEquals(3, state.currentVersion());
    assertEquals(((AdapterEvent.VersionPublished) history.get(2).event()).digest(),
        state.current().orElseThrow().digest());
  }
}
