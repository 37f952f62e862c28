package dev.quiver.persistence.lifecycle;

import static dev.quiver.persistence.Fixtures.NOW;
import static dev.quiver.persistence.Fixtures.digest;
import static dev.quiver.persistence.Fixtures.register;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.quiver.persistence.Fixtures;
import dev.quiver.persistence.events.AdapterEvent;
import dev.quiver.persistence.state.AdapterState;
import dev.quiver.persistence.state.LifecycleRequest;
import dev.quiver.persistence.state.LifecycleRequest.AbortSplit;
import dev.quiver.persistence.state.LifecycleRequest.Place;
import dev.quiver.persistence.state.LifecycleRequest.PublishVersion;
import dev.quiver.persistence.state.LifecycleRequest.RollBack;
import dev.quiver.persistence.state.LifecycleRequest.SetFallback;
import dev.quiver.persistence.state.LifecycleRequest.SetSplit;
import dev.quiver.persistence.state.Rejection;
import dev.quiver.persistence.state.Split;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Traffic splits (canary, A/B), staged versions and the fallback setting through the
 * event-sourced behaviour on the in-memory journal, with serialization checks and restarts.
 */
class SplitLifecycleTest {

  private static final ActorTestKit testKit =
      ActorTestKit.create(
          "SplitLifecycleTest",
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
    name = "canary-" + adapters.incrementAndGet();
    adapter = EventSourcedBehaviorTestKit.create(
        testKit.system(), AdapterLifecycle.create(name, Fixtures.LIFECYCLE, Fixtures.CLOCK));
  }

  private AdapterEvent accepted(LifecycleRequest request) {
    var result = adapter.<LifecycleReply>runCommand(
        replyTo -> new AdapterLifecycle.Execute(request, replyTo));
    LifecycleReply.Accepted reply = assertInstanceOf(LifecycleReply.Accepted.class,
        result.reply(), () -> "refused: " + result.reply());
    return result.event();
  }

  private Rejection rejected(LifecycleRequest request) {
    var result = adapter.<LifecycleReply>runCommand(
        replyTo -> new AdapterLifecycle.Execute(request, replyTo));
    assertTrue(result.hasNoEvents(), "a rejected request persists nothing");
    return assertInstanceOf(LifecycleReply.Rejected.class, result.reply()).rejection();
  }

  private static PublishVersion staged(int seed) {
    PublishVersion p = Fixtures.publish(seed);
    return new PublishVersion(p.digest(), p.sizeBytes(), p.rank(), p.targetModules(), p.source(),
        p.by(), true);
  }

  private AdapterState state() {
    return adapter.getState();
  }

  /** v1 registered, v2 published staged: v1 still serves everything. */
  private void twoVersions() {
    accepted(register(1));
    AdapterEvent published = accepted(staged(2));
    assertTrue(((AdapterEvent.VersionPublished) published).staged());
  }

  @Test
  void a_staged_version_is_added_without_taking_traffic() {
    twoVersions();
    assertEquals(2, state().versions().size());
    assertEquals(1, state().currentVersion());
    assertEquals(Map.of(1, 100), state().trafficWeights());
    assertEquals(List.of(), state().rollbackStack());
  }

  @Test
  void starts_a_canary_split_with_the_active_version_as_baseline() {
    twoVersions();
    AdapterEvent e = accepted(new SetSplit(Map.of(1, 95, 2, 5), "canary", "alice"));
    assertEquals(new AdapterEvent.SplitStarted(name, Map.of(1, 95, 2, 5), 1, "canary", NOW,
        "alice"), e);
    assertEquals(Optional.of(new Split(Map.of(1, 95, 2, 5), 1, NOW, "alice")), state().split());
    assertEquals(1, state().currentVersion());
    assertTrue(state().getsTraffic(2));
  }

  @Test
  void changes_the_weights_of_the_split_in_progress_keeping_its_baseline() {
    twoVersions();
    accepted(new SetSplit(Map.of(1, 95, 2, 5), "canary", "alice"));
    AdapterEvent e = accepted(new SetSplit(Map.of(1, 50, 2, 50), "grow", "bob"));
    assertInstanceOf(AdapterEvent.SplitChanged.class, e);
    Split s = state().split().orElseThrow();
    assertEquals(Map.of(1, 50, 2, 50), s.weights());
    assertEquals(1, s.baselineVersion());
    assertEquals("alice", s.startedBy());
  }

  @Test
  void promoting_a_version_to_100_ends_the_split_and_makes_it_current_with_rollback_to_baseline() {
    twoVersions();
    accepted(new SetSplit(Map.of(1, 90, 2, 10), "canary", "alice"));
    AdapterEvent e = accepted(new SetSplit(Map.of(2, 100), "looks good", "alice"));
    assertEquals(new AdapterEvent.SplitEnded(name, 2, "promoted", "looks good", NOW, "alice"), e);
    assertEquals(Optional.empty(), state().split());
    assertEquals(2, state().currentVersion());
    assertEquals(List.of(1), state().rollbackStack());
    assertEquals(Map.of(2, 100), state().trafficWeights());
  }

  @Test
  void an_abort_returns_to_the_version_active_before_the_split() {
    twoVersions();
    accepted(new SetSplit(Map.of(1, 90, 2, 10), "canary", "alice"));
    AdapterEvent e = accepted(new AbortSplit("error rate up", "bob"));
    assertEquals(new AdapterEvent.SplitEnded(name, 1, "aborted", "error rate up", NOW, "bob"), e);
    assertEquals(1, state().currentVersion());
    assertEquals(Optional.empty(), state().split());
    assertEquals(List.of(), state().rollbackStack());
  }

  @Test
  void a_restart_recovers_the_split_in_progress_from_the_journal() {
    twoVersions();
    accepted(new SetSplit(Map.of(1, 90, 2, 10), "canary", "alice"));
    accepted(new SetFallback("base", "alice"));
    AdapterState before = state();
    adapter.restart();
    assertEquals(before, state());
    assertEquals(Map.of(1, 90, 2, 10), state().trafficWeights());
    assertEquals("base", state().fallback());
  }

  @Test
  void refuses_split_weights_that_do_not_sum_to_100_naming_versions() {
    twoVersions();
    Rejection r = rejected(new SetSplit(Map.of(1, 90, 2, 20), "x", "alice"));
    assertEquals(new Rejection.InvalidRequest(name, "versions", "weights must sum to 100, got 110"),
        r);
  }

  @Test
  void refuses_a_split_naming_an_unpublished_version() {
    twoVersions();
    Rejection r = rejected(new SetSplit(Map.of(1, 50, 7, 50), "x", "alice"));
    assertEquals("versions", assertInstanceOf(Rejection.InvalidRequest.class, r).field());
  }

  @Test
  void refuses_a_zero_weight_arm() {
    twoVersions();
    Rejection r = rejected(new SetSplit(Map.of(1, 100, 2, 0), "x", "alice"));
    assertEquals("versions", assertInstanceOf(Rejection.InvalidRequest.class, r).field());
  }

  @Test
  void refuses_promote_or_abort_without_a_split() {
    twoVersions();
    assertEquals(new Rejection.NoActiveSplit(name),
        rejected(new SetSplit(Map.of(2, 100), "x", "alice")));
    assertEquals(new Rejection.NoActiveSplit(name), rejected(new AbortSplit("x", "alice")));
  }

  @Test
  void refuses_to_promote_a_version_outside_the_split() {
    twoVersions();
    accepted(staged(3));
    accepted(new SetSplit(Map.of(1, 90, 2, 10), "canary", "alice"));
    Rejection r = rejected(new SetSplit(Map.of(3, 100), "x", "alice"));
    assertEquals("versions", assertInstanceOf(Rejection.InvalidRequest.class, r).field());
  }

  @Test
  void refuses_an_activating_publish_or_a_rollback_while_a_split_runs_but_stages_versions() {
    twoVersions();
    accepted(new SetSplit(Map.of(1, 90, 2, 10), "canary", "alice"));
    assertInstanceOf(Rejection.SplitInProgress.class, rejected(Fixtures.publish(3)));
    assertInstanceOf(Rejection.SplitInProgress.class, rejected(new RollBack("x", "alice")));
    accepted(staged(3));
    assertEquals(3, state().versions().size());
  }

  @Test
  void places_a_split_arm_version_on_a_worker() {
    twoVersions();
    accepted(new SetSplit(Map.of(1, 90, 2, 10), "canary", "alice"));
    AdapterEvent e = accepted(new Place("w1", "n1", "system:placement", 2));
    assertEquals(new AdapterEvent.PlacedOn(name, "w1", "n1", 2, NOW, "system:placement"), e);
    Rejection r = rejected(new Place("w2", "n1", "system:placement", 5));
    assertEquals("version", assertInstanceOf(Rejection.InvalidRequest.class, r).field());
  }

  @Test
  void fallback_is_none_by_default_and_only_none_or_base() {
    accepted(register(1));
    assertEquals("none", state().fallback());
    Rejection r = rejected(new SetFallback("maybe", "alice"));
    assertEquals("fallback", assertInstanceOf(Rejection.InvalidRequest.class, r).field());
    accepted(new SetFallback("base", "alice"));
    assertEquals("base", state().fallback());
    assertEquals(digest(1), state().current().orElseThrow().digest());
  }
}
