package dev.quiver.persistence.state;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.annotation.JsonTypeName;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.JsonSerializable;
import dev.quiver.persistence.events.EvictionReason;
import java.util.List;

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
  @JsonSubTypes.Type(LifecycleRequest.SetPreload.class)
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

  /** Make new content (already in the blob store) the current version. */
  @JsonTypeName("publish-version")
  record PublishVersion(
      ContentDigest digest,
      long sizeBytes,
      int rank,
      List<String> targetModules,
      String source,
      String by)
      implements LifecycleRequest {
    public PublishVersion {
      targetModules = targetModules == null ? List.of() : List.copyOf(targetModules);
    }
  }

  /** Go back to the version that was current before the current one. */
  @JsonTypeName("roll-back")
  record RollBack(String reason, String by) implements LifecycleRequest {}

  /** Record that {@code worker} on {@code node} now holds the current version. */
  @JsonTypeName("place")
  record Place(String worker, String node, String by) implements LifecycleRequest {}

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
}
