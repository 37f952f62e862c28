package dev.quiver.persistence;

import dev.quiver.persistence.state.LifecycleRequest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;

/** Shared test data: digests, requests and a fixed clock. */
public final class Fixtures {

  public static final Instant NOW = Instant.parse("2026-11-20T10:00:00Z");
  public static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  public static final PersistenceSettings.Lifecycle LIFECYCLE =
      new PersistenceSettings.Lifecycle("adapter-lifecycle", 100, 2);

  private Fixtures() {}

  /** A distinct, valid digest per seed. */
  public static ContentDigest digest(int seed) {
    return ContentDigest.of(ContentDigest.sha256().digest(("adapter-" + seed).getBytes()));
  }

  public static LifecycleRequest.Register register(int seed) {
    return new LifecycleRequest.Register("acme", "llama-3.1-8b", 16,
        List.of("q_proj", "v_proj"), digest(seed), 84_000_000L, "upload:" + seed, "alice");
  }

  public static LifecycleRequest.PublishVersion publish(int seed) {
    return new LifecycleRequest.PublishVersion(digest(seed), 83_000_000L + seed, 16,
        List.of("q_proj", "k_proj", "v_proj"), "upload:" + seed, "alice");
  }
}
