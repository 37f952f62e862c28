package dev.quiver.persistence.events;

import static dev.quiver.persistence.Fixtures.NOW;
import static dev.quiver.persistence.Fixtures.digest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.quiver.persistence.Fixtures;
import dev.quiver.persistence.lifecycle.LifecycleReply;
import dev.quiver.persistence.state.AdapterState;
import dev.quiver.persistence.state.LifecycleRequest;
import dev.quiver.persistence.state.LifecycleRules;
import dev.quiver.persistence.state.Decision;
import dev.quiver.persistence.state.Rejection;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The journal's view of events: JSON with versioned type names, a round trip for every message,
 * and events written in an earlier shape read into the current one.
 */
class EventSerializationTest {

  private static final ActorSystem<Void> system =
      ActorSystem.create(Behaviors.empty(), "EventSerializationTest", ConfigFactory.load());
  private static final Serialization serialization =
      SerializationExtension.get(Adapter.toClassic(system));

  @AfterAll
  static void shutdown() {
    system.terminate();
  }

  static Stream<AdapterEvent> allEvents() {
    return Stream.of(
        new AdapterEvent.AdapterRegistered("a", "acme", "llama-3.1-8b", 16,
            List.of("q_proj", "v_proj"), digest(1), 84_000_000L, "upload:1", NOW, "alice"),
        new AdapterEvent.VersionPublished("a", 2, 8, List.of("o_proj"), digest(2), 42L,
            "s3://bucket/a", NOW, "alice"),
        new AdapterEvent.RolledBack("a", 2, 1, "regression", NOW, "bob"),
        new AdapterEvent.PlacedOn("a", "node-a/gpu-0", "node-a:25520", 1, NOW, "system:placement"),
        new AdapterEvent.EvictedFrom("a", "node-a/gpu-0", "node-a:25520",
            EvictionReason.NODE_LOST, NOW, "system:failover"),
        new AdapterEvent.LoadFailed("a", "w1", "n1", 1, "shape mismatch in q_proj", NOW,
            "system:w1"),
        new AdapterEvent.PreloadChanged("a", 2, NOW, "alice"),
        new AdapterEvent.VersionPublished("a", 3, 8, List.of("o_proj"), digest(3), 43L,
            "upload:3", NOW, "alice", true),
        new AdapterEvent.SplitStarted("a", Map.of(1, 90, 3, 10), 1, "canary", NOW, "alice"),
        new AdapterEvent.SplitChanged("a", Map.of(1, 50, 3, 50), "grow", NOW, "alice"),
        new AdapterEvent.SplitEnded("a", 3, "promoted", "good", NOW, "bob"),
        new AdapterEvent.FallbackChanged("a", "base", NOW, "alice"),
        new AdapterEvent.Retired("a", "superseded", NOW, "bob"));
  }

  static Stream<Object> otherMessages() {
    AdapterState state = AdapterState.unregistered("a");
    for (AdapterEvent e : allEvents().toList()) {
      state = state.apply(e);
    }
    return Stream.of(
        state,
        AdapterState.unregistered("b"),
        new LifecycleReply.Accepted(allEvents().findFirst().orElseThrow(), state),
        new LifecycleReply.Rejected(new Rejection.NoPreviousVersion("a", 1)),
        new LifecycleReply.Rejected(new Rejection.DigestAlreadyCurrent("a", 1, digest(1))),
        new LifecycleReply.Rejected(new Rejection.InvalidRequest("a", "rank", "must be >= 1")),
        Fixtures.register(1),
        Fixtures.publish(2),
        new LifecycleRequest.Evict("w", "n", EvictionReason.LRU, "system:lru"),
        new LifecycleRequest.SetPreload(3, "alice"),
        new LifecycleReply.Rejected(new Rejection.PreloadUnchanged("a", 3)),
        new LifecycleRequest.SetSplit(Map.of(3, 95, 4, 5), "canary", "alice"),
        new LifecycleRequest.AbortSplit("regression", "bob"),
        new LifecycleRequest.SetFallback("base", "alice"),
        new LifecycleRequest.Place("w", "n", "system:placement", 4),
        new LifecycleReply.Rejected(new Rejection.NoActiveSplit("a")),
        new LifecycleReply.Rejected(new Rejection.SplitInProgress("a", Map.of(1, 90, 2, 10))),
        splitState());
  }

  /** A state in the middle of a split, with fallback on. */
  static AdapterState splitState() {
    AdapterState s = AdapterState.unregistered("a")
        .apply(allEvents().findFirst().orElseThrow())
        .apply(new AdapterEvent.VersionPublished("a", 2, 8, List.of("o_proj"), digest(2), 42L,
            "upload:2", NOW, "alice", true))
        .apply(new AdapterEvent.SplitStarted("a", Map.of(1, 95, 2, 5), 1, "canary", NOW, "alice"))
        .apply(new AdapterEvent.FallbackChanged("a", "base", NOW, "alice"));
    return s;
  }

  private static Object roundTrip(Object message) {
    Serializer serializer = serialization.findSerializerFor(message);
    byte[] bytes = serialization.serialize(message).get();
    String manifest = Serializers.manifestFor(serializer, message);
    return serialization.deserialize(bytes, serializer.identifier(), manifest).get();
  }

  @ParameterizedTest
  @MethodSource("allEvents")
  void every_event_round_trips_through_json(AdapterEvent event) {
    assertEquals(event, roundTrip(event));
  }

  @ParameterizedTest
  @MethodSource("otherMessages")
  void state_requests_replies_and_rejections_round_trip_through_json(Object message) {
    assertEquals(message, roundTrip(message));
  }

  @Test
  void events_are_readable_json_with_versioned_type_names() {
    AdapterEvent event = allEvents().findFirst().orElseThrow();
    Serializer serializer = serialization.findSerializerFor(event);
    String json = new String(serialization.serialize(event).get(), StandardCharsets.UTF_8);
    assertTrue(json.contains("\"type\":\"adapter-registered.v2\""), json);
    assertTrue(json.contains("\"digest\":\"sha256:" + digest(1).hex() + "\""), json);
    assertTrue(json.contains("\"at\":\"2026-11-20T10:00:00Z\""), json);
    assertEquals(AdapterEvent.AdapterRegistered.class.getName() + "#2",
        Serializers.manifestFor(serializer, event));
  }

  @Test
  void eviction_reasons_are_written_as_their_wire_names() {
    String json = new String(serialization.serialize(new AdapterEvent.EvictedFrom("a", "w", "n",
        EvictionReason.FAILED_LOAD, NOW, "sys")).get(), StandardCharsets.UTF_8);
    assertTrue(json.contains("\"reason\":\"failed-load\""), json);
    assertEquals("node-lost", EvictionReason.NODE_LOST.wireName());
  }

  /** An AdapterRegistered as the first prototype wrote it: manifest without #, v1 fields. */
  private static final String V1_JSON = """
      {"type":"adapter-registered.v1","adapter":"legacy","tenant":"acme",
       "baseModel":"tinyllama-1.1b","rank":8,"targetModules":"q_proj, v_proj",
       "digest":"sha256:%s","sizeBytes":1234,"at":"2026-11-02T08:30:00Z","by":"alice"}
      """.formatted(digest(7).hex());

  @Test
  void reads_adapter_registered_written_in_the_v1_shape() {
    Serializer serializer = serialization.findSerializerFor(allEvents().findFirst().orElseThrow());
    Object event = serialization.deserialize(V1_JSON.getBytes(StandardCharsets.UTF_8),
        serializer.identifier(), AdapterEvent.AdapterRegistered.class.getName()).get();
    assertEquals(
        new AdapterEvent.AdapterRegistered("legacy", "acme", "tinyllama-1.1b", 8,
            List.of("q_proj", "v_proj"), digest(7), 1234L,
            AdapterRegisteredMigration.UNKNOWN_SOURCE,
            java.time.Instant.parse("2026-11-02T08:30:00Z"), "alice"),
        event);
  }

  @Test
  void a_v1_registration_folds_into_the_same_state_as_a_current_one() {
    Serializer serializer = serialization.findSerializerFor(allEvents().findFirst().orElseThrow());
    AdapterEvent v1 = (AdapterEvent) serialization.deserialize(
        V1_JSON.getBytes(StandardCharsets.UTF_8), serializer.identifier(),
        AdapterEvent.AdapterRegistered.class.getName()).get();
    AdapterState state = AdapterState.unregistered("legacy").apply(v1);
    Decision next = LifecycleRules.decide(state, Fixtures.publish(8), NOW);
    assertEquals(2, ((AdapterEvent.VersionPublished)
        ((Decision.Accept) next).event()).version());
  }

  @Test
  void refuses_an_event_from_a_newer_schema_version_than_it_knows() {
    Serializer serializer = serialization.findSerializerFor(allEvents().findFirst().orElseThrow());
    byte[] bytes = serialization.serialize(allEvents().findFirst().orElseThrow()).get();
    assertThrows(Exception.class, () -> serialization.deserialize(bytes,
        serializer.identifier(), AdapterEvent.AdapterRegistered.class.getName() + "#3").get());
  }

  @Test
  void a_state_snapshot_written_before_preload_replicas_existed_reads_as_no_preload() {
    AdapterState state = AdapterState.unregistered("a");
    for (AdapterEvent e : allEvents().toList()) {
      state = state.apply(e);
    }
    assertEquals(2, state.preloadReplicas());
    Serializer serializer = serialization.findSerializerFor(state);
    String json = new String(serialization.serialize(state).get(), StandardCharsets.UTF_8);
    String old = json.replace(",\"preloadReplicas\":2", "");
    assertTrue(!old.equals(json) && !old.contains("preloadReplicas"), old);
    AdapterState read = (AdapterState) serialization.deserialize(
        old.getBytes(StandardCharsets.UTF_8), serializer.identifier(),
        Serializers.manifestFor(serializer, state)).get();
    assertEquals(0, read.preloadReplicas());
    assertEquals(state.versions(), read.versions());
  }

  @Test
  void a_version_published_before_staged_existed_reads_as_made_current() {
    AdapterEvent.VersionPublished staged = new AdapterEvent.VersionPublished("a", 2, 8,
        List.of("o_proj"), digest(2), 42L, "upload:2", NOW, "alice", true);
    Serializer serializer = serialization.findSerializerFor(staged);
    String json = new String(serialization.serialize(staged).get(), StandardCharsets.UTF_8);
    String old = json.replace(",\"staged\":true", "");
    assertTrue(!old.equals(json) && !old.contains("staged"), old);
    AdapterEvent.VersionPublished read = (AdapterEvent.VersionPublished) serialization.deserialize(
        old.getBytes(StandardCharsets.UTF_8), serializer.identifier(),
        Serializers.manifestFor(serializer, staged)).get();
    assertEquals(false, read.staged());
    assertEquals(2, AdapterState.unregistered("a").apply(allEvents().findFirst().orElseThrow())
        .apply(read).currentVersion());
  }

  @Test
  void a_state_snapshot_written_before_splits_and_fallback_existed_reads_as_none() {
    AdapterState state = splitState();
    Serializer serializer = serialization.findSerializerFor(state);
    String json = new String(serialization.serialize(state).get(), StandardCharsets.UTF_8);
    int at = json.indexOf(",\"split\":");
    assertTrue(at > 0, json);
    String old = json.substring(0, at) + "}";
    assertTrue(!old.contains("split") && !old.contains("fallback"), old);
    AdapterState read = (AdapterState) serialization.deserialize(
        old.getBytes(StandardCharsets.UTF_8), serializer.identifier(),
        Serializers.manifestFor(serializer, state)).get();
    assertEquals(java.util.Optional.empty(), read.split());
    assertEquals("none", read.fallback());
    assertEquals(state.versions(), read.versions());
    assertEquals(1, read.currentVersion());
  }
}
