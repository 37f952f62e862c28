package dev.quiver.persistence.state;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.annotation.JsonTypeName;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.JsonSerializable;

/**
 * Why a {@link LifecycleRequest} was refused: typed, so the HTTP edge maps each kind to a status
 * once (conflict, not found, bad request), and serializable, so it crosses nodes intact.
 * {@link #message()} is a sentence for the API error and the log.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(Rejection.NotRegistered.class),
  @JsonSubTypes.Type(Rejection.AlreadyRegistered.class),
  @JsonSubTypes.Type(Rejection.AdapterRetired.class),
  @JsonSubTypes.Type(Rejection.NoPreviousVersion.class),
  @JsonSubTypes.Type(Rejection.DigestAlreadyCurrent.class),
  @JsonSubTypes.Type(Rejection.AlreadyPlaced.class),
  @JsonSubTypes.Type(Rejection.NotPlaced.class),
  @JsonSubTypes.Type(Rejection.InvalidRequest.class),
  @JsonSubTypes.Type(Rejection.PreloadUnchanged.class),
  @JsonSubTypes.Type(Rejection.NoActiveSplit.class),
  @JsonSubTypes.Type(Rejection.SplitInProgress.class)
})
public sealed interface Rejection extends JsonSerializable {

  String adapter();

  String message();

  /** The adapter has never been registered. */
  @JsonTypeName("not-registered")
  record NotRegistered(String adapter) implements Rejection {
    @Override
    public String message() {
      return "adapter '" + adapter + "' is not registered";
    }
  }

  /** A registration for a name that is already registered. */
  @JsonTypeName("already-registered")
  record AlreadyRegistered(String adapter) implements Rejection {
    @Override
    public String message() {
      return "adapter '" + adapter + "' is already registered; publish a new version instead";
    }
  }

  /** The adapter is retired: no versions, rollbacks, placements, and its name is not reused. */
  @JsonTypeName("adapter-retired")
  record AdapterRetired(String adapter) implements Rejection {
    @Override
    public String message() {
      return "adapter '" + adapter + "' is retired";
    }
  }

  /** A rollback with nothing to roll back to. */
  @JsonTypeName("no-previous-version")
  record NoPreviousVersion(String adapter, int currentVersion) implements Rejection {
    @Override
    public String message() {
      return "adapter '" + adapter + "' has no version to roll back to from version "
          + currentVersion;
    }
  }

  /** Publishing the content that is already current. */
  @JsonTypeName("digest-already-current")
  record DigestAlreadyCurrent(String adapter, int version, ContentDigest digest)
      implements Rejection {
    @Override
    public String message() {
      return "adapter '" + adapter + "' already serves " + digest + " as version " + version;
    }
  }

  /** The worker already holds the current version. */
  @JsonTypeName("already-placed")
  record AlreadyPlaced(String adapter, String worker, int version) implements Rejection {
    @Override
    public String message() {
      return "adapter '" + adapter + "' version " + version + " is already on worker " + worker;
    }
  }

  /** An eviction from a worker that does not hold the adapter. */
  @JsonTypeName("not-placed")
  record NotPlaced(String adapter, String worker) implements Rejection {
    @Override
    public String message() {
      return "adapter '" + adapter + "' is not on worker " + worker;
    }
  }

  /** A field of the request is missing or out of range. */
  @JsonTypeName("invalid-request")
  record InvalidRequest(String adapter, String field, String problem) implements Rejection {
    @Override
    public String message() {
      return "invalid request for adapter '" + adapter + "': " + field + " " + problem;
    }
  }

  /** A preload request for the replica count that is already set. */
  @JsonTypeName("preload-unchanged")
  record PreloadUnchanged(String adapter, int replicas) implements Rejection {
    @Override
    public String message() {
      return "adapter '" + adapter + "' already keeps " + replicas + " preloaded replicas";
    }
  }

  /** A promote or abort of a traffic split when none is active. */
  @JsonTypeName("no-active-split")
  record NoActiveSplit(String adapter) implements Rejection {
    @Override
    public String message() {
      return "adapter '" + adapter + "' has no traffic split in progress";
    }
  }

  /**
   * A change of the active version (publish with activation, rollback) while a traffic split is in
   * progress: the split would silently lose its baseline. Promote or abort the split first.
   */
  @JsonTypeName("split-in-progress")
  record SplitInProgress(String adapter, java.util.Map<Integer, Integer> weights)
      implements Rejection {
    @Override
    public String message() {
      return "adapter '" + adapter + "' has a traffic split in progress (" + Split.describe(weights)
          + "); promote or abort it first";
    }
  }
}
