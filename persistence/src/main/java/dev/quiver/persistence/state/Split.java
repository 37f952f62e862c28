package dev.quiver.persistence.state;

import dev.quiver.persistence.JsonSerializable;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * A traffic split in progress between versions of one adapter (a canary or an A/B test): each
 * request goes to one of the versions in {@code weights}, chosen by a stable hash of the caller's
 * {@code user} (else the request id), so the share of each version is its weight in percent.
 *
 * @param weights version number → percent of requests, every weight in [1, 100], summing to 100;
 *     iterated in version order
 * @param baselineVersion the version that was active when the split started: where an abort
 *     returns
 * @param startedAt when the split started
 * @param startedBy who started it
 */
public record Split(
    Map<Integer, Integer> weights, int baselineVersion, Instant startedAt, String startedBy)
    implements JsonSerializable {

  public Split {
    weights = sorted(weights);
  }

  /** A copy of {@code weights} iterated in version order (an unmodifiable view of a tree map). */
  public static Map<Integer, Integer> sorted(Map<Integer, Integer> weights) {
    return java.util.Collections.unmodifiableMap(new TreeMap<>(weights));
  }

  /** {@code v3 90%, v4 10%}. */
  public static String describe(Map<Integer, Integer> weights) {
    return new TreeMap<>(weights).entrySet().stream()
        .map(e -> "v" + e.getKey() + " " + e.getValue() + "%")
        .collect(Collectors.joining(", "));
  }
}
