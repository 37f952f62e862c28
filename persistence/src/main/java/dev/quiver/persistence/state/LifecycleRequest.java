package dev.quiver.persistence.state;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.annotation.JsonTypeName;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.JsonSerializable;
import dev.quiver.persistence.events.EvictionReason;
import java.util.List;
import java.util.Map;

/**
 * What can be asked of an adapter's lifecycle, without the reply address: the adapter entity
 * (cluster-node) wraps these in its commands, {@link LifecycleRules#decide} validates them
 * against the current {@link AdapterState}. The adapter's name is the entity's, so it is not
 * repeated here. {@code by} is the principal that asks.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(LifecycleRequest.Register.class),
  @JsonSubTypes.Type(LifecycleRequest.PublishVersion.class),
  @JsonSubTypes.Type(LifecycleRequest.RollBack.class),
  @JsonSubTypes.Type(LifecycleRequest.Place.class),
  @JsonSubTypes.Type(LifecycleRequest.Evict.class),
  @JsonSubTypes.Type(LifecycleRequest.ReportLoadFailure.class),
  @JsonSubTypes.Type(LifecycleRequest.Retire.class),
  @JsonSubTypes.Type(LifecycleRequest.SetPreload.class),
  @JsonSubTypes.Type(LifecycleRequest.SetSplit.class),
  @JsonSubTypes.Type(LifecycleRequest.AbortSplit.class),
  @JsonSubTypes.Type(LifecycleRequest.SetFallback.class)
})
public sealed interface LifecycleRequest extends JsonSerializable {

  String by();

  /** Register a new adapter whose files are already in the blob store under {@code digest}. */
  @JsonTypeName("register")
  record Register(
      String tenant,
      String baseModel,
      int rank,
      List<String> targetModules,
      ContentDigest digest,
      long sizeBytes,
      String source,
      String by)
      implements LifecycleRequest {
    public Register {
      targetModules = targetModules == null ? List.of() : List.copyOf(targetModules);
    }
  }

  /**
   * Make new content (already in the blob store) the current version, or with {@code staged} only
   * add it as a new version (for a traffic split).
   */
  @JsonTypeName("publish-version")
  record PublishVersion(
      ContentDigest digest,
      long sizeBytes,
      int rank,
      List<String> targetModules,
      String source,
      String by,
      boolean staged)
      implements LifecycleRequest {
    public PublishVersion {
      targetModules = targetModules == null ? List.of() : List.copyOf(targetModules);
    }

    public PublishVersion(
        ContentDigest digest,
        long sizeBytes,
        int rank,
        List<String> targetModules,
        String source,
        String by) {
      this(digest, sizeBytes, rank, targetModules, source, by, false);
    }
  }

  /** Go back to the version that was current before the current one. */
  @JsonTypeName("roll-back")
  record RollBack(String reason, String by) implements LifecycleRequest {}

  /**
   * Record that {@code worker} on {@code node} now holds {@code version} (0: the current one; a
   * version of a traffic split otherwise).
   */
  @JsonTypeName("place")
  record Place(String worker, String node, String by, int version) implements LifecycleRequest {
    public Place(String worker, String node, String by) {
      this(worker, node, by, 0);
    }
  }

  /** Record that {@code worker} dropped the adapter. */
  @JsonTypeName("evict")
  record Evict(String worker, String node, EvictionReason reason, String by)
      implements LifecycleRequest {}

  /** Record that {@code worker} could not load {@code version}. */
  @JsonTypeName("report-load-failure")
  record ReportLoadFailure(String worker, String node, int version, String error, String by)
      implements LifecycleRequest {}

  /** Retire the adapter for good. */
  @JsonTypeName("retire")
  record Retire(String reason, String by) implements LifecycleRequest {}

  /** Keep at least {@code replicas} workers holding the current version, pinned (0: unpin). */
  @JsonTypeName("set-preload")
  record SetPreload(int replicas, String by) implements LifecycleRequest {}

  /**
   * Split traffic between versions ({@code weights}: version → percent, summing to 100), change
   * the split in progress, or with a single version at 100 end it (promote that version).
   */
  @JsonTypeName("set-split")
  record SetSplit(Map<Integer, Integer> weights, String reason, String by)
      implements LifecycleRequest {
    public SetSplit {
      weights = weights == null ? Map.of() : Split.sorted(weights);
    }
  }

  /** End the split in progress and return to the version that was active before it. */
  @JsonTypeName("abort-split")
  record AbortSplit(String reason, String by) implements LifecycleRequest {}

  /** Set what serves a request whose version cannot be loaded: {@code none} or {@code base}. */
  @JsonTypeName("set-fallback")
  record SetFallback(String fallback, String by) implements LifecycleRequest {}
}
