package dev.quiver.persistence.lifecycle;

import static dev.quiver.persistence.Fixtures.NOW;
import static dev.quiver.persistence.Fixtures.digest;
import static dev.quiver.persistence.Fixtures.publish;
import static dev.quiver.persistence.Fixtures.register;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.quiver.persistence.Fixtures;
import dev.quiver.persistence.events.AdapterEvent;
import dev.quiver.persistence.events.EvictionReason;
import dev.quiver.persistence.state.AdapterState;
import dev.quiver.persistence.state.AdapterStatus;
import dev.quiver.persistence.state.LifecycleRequest;
import dev.quiver.persistence.state.LifecycleRequest.Evict;
import dev.quiver.persistence.state.LifecycleRequest.Place;
import dev.quiver.persistence.state.LifecycleRequest.Register;
import dev.quiver.persistence.state.LifecycleRequest.ReportLoadFailure;
import dev.quiver.persistence.state.LifecycleRequest.Retire;
import dev.quiver.persistence.state.LifecycleRequest.RollBack;
import dev.quiver.persistence.state.LifecycleRequest.SetPreload;
import dev.quiver.persistence.state.Rejection;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit.CommandResultWithReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every lifecycle request and every rejection, through the event-sourced behaviour on the
 * in-memory journal; the testkit also checks that commands, events, replies and state survive
 * Jackson serialization.
 */
class AdapterLifecycleTest {

  private static final ActorTestKit testKit =
      ActorTestKit.create(
          "AdapterLifecycleTest",
          EventSourcedBehaviorTestKit.config()
              .withFallback(PersistenceTestKitSnapshotPlugin.config())
              .withFallback(ConfigFactory.load()));
  private static final AtomicInteger adapters = new AtomicInteger();

  private String name;
  private EventSourcedBehaviorTestKit<AdapterLifecycle.Command, AdapterEvent, AdapterState>
      adapter;

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @BeforeEach
  void newAdapter() {
    name = "summarizer-" + adapters.incrementAndGet();
    adapter = EventSourcedBehaviorTestKit.create(
        testKit.system(), AdapterLifecycle.create(name, Fixtures.LIFECYCLE, Fixtures.CLOCK));
  }

  private CommandResultWithReply<AdapterLifecycle.Command, AdapterEvent, AdapterState,
      LifecycleReply> execute(LifecycleRequest request) {
    return adapter.runCommand(replyTo -> new AdapterLifecycle.Execute(request, replyTo));
  }

  private AdapterEvent accepted(LifecycleRequest request) {
    var result = execute(request);
    LifecycleReply.Accepted reply = assertInstanceOf(LifecycleReply.Accepted.class,
        result.reply());
    assertEquals(result.event(), reply.event());
    assertEquals(result.state(), reply.state());
    return result.event();
  }

  private Rejection rejected(LifecycleRequest request) {
    var result = execute(request);
    assertTrue(result.hasNoEvents(), "a rejected request persists nothing");
    return assertInstanceOf(LifecycleReply.Rejected.class, result.reply()).rejection();
  }

  @Test
  void registers_adapter_as_version_1() {
    var result = execute(register(1));
    assertEquals(
        new AdapterEvent.AdapterRegistered(name, "acme", "llama-3.1-8b", 16,
            List.of("q_proj", "v_proj"), digest(1), 84_000_000L, "upload:1", NOW, "alice"),
        result.event());
    AdapterState state = result.state();
    assertEquals(AdapterStatus.ACTIVE, state.status());
    assertEquals(1, state.currentVersion());
    assertEquals(digest(1), state.current().orElseThrow().digest());
    assertEquals("acme", state.tenant());
  }

  @Test
  void rejects_registration_of_a_registered_adapter() {
    accepted(register(1));
    assertEquals(new Rejection.AlreadyRegistered(name), rejected(register(2)));
  }

  @Test
  void rejects_registration_of_a_retired_adapter_name() {
    accepted(register(1));
    accepted(new Retire("superseded", "bob"));
    assertEquals(new Rejection.AdapterRetired(name), rejected(register(2)));
  }

  static Stream<Register> invalidRegistrations() {
    Register ok = register(1);
    return Stream.of(
        new Register(" ", ok.baseModel(), ok.rank(), ok.targetModules(), ok.digest(),
            ok.sizeBytes(), ok.source(), ok.by()),
        new Register(ok.tenant(), "", ok.rank(), ok.targetModules(), ok.digest(),
            ok.sizeBytes(), ok.source(), ok.by()),
        new Register(ok.tenant(), ok.baseModel(), 0, ok.targetModules(), ok.digest(),
            ok.sizeBytes(), ok.source(), ok.by()),
        new Register(ok.tenant(), ok.baseModel(), ok.rank(), List.of(), ok.digest(),
            ok.sizeBytes(), ok.source(), ok.by()),
        new Register(ok.tenant(), ok.baseModel(), ok.rank(), List.of("q_proj", "q_proj"),
            ok.digest(), ok.sizeBytes(), ok.source(), ok.by()),
        new Register(ok.tenant(), ok.baseModel(), ok.rank(), ok.targetModules(), null,
            ok.sizeBytes(), ok.source(), ok.by()),
        new Register(ok.tenant(), ok.baseModel(), ok.rank(), ok.targetModules(), ok.digest(),
            0, ok.source(), ok.by()),
        new Register(ok.tenant(), ok.baseModel(), ok.rank(), ok.targetModules(), ok.digest(),
            ok.sizeBytes(), "", ok.by()),
        new Register(ok.tenant(), ok.baseModel(), ok.rank(), ok.targetModules(), ok.digest(),
            ok.sizeBytes(), ok.source(), " "));
  }

  @ParameterizedTest
  @MethodSource("invalidRegistrations")
  void rejects_registration_with_a_missing_or_out_of_range_field(Register request) {
    Rejection rejection = rejected(request);
    assertInstanceOf(Rejection.InvalidRequest.class, rejection);
    assertEquals(AdapterStatus.UNREGISTERED, adapter.getState().status());
  }

  @Test
  void rejects_registration_under_a_name_that_is_not_a_model_id() {
    var bad = EventSourcedBehaviorTestKit.<AdapterLifecycle.Command, AdapterEvent, AdapterState>
        create(testKit.system(), AdapterLifecycle.create("../etc", Fixtures.LIFECYCLE,
            Fixtures.CLOCK));
    var result = bad.<LifecycleReply>runCommand(
        replyTo -> new AdapterLifecycle.Execute(register(1), replyTo));
    Rejection.InvalidRequest rejection = assertInstanceOf(Rejection.InvalidRequest.class,
        assertInstanceOf(LifecycleReply.Rejected.class, result.reply()).rejection());
    assertEquals("name", rejection.field());
  }

  static Stream<LifecycleRequest> requestsOtherThanRegister() {
    return Stream.of(publish(2), new RollBack("bad", "bob"), new Place("w1", "n1", "sys"),
        new Evict("w1", "n1", EvictionReason.LRU, "sys"),
        new ReportLoadFailure("w1", "n1", 1, "boom", "sys"), new Retire("old", "bob"),
        new SetPreload(2, "bob"));
  }

  @ParameterizedTest
  @MethodSource("requestsOtherThanRegister")
  void rejects_every_request_to_an_unregistered_adapter(LifecycleRequest request) {
    assertEquals(new Rejection.NotRegistered(name), rejected(request));
  }

  @Test
  void publishes_new_version_and_makes_it_current() {
    accepted(register(1));
    AdapterEvent.VersionPublished published =
        assertInstanceOf(AdapterEvent.VersionPublished.class, accepted(publish(2)));
    assertEquals(2, published.version());
    AdapterState state = adapter.getState();
    assertEquals(2, state.currentVersion());
    assertEquals(List.of(1), state.rollbackStack());
    assertEquals(digest(2), state.current().orElseThrow().digest());
    assertEquals(List.of("q_proj", "k_proj", "v_proj"),
        state.current().orElseThrow().targetModules());
  }

  @Test
  void rejects_publish_to_retired_adapter() {
    accepted(register(1));
    accepted(new Retire("superseded", "bob"));
    assertEquals(new Rejection.AdapterRetired(name), rejected(publish(2)));
  }

  @Test
  void rejects_publish_of_the_digest_that_is_already_current() {
    accepted(register(1));
    assertEquals(new Rejection.DigestAlreadyCurrent(name, 1, digest(1)), rejected(publish(1)));
  }

  @Test
  void rejects_publish_with_invalid_rank() {
    accepted(register(1));
    var p = publish(2);
    Rejection rejection = rejected(new LifecycleRequest.PublishVersion(p.digest(), p.sizeBytes(),
        -4, p.targetModules(), p.source(), p.by()));
    assertEquals("rank", assertInstanceOf(Rejection.InvalidRequest.class, rejection).field());
  }

  @Test
  void republishing_an_older_digest_makes_a_new_version() {
    accepted(register(1));
    accepted(publish(2));
    var again = assertInstanceOf(AdapterEvent.VersionPublished.class, accepted(publish(1)));
    assertEquals(3, again.version());
  }

  @Test
  void rolls_back_through_previous_versions_in_order() {
    accepted(register(1));
    accepted(publish(2));
    accepted(publish(3));
    assertEquals(new AdapterEvent.RolledBack(name, 3, 2, "bad outputs", NOW, "bob"),
        accepted(new RollBack("bad outputs", "bob")));
    assertEquals(new AdapterEvent.RolledBack(name, 2, 1, "still bad", NOW, "bob"),
        accepted(new RollBack("still bad", "bob")));
    assertEquals(1, adapter.getState().currentVersion());
    assertEquals(3, adapter.getState().versions().size(), "versions are never deleted");
  }

  @Test
  void rolls_back_a_version_published_after_a_rollback_to_the_version_before_it() {
    accepted(register(1));
    accepted(publish(2));
    accepted(new RollBack("bad", "bob"));
    accepted(publish(3));
    var rolledBack = assertInstanceOf(AdapterEvent.RolledBack.class,
        accepted(new RollBack("bad again", "bob")));
    assertEquals(3, rolledBack.fromVersion());
    assertEquals(1, rolledBack.toVersion());
  }

  @Test
  void rejects_rollback_with_no_previous_version() {
    accepted(register(1));
    assertEquals(new Rejection.NoPreviousVersion(name, 1), rejected(new RollBack("x", "bob")));
  }

  @Test
  void rejects_rollback_of_retired_adapter() {
    accepted(register(1));
    accepted(publish(2));
    accepted(new Retire("superseded", "bob"));
    assertEquals(new Rejection.AdapterRetired(name), rejected(new RollBack("x", "bob")));
  }

  @Test
  void places_current_version_on_a_worker() {
    accepted(register(1));
    assertEquals(new AdapterEvent.PlacedOn(name, "node-a/gpu-0", "node-a:25520", 1, NOW,
        "system:placement"), accepted(new Place("node-a/gpu-0", "node-a:25520",
        "system:placement")));
    assertEquals(1, adapter.getState().residencyOn("node-a/gpu-0").orElseThrow().version());
  }

  @Test
  void re_places_a_worker_that_holds_an_older_version() {
    accepted(register(1));
    accepted(new Place("w1", "n1", "sys"));
    accepted(publish(2));
    accepted(new Place("w1", "n1", "sys"));
    assertEquals(1, adapter.getState().residents().size());
    assertEquals(2, adapter.getState().residents().get(0).version());
  }

  @Test
  void rejects_placing_a_worker_that_already_holds_the_current_version() {
    accepted(register(1));
    accepted(new Place("w1", "n1", "sys"));
    assertEquals(new Rejection.AlreadyPlaced(name, "w1", 1),
        rejected(new Place("w1", "n1", "sys")));
  }

  @Test
  void rejects_placing_a_retired_adapter() {
    accepted(register(1));
    accepted(new Retire("old", "bob"));
    assertEquals(new Rejection.AdapterRetired(name), rejected(new Place("w1", "n1", "sys")));
  }

  @Test
  void rejects_placing_without_a_worker() {
    accepted(register(1));
    Rejection rejection = rejected(new Place(" ", "n1", "sys"));
    assertEquals("worker", assertInstanceOf(Rejection.InvalidRequest.class, rejection).field());
  }

  @ParameterizedTest
  @EnumSource(EvictionReason.class)
  void evicts_from_a_worker_for_each_reason(EvictionReason reason) {
    accepted(register(1));
    accepted(new Place("w1", "n1", "sys"));
    accepted(new Place("w2", "n2", "sys"));
    assertEquals(new AdapterEvent.EvictedFrom(name, "w1", "n1", reason, NOW, "system:lru"),
        accepted(new Evict("w1", "n1", reason, "system:lru")));
    assertEquals(List.of("w2"),
        adapter.getState().residents().stream().map(r -> r.worker()).toList());
  }

  @Test
  void evicts_a_retired_adapter_from_its_workers() {
    accepted(register(1));
    accepted(new Place("w1", "n1", "sys"));
    accepted(new Retire("old", "bob"));
    accepted(new Evict("w1", "n1", EvictionReason.OPERATOR, "bob"));
    assertTrue(adapter.getState().residents().isEmpty());
  }

  @Test
  void rejects_eviction_from_a_worker_that_does_not_hold_it() {
    accepted(register(1));
    assertEquals(new Rejection.NotPlaced(name, "w9"),
        rejected(new Evict("w9", "n9", EvictionReason.OPERATOR, "bob")));
  }

  @Test
  void rejects_eviction_without_a_reason() {
    accepted(register(1));
    accepted(new Place("w1", "n1", "sys"));
    Rejection rejection = rejected(new Evict("w1", "n1", null, "bob"));
    assertEquals("reason", assertInstanceOf(Rejection.InvalidRequest.class, rejection).field());
  }

  @Test
  void records_a_load_failure_and_drops_the_worker() {
    accepted(register(1));
    accepted(new Place("w1", "n1", "sys"));
    accepted(new ReportLoadFailure("w1", "n1", 1, "rank 512 over the limit 64", "system:w1"));
    AdapterState state = adapter.getState();
    assertTrue(state.residents().isEmpty());
    assertEquals("rank 512 over the limit 64", state.lastLoadFailure().orElseThrow().error());
  }

  @Test
  void rejects_load_failure_for_an_unknown_version() {
    accepted(register(1));
    Rejection rejection = rejected(new ReportLoadFailure("w1", "n1", 7, "boom", "system:w1"));
    assertEquals("version", assertInstanceOf(Rejection.InvalidRequest.class, rejection).field());
  }

  @Test
  void rejects_load_failure_without_an_error() {
    accepted(register(1));
    Rejection rejection = rejected(new ReportLoadFailure("w1", "n1", 1, "", "system:w1"));
    assertEquals("error", assertInstanceOf(Rejection.InvalidRequest.class, rejection).field());
  }

  @Test
  void retires_adapter_and_keeps_its_history() {
    accepted(register(1));
    accepted(publish(2));
    assertEquals(new AdapterEvent.Retired(name, "superseded", NOW, "bob"),
        accepted(new Retire("superseded", "bob")));
    AdapterState state = adapter.getState();
    assertEquals(AdapterStatus.RETIRED, state.status());
    assertEquals(2, state.versions().size());
  }

  @Test
  void rejects_retiring_twice() {
    accepted(register(1));
    accepted(new Retire("superseded", "bob"));
    assertEquals(new Rejection.AdapterRetired(name), rejected(new Retire("again", "bob")));
  }

  @Test
  void sets_and_clears_the_preloaded_replica_count() {
    accepted(register(1));
    assertEquals(new AdapterEvent.PreloadChanged(name, 2, NOW, "alice"),
        accepted(new SetPreload(2, "alice")));
    assertEquals(2, adapter.getState().preloadReplicas());
    accepted(publish(2));
    assertEquals(2, adapter.getState().preloadReplicas(), "a new version keeps the preload");
    accepted(new SetPreload(0, "alice"));
    assertEquals(0, adapter.getState().preloadReplicas());
  }

  @Test
  void rejects_a_preload_that_changes_nothing_or_is_out_of_range() {
    accepted(register(1));
    accepted(new SetPreload(1, "alice"));
    assertEquals(new Rejection.PreloadUnchanged(name, 1), rejected(new SetPreload(1, "alice")));
    assertEquals("replicas", assertInstanceOf(Rejection.InvalidRequest.class,
        rejected(new SetPreload(-1, "alice"))).field());
    assertEquals("replicas", assertInstanceOf(Rejection.InvalidRequest.class,
        rejected(new SetPreload(65, "alice"))).field());
  }

  @Test
  void rejects_preloading_a_retired_adapter() {
    accepted(register(1));
    accepted(new Retire("old", "bob"));
    assertEquals(new Rejection.AdapterRetired(name), rejected(new SetPreload(1, "bob")));
  }

  @Test
  void get_state_replies_with_the_current_state() {
    accepted(register(1));
    var result = adapter.<AdapterState>runCommand(AdapterLifecycle.GetState::new);
    assertEquals(adapter.getState(), result.reply());
    assertTrue(result.hasNoEvents());
  }

  @Test
  void recovers_the_same_state_after_restart() {
    accepted(register(1));
    accepted(publish(2));
    accepted(new Place("w1", "n1", "sys"));
    accepted(new RollBack("bad", "bob"));
    accepted(new ReportLoadFailure("w2", "n2", 1, "oom", "system:w2"));
    accepted(new SetPreload(2, "alice"));
    AdapterState before = adapter.getState();
    assertEquals(before, adapter.restart().state());
  }
}
