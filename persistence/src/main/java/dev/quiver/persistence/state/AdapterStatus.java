package dev.quiver.persistence.state;

/** Where an adapter is in its life. */
public enum AdapterStatus {
  /** No {@code AdapterRegistered} event yet: the entity exists only as a name. */
  UNREGISTERED,
  /** Registered and not retired: can get versions, be rolled back, placed and evicted. */
  ACTIVE,
  /** Retired: kept for the audit trail; only evictions and load reports are still accepted. */
  RETIRED
}
