package dev.quiver.persistence.blob;

import dev.quiver.persistence.ContentDigest;
import java.time.Instant;

/**
 * The row that makes a blob visible: written after all its chunks, so a reader that finds it
 * knows how many chunks to expect and how big the blob is.
 */
public record BlobManifest(
    ContentDigest digest, long sizeBytes, int chunkCount, int chunkSize, Instant createdAt) {}
