package dev.quiver.persistence.it;

import static dev.quiver.persistence.Fixtures.publish;
import static dev.quiver.persistence.Fixtures.register;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import dev.quiver.persistence.Fixtures;
import dev.quiver.persistence.SharedCassandra;
import dev.quiver.persistence.audit.AdapterAuditLog;
import dev.quiver.persistence.audit.AuditRecord;
import dev.quiver.persistence.events.AdapterEvent;
import dev.quiver.persistence.lifecycle.AdapterLifecycle;
import dev.quiver.persistence.lifecycle.LifecycleReply;
import dev.quiver.persistence.state.LifecycleRequest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The audit queries over the real journal return what the lifecycle wrote. */
@ExtendWith(SharedCassandra.class)
class AdapterAuditLogIT {

  private static final Duration TIMEOUT = Duration.ofSeconds(30);
  private static ActorTestKit kit;
  private static AdapterAuditLog audit;
  private static Instant start;

  @BeforeAll
  static void writeHistories() throws Exception {
    Config config = SharedCassandra.config("audit_it");
    kit = ActorTestKit.create("AdapterAuditLogIT", config);
    audit = new AdapterAuditLog(kit.system(), Fixtures.LIFECYCLE.tag());
    start = Instant.now().minusSeconds(1);
    var alpha = spawn("alpha");
    var beta = spawn("beta");
    execute(alpha, register(1));
    execute(beta, register(2));
    execute(alpha, publish(3));
    execute(alpha, new LifecycleRequest.Place("w1", "n1", "system:placement"));
    execute(beta, new LifecycleRequest.Retire("unused", "operator:carol"));
  }

  @AfterAll
  static void shutdown() {
    kit.shutdownTestKit();
  }

  private static ActorRef<AdapterLifecycle.Command> spawn(String name) {
    return kit.spawn(AdapterLifecycle.create(name, Fixtures.LIFECYCLE, Clock.systemUTC()), name);
  }

  private static void execute(ActorRef<AdapterLifecycle.Command> ref, LifecycleRequest request)
      throws Exception {
    LifecycleReply reply = AskPattern.<AdapterLifecycle.Command, LifecycleReply>ask(ref,
            r -> new AdapterLifecycle.Execute(request, r), TIMEOUT, kit.system().scheduler())
        .toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    assertTrue(reply instanceof LifecycleReply.Accepted, reply.toString());
  }

  @Test
  void history_returns_one_adapters_events_in_order_with_who_and_when() throws Exception {
    List<AuditRecord> history = audit.historyList("alpha", 100).toCompletableFuture()
        .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    assertEquals(List.of(AdapterEvent.AdapterRegistered.class,
            AdapterEvent.VersionPublished.class, AdapterEvent.PlacedOn.class),
        history.stream().map(r -> r.event().getClass()).toList());
    assertEquals(List.of("alice", "alice", "system:placement"),
        history.stream().map(r -> r.event().by()).toList());
    assertTrue(history.stream().allMatch(r -> r.adapter().equals("alpha")));
    assertTrue(history.stream().allMatch(r -> !r.writtenAt().isBefore(start)));
  }

  @Test
  void history_of_an_unknown_adapter_is_empty() throws Exception {
    assertEquals(List.of(), audit.historyList("nobody", 10).toCompletableFuture()
        .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
  }

  @Test
  void lifecycle_events_across_adapters_come_by_time_through_the_tag() throws Exception {
    List<AuditRecord> all = List.of();
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    for (int attempt = 0; attempt < 60 && System.nanoTime() < deadline; attempt++) {
      all = audit.lifecycleEventsList(start, 100).toCompletableFuture()
          .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      if (all.size() >= 5) {
        break;
      }
      Thread.sleep(500);
    }
    assertEquals(5, all.size(), all.toString());
    assertEquals(List.of(1L, 2L, 3L),
        all.stream().filter(r -> r.adapter().equals("alpha")).map(AuditRecord::sequenceNr)
            .toList());
    assertEquals(List.of(1L, 2L),
        all.stream().filter(r -> r.adapter().equals("beta")).map(AuditRecord::sequenceNr)
            .toList());
    for (int i = 1; i < all.size(); i++) {
      assertTrue(!all.get(i).writtenAt().isBefore(all.get(i - 1).writtenAt()), "time order");
    }
    assertEquals("operator:carol", all.stream()
        .filter(r -> r.event() instanceof AdapterEvent.Retired).findFirst().orElseThrow()
        .event().by());
  }

  @Test
  void live_lifecycle_events_deliver_what_was_written() throws Exception {
    List<AuditRecord> first = audit.liveLifecycleEvents(start).take(5)
        .runWith(Sink.seq(), kit.system()).toCompletableFuture()
        .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    assertEquals(5, first.size());
  }
}
