package dev.quiver.persistence.state;

import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.JsonSerializable;
import java.time.Instant;
import java.util.List;

/**
 * One immutable published version of an adapter: its number (1 is the registration), the
 * content address of its files in the blob store and what the engine needs to know up front.
 */
public record AdapterVersion(
    int version,
    ContentDigest digest,
    long sizeBytes,
    int rank,
    List<String> targetModules,
    String source,
    Instant publishedAt,
    String publishedBy)
    implements JsonSerializable {
  public AdapterVersion {
    targetModules = List.copyOf(targetModules);
  }
}
