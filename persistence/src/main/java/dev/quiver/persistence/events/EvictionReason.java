package dev.quiver.persistence.events;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Why a worker stopped holding an adapter; written in events as the lowercase wire name. */
public enum EvictionReason {
  /** The worker needed the slot for a more recently used adapter. */
  @JsonProperty("lru")
  LRU,
  /** An operator asked for it through the admin API. */
  @JsonProperty("operator")
  OPERATOR,
  /** The worker's cluster node left or was downed; the adapter is re-placed elsewhere. */
  @JsonProperty("node-lost")
  NODE_LOST,
  /** The worker gave up on the adapter after it failed to load. */
  @JsonProperty("failed-load")
  FAILED_LOAD;

  /** The name used on the wire and in the admin API. */
  public String wireName() {
    return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }
}
