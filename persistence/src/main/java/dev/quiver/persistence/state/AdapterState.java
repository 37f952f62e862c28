package dev.quiver.persistence.state;

import dev.quiver.persistence.JsonSerializable;
import dev.quiver.persistence.events.AdapterEvent;
import dev.quiver.persistence.events.AdapterEvent.AdapterRegistered;
import dev.quiver.persistence.events.AdapterEvent.EvictedFrom;
import dev.quiver.persistence.events.AdapterEvent.LoadFailed;
import dev.quiver.persistence.events.AdapterEvent.PlacedOn;
import dev.quiver.persistence.events.AdapterEvent.PreloadChanged;
import dev.quiver.persistence.events.AdapterEvent.Retired;
import dev.quiver.persistence.events.AdapterEvent.RolledBack;
import dev.quiver.persistence.events.AdapterEvent.VersionPublished;
import dev.quiver.persistence.events.AdapterEvent.FallbackChanged;
import dev.quiver.persistence.events.AdapterEvent.SplitChanged;
import dev.quiver.persistence.events.AdapterEvent.SplitEnded;
import dev.quiver.persistence.events.AdapterEvent.SplitStarted;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * What an adapter's lifecycle events fold into: status, every published version, which one is
 * current, the versions a rollback can return to, and the workers that hold it. Immutable; each
 * event gives a new state through {@link #apply}. The sharded adapter entity (cluster-node) keeps
 * one of these; so does recovery from the journal and the snapshot store, which serializes it.
 *
 * @param versions every published version in publication order; {@code versions.get(i)} is
 *     version {@code i + 1}
 * @param currentVersion the version requests are served with; 0 when unregistered
 * @param rollbackStack versions that were current before the current one, most recent last; a
 *     rollback pops it
 * @param residents workers holding the adapter, sorted by worker id
 * @param lastLoadFailure the most recent failed load, if any
 * @param lastChangedAt the time of the last event; {@link Instant#EPOCH} when unregistered
 * @param preloadReplicas how many workers must keep the current version pinned (0: none); a
 *     snapshot written before this field existed reads as 0
 * @param split the traffic split in progress, if any (during a split {@code currentVersion} is its
 *     baseline); a snapshot written before this field existed reads as none
 * @param fallback what serves a request whose version cannot be loaded: {@code none} (it fails)
 *     or {@code base} (the base model, marked); a snapshot written before it reads as {@code none}
 */
public record AdapterState(
    String name,
    AdapterStatus status,
    String tenant,
    String baseModel,
    List<AdapterVersion> versions,
    int currentVersion,
    List<Integer> rollbackStack,
    List<Residency> residents,
    Optional<LoadFailure> lastLoadFailure,
    Instant lastChangedAt,
    int preloadReplicas,
    Optional<Split> split,
    String fallback)
    implements JsonSerializable {

  /** The fallback values: the request fails, or the base model serves it. */
  public static final String FALLBACK_NONE = "none";

  public static final String FALLBACK_BASE = "base";

  public AdapterState {
    versions = List.copyOf(versions);
    rollbackStack = List.copyOf(rollbackStack);
    residents = List.copyOf(residents);
    split = split == null ? Optional.empty() : split;
    fallback = fallback == null ? FALLBACK_NONE : fallback;
  }

  /** A state without a split and without fallback (the shape before those existed). */
  public AdapterState(
      String name,
      AdapterStatus status,
      String tenant,
      String baseModel,
      List<AdapterVersion> versions,
      int currentVersion,
      List<Integer> rollbackStack,
      List<Residency> residents,
      Optional<LoadFailure> lastLoadFailure,
      Instant lastChangedAt,
      int preloadReplicas) {
    this(name, status, tenant, baseModel, versions, currentVersion, rollbackStack, residents,
        lastLoadFailure, lastChangedAt, preloadReplicas, Optional.empty(), FALLBACK_NONE);
  }

  /**
   * The versions that get traffic, version → percent: the split's weights, or the current version
   * at 100; empty when unregistered.
   */
  public java.util.Map<Integer, Integer> trafficWeights() {
    if (split.isPresent()) {
      return split.get().weights();
    }
    return currentVersion == 0 ? java.util.Map.of() : java.util.Map.of(currentVersion, 100);
  }

  /** Whether a request for {@code version} can be served: the current one or a split's arm. */
  public boolean getsTraffic(int version) {
    return trafficWeights().containsKey(version);
  }

  /** The state of an adapter entity before its first event. */
  public static AdapterState unregistered(String name) {
    return new AdapterState(
        name,
        AdapterStatus.UNREGISTERED,
        "",
        "",
        List.of(),
        0,
        List.of(),
        List.of(),
        Optional.empty(),
        Instant.EPOCH,
        0);
  }

  public boolean isRegistered() {
    return status != AdapterStatus.UNREGISTERED;
  }

  public boolean isRetired() {
    return status == AdapterStatus.RETIRED;
  }

  /** The current version; empty when unregistered. */
  public Optional<AdapterVersion> current() {
    return currentVersion == 0 ? Optional.empty() : version(currentVersion);
  }

  public Optional<AdapterVersion> version(int number) {
    return number >= 1 && number <= versions.size()
        ? Optional.of(versions.get(number - 1))
        : Optional.empty();
  }

  public Optional<Residency> residencyOn(String worker) {
    return residents.stream().filter(r -> r.worker().equals(worker)).findFirst();
  }

  /** The state after {@code event}. Throws on an event that cannot follow this state. */
  public AdapterState apply(AdapterEvent event) {
    if (!event.adapter().equals(name)) {
      throw new IllegalStateException(
          "event for adapter '" + event.adapter() + "' applied to adapter '" + name + "'");
    }
    if (!isRegistered() && !(event instanceof AdapterRegistered)) {
      throw new IllegalStateException(
          "adapter '" + name + "' is not registered; cannot apply " + event);
    }
    if (event instanceof AdapterRegistered e) {
      AdapterVersion first =
          new AdapterVersion(
              1, e.digest(), e.sizeBytes(), e.rank(), e.targetModules(), e.source(), e.at(), e.by());
      return new AdapterState(
          name,
          AdapterStatus.ACTIVE,
          e.tenant(),
          e.baseModel(),
          List.of(first),
          1,
          List.of(),
          List.of(),
          Optional.empty(),
          e.at(),
          0);
    } else if (event instanceof VersionPublished e) {
      if (e.version() != versions.size() + 1) {
        throw new IllegalStateException(
            "adapter '" + name + "' has " + versions.size() + " versions; cannot publish "
                + e.version());
      }
      List<AdapterVersion> nextVersions = new ArrayList<>(versions);
      boolean staged = e.staged();
      nextVersions.add(
          new AdapterVersion(
              e.version(),
              e.digest(),
              e.sizeBytes(),
              e.rank(),
              e.targetModules(),
              e.source(),
              e.at(),
              e.by()));
      if (staged) {
        return with(status, nextVersions, currentVersion, rollbackStack, residents,
            lastLoadFailure, e.at(), preloadReplicas);
      }
      List<Integer> stack = new ArrayList<>(rollbackStack);
      stack.add(currentVersion);
      return with(status, nextVersions, e.version(), stack, residents, lastLoadFailure, e.at(),
          preloadReplicas);
    } else if (event instanceof RolledBack e) {
      List<Integer> stack = new ArrayList<>(rollbackStack);
      int index = stack.lastIndexOf(e.toVersion());
      if (index < 0) {
        throw new IllegalStateException(
            "adapter '" + name + "' cannot roll back to version " + e.toVersion()
                + "; rollback stack is " + rollbackStack);
      }
      stack.subList(index, stack.size()).clear();
      return with(status, versions, e.toVersion(), stack, residents, lastLoadFailure, e.at(),
          preloadReplicas);
    } else if (event instanceof PlacedOn e) {
      List<Residency> next = withoutWorker(e.worker());
      next.add(new Residency(e.worker(), e.node(), e.version(), e.at()));
      next.sort(Comparator.comparing(Residency::worker));
      return with(status, versions, currentVersion, rollbackStack, next, lastLoadFailure, e.at(),
          preloadReplicas);
    } else if (event instanceof EvictedFrom e) {
      return with(status, versions, currentVersion, rollbackStack, withoutWorker(e.worker()),
          lastLoadFailure, e.at(), preloadReplicas);
    } else if (event instanceof LoadFailed e) {
      LoadFailure failure = new LoadFailure(e.worker(), e.node(), e.version(), e.error(), e.at());
      return with(status, versions, currentVersion, rollbackStack, withoutWorker(e.worker()),
          Optional.of(failure), e.at(), preloadReplicas);
    } else if (event instanceof PreloadChanged e) {
      return with(status, versions, currentVersion, rollbackStack, residents, lastLoadFailure,
          e.at(), e.replicas());
    } else if (event instanceof SplitStarted e) {
      return withSplit(Optional.of(new Split(e.weights(), e.baselineVersion(), e.at(), e.by())),
          currentVersion, rollbackStack, e.at());
    } else if (event instanceof SplitChanged e) {
      Split running = split.orElseThrow(() -> new IllegalStateException(
          "adapter '" + name + "' has no split to change: " + e));
      return withSplit(Optional.of(new Split(e.weights(), running.baselineVersion(),
          running.startedAt(), running.startedBy())), currentVersion, rollbackStack, e.at());
    } else if (event instanceof SplitEnded e) {
      if (e.activeVersion() == currentVersion) {
        return withSplit(Optional.empty(), currentVersion, rollbackStack, e.at());
      }
      List<Integer> stack = new ArrayList<>(rollbackStack);
      stack.add(currentVersion);
      return withSplit(Optional.empty(), e.activeVersion(), stack, e.at());
    } else if (event instanceof FallbackChanged e) {
      return new AdapterState(name, status, tenant, baseModel, versions, currentVersion,
          rollbackStack, residents, lastLoadFailure, e.at(), preloadReplicas, split, e.fallback());
    } else if (event instanceof Retired e) {
      return with(AdapterStatus.RETIRED, versions, currentVersion, rollbackStack, residents,
          lastLoadFailure, e.at(), preloadReplicas);
    }
    throw new IllegalStateException("unknown event " + event);
  }

  private AdapterState with(
      AdapterStatus status,
      List<AdapterVersion> versions,
      int currentVersion,
      List<Integer> rollbackStack,
      List<Residency> residents,
      Optional<LoadFailure> lastLoadFailure,
      Instant lastChangedAt,
      int preloadReplicas) {
    return new AdapterState(name, status, tenant, baseModel, versions, currentVersion,
        rollbackStack, residents, lastLoadFailure, lastChangedAt, preloadReplicas, split,
        fallback);
  }

  private AdapterState withSplit(
      Optional<Split> nextSplit, int nextCurrent, List<Integer> nextStack, Instant at) {
    return new AdapterState(name, status, tenant, baseModel, versions, nextCurrent, nextStack,
        residents, lastLoadFailure, at, preloadReplicas, nextSplit, fallback);
  }

  private List<Residency> withoutWorker(String worker) {
    List<Residency> next = new ArrayList<>(residents);
    next.removeIf(r -> r.worker().equals(worker));
    return next;
  }
}
