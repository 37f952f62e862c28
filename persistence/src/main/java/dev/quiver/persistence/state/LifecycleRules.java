package dev.quiver.persistence.state;

import dev.quiver.persistence.events.AdapterEvent;
import dev.quiver.persistence.state.LifecycleRequest.Evict;
import dev.quiver.persistence.state.LifecycleRequest.Place;
import dev.quiver.persistence.state.LifecycleRequest.PublishVersion;
import dev.quiver.persistence.state.LifecycleRequest.Register;
import dev.quiver.persistence.state.LifecycleRequest.ReportLoadFailure;
import dev.quiver.persistence.state.LifecycleRequest.Retire;
import dev.quiver.persistence.state.LifecycleRequest.RollBack;
import dev.quiver.persistence.state.LifecycleRequest.SetPreload;
import dev.quiver.persistence.state.LifecycleRequest.AbortSplit;
import dev.quiver.persistence.state.LifecycleRequest.SetFallback;
import dev.quiver.persistence.state.LifecycleRequest.SetSplit;
import dev.quiver.persistence.state.Rejection.AdapterRetired;
import dev.quiver.persistence.state.Rejection.InvalidRequest;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The validation of lifecycle requests against an adapter's state, apart from any actor or I/O:
 * given the state, a request and the time, it says which event to persist or why not. Pure, so
 * it is unit-tested alone and the entity only drives it.
 */
public final class LifecycleRules {

  /**
   * Adapter names are the {@code model} of API requests: short, URL- and CQL-safe. One optional {@code ORG/} in
   * front is the form adapter resolvers register Hub repo ids under ({@code my-org/sql-lora}); the admin API's own
   * names have none.
   */
  public static final Pattern ADAPTER_NAME =
      Pattern.compile("(?:[A-Za-z0-9][A-Za-z0-9._-]{0,63}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  /** The most preloaded replicas one adapter may ask for. */
  public static final int MAX_PRELOAD_REPLICAS = 64;

  private LifecycleRules() {}

  public static Decision decide(AdapterState state, LifecycleRequest request, Instant now) {
    String name = state.name();
    Optional<Rejection> invalid = validate(name, request);
    if (invalid.isPresent()) {
      return new Decision.Reject(invalid.get());
    }
    if (request instanceof Register r) {
      if (state.isRetired()) {
        return reject(new AdapterRetired(name));
      }
      if (state.isRegistered()) {
        return reject(new Rejection.AlreadyRegistered(name));
      }
      return accept(
          new AdapterEvent.AdapterRegistered(
              name, r.tenant(), r.baseModel(), r.rank(), r.targetModules(), r.digest(),
              r.sizeBytes(), r.source(), now, r.by()));
    }
    if (!state.isRegistered()) {
      return reject(new Rejection.NotRegistered(name));
    }
    if (request instanceof PublishVersion p) {
      if (state.isRetired()) {
        return reject(new AdapterRetired(name));
      }
      AdapterVersion current = state.current().orElseThrow();
      if (current.digest().equals(p.digest())) {
        return reject(new Rejection.DigestAlreadyCurrent(name, current.version(), p.digest()));
      }
      if (!p.staged() && state.split().isPresent()) {
        return reject(new Rejection.SplitInProgress(name, state.split().get().weights()));
      }
      return accept(
          new AdapterEvent.VersionPublished(
              name, state.versions().size() + 1, p.rank(), p.targetModules(), p.digest(),
              p.sizeBytes(), p.source(), now, p.by(), p.staged()));
    }
    if (request instanceof RollBack rb) {
      if (state.isRetired()) {
        return reject(new AdapterRetired(name));
      }
      if (state.split().isPresent()) {
        return reject(new Rejection.SplitInProgress(name, state.split().get().weights()));
      }
      List<Integer> stack = state.rollbackStack();
      if (stack.isEmpty()) {
        return reject(new Rejection.NoPreviousVersion(name, state.currentVersion()));
      }
      return accept(
          new AdapterEvent.RolledBack(
              name, state.currentVersion(), stack.get(stack.size() - 1), rb.reason(), now,
              rb.by()));
    }
    if (request instanceof Place p) {
      if (state.isRetired()) {
        return reject(new AdapterRetired(name));
      }
      int version = p.version() == 0 ? state.currentVersion() : p.version();
      if (!state.getsTraffic(version)) {
        return reject(new InvalidRequest(name, "version",
            "must be a version that gets traffic " + state.trafficWeights().keySet() + ", got "
                + version));
      }
      Optional<Residency> resident = state.residencyOn(p.worker());
      if (resident.isPresent() && resident.get().version() == version) {
        return reject(new Rejection.AlreadyPlaced(name, p.worker(), version));
      }
      return accept(new AdapterEvent.PlacedOn(name, p.worker(), p.node(), version, now, p.by()));
    }
    if (request instanceof Evict e) {
      if (state.residencyOn(e.worker()).isEmpty()) {
        return reject(new Rejection.NotPlaced(name, e.worker()));
      }
      return accept(new AdapterEvent.EvictedFrom(name, e.worker(), e.node(), e.reason(), now,
          e.by()));
    }
    if (request instanceof ReportLoadFailure f) {
      if (state.version(f.version()).isEmpty()) {
        return reject(new InvalidRequest(name, "version",
            "must be a published version (1.." + state.versions().size() + "), got "
                + f.version()));
      }
      return accept(new AdapterEvent.LoadFailed(name, f.worker(), f.node(), f.version(),
          f.error(), now, f.by()));
    }
    if (request instanceof SetPreload p) {
      if (state.isRetired()) {
        return reject(new AdapterRetired(name));
      }
      if (p.replicas() == state.preloadReplicas()) {
        return reject(new Rejection.PreloadUnchanged(name, p.replicas()));
      }
      return accept(new AdapterEvent.PreloadChanged(name, p.replicas(), now, p.by()));
    }
    if (request instanceof SetSplit sp) {
      return decideSplit(state, sp, now);
    }
    if (request instanceof AbortSplit a) {
      if (state.isRetired()) {
        return reject(new AdapterRetired(name));
      }
      if (state.split().isEmpty()) {
        return reject(new Rejection.NoActiveSplit(name));
      }
      return accept(new AdapterEvent.SplitEnded(name, state.split().get().baselineVersion(),
          AdapterEvent.SplitEnded.ABORTED, a.reason(), now, a.by()));
    }
    if (request instanceof SetFallback f) {
      if (state.isRetired()) {
        return reject(new AdapterRetired(name));
      }
      return accept(new AdapterEvent.FallbackChanged(name, f.fallback(), now, f.by()));
    }
    if (request instanceof Retire r) {
      if (state.isRetired()) {
        return reject(new AdapterRetired(name));
      }
      return accept(new AdapterEvent.Retired(name, r.reason(), now, r.by()));
    }
    throw new IllegalArgumentException("unknown lifecycle request " + request);
  }

  /**
   * Two or more versions start or change a split; one version at 100 ends the split in progress
   * (promoted, or aborted when it is the baseline). Every version must be published, and a
   * promoted one must be an arm of the split.
   */
  private static Decision decideSplit(AdapterState state, SetSplit sp, Instant now) {
    String name = state.name();
    if (state.isRetired()) {
      return reject(new AdapterRetired(name));
    }
    for (int v : sp.weights().keySet()) {
      if (state.version(v).isEmpty()) {
        return reject(new InvalidRequest(name, "versions",
            "must name published versions (1.." + state.versions().size() + "), got " + v));
      }
    }
    Optional<Split> running = state.split();
    if (sp.weights().size() == 1) {
      int only = sp.weights().keySet().iterator().next();
      if (running.isEmpty()) {
        return reject(new Rejection.NoActiveSplit(name));
      }
      if (!running.get().weights().containsKey(only)) {
        return reject(new InvalidRequest(name, "versions",
            "can promote only a version of the split in progress ("
                + Split.describe(running.get().weights()) + "), got " + only));
      }
      String outcome = only == running.get().baselineVersion()
          ? AdapterEvent.SplitEnded.ABORTED : AdapterEvent.SplitEnded.PROMOTED;
      return accept(new AdapterEvent.SplitEnded(name, only, outcome, sp.reason(), now, sp.by()));
    }
    if (running.isPresent()) {
      return accept(new AdapterEvent.SplitChanged(name, sp.weights(), sp.reason(), now, sp.by()));
    }
    return accept(new AdapterEvent.SplitStarted(name, sp.weights(), state.currentVersion(),
        sp.reason(), now, sp.by()));
  }

  /** The most versions one split may name. */
  public static final int MAX_SPLIT_VERSIONS = 8;

  /** Field checks that need no state; the first problem found, if any. */
  static Optional<Rejection> validate(String name, LifecycleRequest request) {
    if (name == null || !ADAPTER_NAME.matcher(name).matches()) {
      return invalid(name, "name",
          "must match " + ADAPTER_NAME.pattern() + ", got '" + name + "'");
    }
    if (blank(request.by())) {
      return invalid(name, "by", "(the principal) is required");
    }
    if (request instanceof Register r) {
      if (blank(r.tenant())) {
        return invalid(name, "tenant", "is required");
      }
      if (blank(r.baseModel())) {
        return invalid(name, "baseModel", "is required");
      }
      return content(name, r.digest(), r.sizeBytes(), r.rank(), r.targetModules(), r.source());
    }
    if (request instanceof PublishVersion p) {
      return content(name, p.digest(), p.sizeBytes(), p.rank(), p.targetModules(), p.source());
    }
    if (request instanceof Place p) {
      return worker(name, p.worker(), p.node());
    }
    if (request instanceof SetPreload p) {
      if (p.replicas() < 0 || p.replicas() > MAX_PRELOAD_REPLICAS) {
        return invalid(name, "replicas",
            "must be in [0, " + MAX_PRELOAD_REPLICAS + "], got " + p.replicas());
      }
    }
    if (request instanceof SetSplit sp) {
      Map<Integer, Integer> w = sp.weights();
      if (w.isEmpty()) {
        return invalid(name, "versions",
            "must map version numbers to percentages, e.g. {\"3\": 90, \"4\": 10}");
      }
      if (w.size() > MAX_SPLIT_VERSIONS) {
        return invalid(name, "versions",
            "may name at most " + MAX_SPLIT_VERSIONS + " versions, got " + w.size());
      }
      int sum = 0;
      for (Map.Entry<Integer, Integer> e : w.entrySet()) {
        if (e.getKey() == null || e.getKey() < 1) {
          return invalid(name, "versions", "keys must be version numbers >= 1, got " + e.getKey());
        }
        if (e.getValue() == null || e.getValue() < 1 || e.getValue() > 100) {
          return invalid(name, "versions",
              "weights must be integers in [1, 100], got " + e.getValue() + " for v" + e.getKey());
        }
        sum += e.getValue();
      }
      if (sum != 100) {
        return invalid(name, "versions", "weights must sum to 100, got " + sum);
      }
    }
    if (request instanceof SetFallback f) {
      if (!AdapterState.FALLBACK_NONE.equals(f.fallback())
          && !AdapterState.FALLBACK_BASE.equals(f.fallback())) {
        return invalid(name, "fallback", "must be 'none' or 'base', got '" + f.fallback() + "'");
      }
    }
    if (request instanceof Evict e) {
      if (e.reason() == null) {
        return invalid(name, "reason", "is required (lru, operator, node-lost, failed-load)");
      }
      return worker(name, e.worker(), e.node());
    }
    if (request instanceof ReportLoadFailure f) {
      if (blank(f.error())) {
        return invalid(name, "error", "is required");
      }
      return worker(name, f.worker(), f.node());
    }
    return Optional.empty();
  }

  private static Optional<Rejection> content(
      String name, Object digest, long sizeBytes, int rank, List<String> modules, String source) {
    if (digest == null) {
      return invalid(name, "digest", "is required");
    }
    if (sizeBytes <= 0) {
      return invalid(name, "sizeBytes", "must be positive, got " + sizeBytes);
    }
    if (rank < 1) {
      return invalid(name, "rank", "must be at least 1, got " + rank);
    }
    if (modules.isEmpty()) {
      return invalid(name, "targetModules", "must name at least one module");
    }
    if (modules.stream().anyMatch(LifecycleRules::blank)) {
      return invalid(name, "targetModules", "must not contain blank names");
    }
    if (new HashSet<>(modules).size() != modules.size()) {
      return invalid(name, "targetModules", "must not repeat a module: " + modules);
    }
    if (blank(source)) {
      return invalid(name, "source", "is required");
    }
    return Optional.empty();
  }

  private static Optional<Rejection> worker(String name, String worker, String node) {
    if (blank(worker)) {
      return invalid(name, "worker", "is required");
    }
    if (blank(node)) {
      return invalid(name, "node", "is required");
    }
    return Optional.empty();
  }

  private static Optional<Rejection> invalid(String name, String field, String problem) {
    return Optional.of(new InvalidRequest(name, field, problem));
  }

  private static Decision accept(AdapterEvent event) {
    return new Decision.Accept(event);
  }

  private static Decision reject(Rejection rejection) {
    return new Decision.Reject(rejection);
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }
}
