package dev.quiver.persistence.events;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.annotation.JsonTypeName;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.JsonSerializable;
import java.time.Instant;
import dev.quiver.persistence.state.Split;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One step in the life of an adapter, as stored in the journal (persistence id
 * {@code Adapter|<name>}) and read back by recovery and by the audit log. Every event names its
 * adapter, when it happened ({@code at}) and the principal that caused it ({@code by}: a user or
 * token id for API calls, {@code operator:<id>} for admin actions, {@code system:<component>}
 * for automatic ones such as LRU eviction or failover).
 *
 * <h2>Evolution</h2>
 * Events are JSON (see {@link JsonSerializable}). Each record has a versioned type name
 * ({@code "type": "adapter-registered.v2"}) so a reader of the raw journal sees which shape it
 * holds, and Pekko's serializer adds the schema version to the manifest ({@code ...#2}) when a
 * {@link org.apache.pekko.serialization.jackson.JacksonMigration} is configured for the class in
 * {@code reference.conf}. To change an event's shape: bump the type name, raise the migration's
 * {@code currentVersion}, and teach the migration to rewrite the older JSON (fields and
 * {@code type}) into the new one; old events are never rewritten in place.
 * {@link AdapterRegisteredMigration} is the worked example (v1 to v2).
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(AdapterEvent.AdapterRegistered.class),
  @JsonSubTypes.Type(AdapterEvent.VersionPublished.class),
  @JsonSubTypes.Type(AdapterEvent.RolledBack.class),
  @JsonSubTypes.Type(AdapterEvent.PlacedOn.class),
  @JsonSubTypes.Type(AdapterEvent.EvictedFrom.class),
  @JsonSubTypes.Type(AdapterEvent.LoadFailed.class),
  @JsonSubTypes.Type(AdapterEvent.Retired.class),
  @JsonSubTypes.Type(AdapterEvent.PreloadChanged.class),
  @JsonSubTypes.Type(AdapterEvent.SplitStarted.class),
  @JsonSubTypes.Type(AdapterEvent.SplitChanged.class),
  @JsonSubTypes.Type(AdapterEvent.SplitEnded.class),
  @JsonSubTypes.Type(AdapterEvent.FallbackChanged.class)
})
public sealed interface AdapterEvent extends JsonSerializable {

  /** The adapter's name, which is also its entity id and the {@code model} of API requests. */
  String adapter();

  /** When the step happened (the entity's clock when it accepted the command). */
  Instant at();

  /** Who caused it. */
  String by();

  /**
   * The adapter was registered with its first version (version 1), whose content is already in
   * the blob store under {@code digest}.
   *
   * @param targetModules the projections the LoRA weights touch, e.g. {@code q_proj, v_proj}
   * @param source where the files came from (an upload id, a URL, a path), for the audit trail
   */
  @JsonTypeName(AdapterRegistered.TYPE_NAME)
  record AdapterRegistered(
      String adapter,
      String tenant,
      String baseModel,
      int rank,
      List<String> targetModules,
      ContentDigest digest,
      long sizeBytes,
      String source,
      Instant at,
      String by)
      implements AdapterEvent {
    public static final String TYPE_NAME = "adapter-registered.v2";

    public AdapterRegistered {
      targetModules = List.copyOf(targetModules);
      Objects.requireNonNull(digest, "digest");
    }
  }

  /**
   * A new immutable version was published and became current, or, when {@code staged}, was only
   * added (the current version stays; a traffic split or a promotion gives it traffic later).
   * Versions are numbered 1, 2, 3... in the order the entity accepted them; the content was
   * written to the blob store before this event. An event written before {@code staged} existed
   * reads as {@code false} (it became current), which is what it meant.
   */
  @JsonTypeName("version-published.v1")
  record VersionPublished(
      String adapter,
      int version,
      int rank,
      List<String> targetModules,
      ContentDigest digest,
      long sizeBytes,
      String source,
      Instant at,
      String by,
      boolean staged)
      implements AdapterEvent {
    public VersionPublished {
      targetModules = List.copyOf(targetModules);
      Objects.requireNonNull(digest, "digest");
    }

    /** A version that becomes current at once. */
    public VersionPublished(
        String adapter,
        int version,
        int rank,
        List<String> targetModules,
        ContentDigest digest,
        long sizeBytes,
        String source,
        Instant at,
        String by) {
      this(adapter, version, rank, targetModules, digest, sizeBytes, source, at, by, false);
    }
  }

  /** The current version went back from {@code fromVersion} to the one current before it. */
  @JsonTypeName("rolled-back.v1")
  record RolledBack(
      String adapter, int fromVersion, int toVersion, String reason, Instant at, String by)
      implements AdapterEvent {}

  /** {@code worker} (on cluster node {@code node}) loaded {@code version} and serves it. */
  @JsonTypeName("placed-on.v1")
  record PlacedOn(String adapter, String worker, String node, int version, Instant at, String by)
      implements AdapterEvent {}

  /** {@code worker} no longer holds the adapter, for {@code reason}. */
  @JsonTypeName("evicted-from.v1")
  record EvictedFrom(
      String adapter, String worker, String node, EvictionReason reason, Instant at, String by)
      implements AdapterEvent {}

  /**
   * {@code worker} tried to load {@code version} and could not; {@code error} is the engine's
   * message (it names the problem: shapes, rank, a bad file...). The worker does not hold it.
   */
  @JsonTypeName("load-failed.v1")
  record LoadFailed(
      String adapter, String worker, String node, int version, String error, Instant at, String by)
      implements AdapterEvent {}

  /** The adapter is retired: no new versions or placements; its name is never reused. */
  @JsonTypeName("retired.v1")
  record Retired(String adapter, String reason, Instant at, String by) implements AdapterEvent {}

  /**
   * An operator asked for at least {@code replicas} workers to keep the current version loaded
   * and pinned (0: no pin). The cluster places and re-places replicas to honour it.
   */
  @JsonTypeName("preload-changed.v1")
  record PreloadChanged(String adapter, int replicas, Instant at, String by)
      implements AdapterEvent {}

  /**
   * A traffic split started: requests go to the versions in {@code weights} (version → percent,
   * summing to 100) instead of only the current version, which is {@code baselineVersion} and
   * where an abort returns.
   */
  @JsonTypeName("split-started.v1")
  record SplitStarted(
      String adapter,
      Map<Integer, Integer> weights,
      int baselineVersion,
      String reason,
      Instant at,
      String by)
      implements AdapterEvent {
    public SplitStarted {
      weights = Split.sorted(weights);
    }
  }

  /** The weights of the split in progress changed (the canary grows, say). */
  @JsonTypeName("split-changed.v1")
  record SplitChanged(
      String adapter, Map<Integer, Integer> weights, String reason, Instant at, String by)
      implements AdapterEvent {
    public SplitChanged {
      weights = Split.sorted(weights);
    }
  }

  /**
   * The split ended and {@code activeVersion} serves every request: {@code outcome} is
   * {@code promoted} (a version got 100%) or {@code aborted} (back to the baseline).
   */
  @JsonTypeName("split-ended.v1")
  record SplitEnded(
      String adapter, int activeVersion, String outcome, String reason, Instant at, String by)
      implements AdapterEvent {
    public static final String PROMOTED = "promoted";
    public static final String ABORTED = "aborted";
  }

  /**
   * What happens to a request when the adapter's version cannot be loaded: {@code none} (the
   * request fails, the default) or {@code base} (the base model serves it, marked as such).
   */
  @JsonTypeName("fallback-changed.v1")
  record FallbackChanged(String adapter, String fallback, Instant at, String by)
      implements AdapterEvent {}
}
