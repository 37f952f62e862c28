package dev.quiver.persistence.blob;

import dev.quiver.persistence.ContentDigest;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Immutable, content-addressed blobs: what {@link AdapterDirectories} needs to publish and fetch
 * adapter versions. {@link AdapterBlobStore} keeps them in Cassandra, shared by every node;
 * {@link LocalBlobStore} on this node's disk, for a single node without Cassandra.
 */
public interface BlobStore {

  /** Stores the file's bytes; returns their digest. Storing the same bytes again is a no-op. */
  ContentDigest put(Path file) throws IOException;

  /**
   * Writes blob {@code digest} to {@code target}, verified and atomically.
   *
   * @throws BlobNotFoundException when there is no such blob
   * @throws BlobIntegrityException when the stored bytes do not hash to {@code digest}
   */
  BlobManifest get(ContentDigest digest, Path target) throws IOException;
}
