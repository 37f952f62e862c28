package dev.quiver.persistence.state;

import dev.quiver.persistence.JsonSerializable;
import java.time.Instant;

/** A worker that holds a version of the adapter in one of its tiers, since {@code since}. */
public record Residency(String worker, String node, int version, Instant since)
    implements JsonSerializable {}
