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
import dev.quiver.persistence.state.Rejection.AdapterRetired;
import dev.quiver.persistence.state.Rejection.InvalidRequest;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
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
      return accept(
          new AdapterEvent.VersionPublished(
              name, state.versions().size() + 1, p.rank(), p.targetModules(), p.digest(),
              p.sizeBytes(), p.source(), now, p.by()));
    }
    if (request instanceof RollBack rb) {
      if (state.isRetired()) {
        return reject(new AdapterRetired(name));
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
      Optional<Residency> resident = state.residencyOn(p.worker());
      if (resident.isPresent() && resident.get().version() == state.currentVersion()) {
        return reject(new Rejection.AlreadyPlaced(name, p.worker(), state.currentVersion()));
      }
      return accept(
          new AdapterEvent.PlacedOn(name, p.worker(), p.node(), state.currentVersion(), now,
              p.by()));
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
    if (request instanceof Retire r) {
      if (state.isRetired()) {
        return reject(new AdapterRetired(name));
      }
      return accept(new AdapterEvent.Retired(name, r.reason(), now, r.by()));
    }
    throw new IllegalArgumentException("unknown lifecycle request " + request);
  }

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
