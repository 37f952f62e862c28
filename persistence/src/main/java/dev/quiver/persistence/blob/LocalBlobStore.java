package dev.quiver.persistence.blob;

import dev.quiver.persistence.ContentDigest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.UUID;

/**
 * Blobs as files on this node's disk ({@code <root>/<digest hex>}), for a single node whose
 * lifecycle lives in memory ({@code quiver.node.persistence = in-memory}): nothing to share, so
 * no Cassandra. Reads re-hash the file, so a damaged blob fails as loudly as in Cassandra.
 */
public final class LocalBlobStore implements BlobStore {

  private final Path root;

  public LocalBlobStore(Path root) {
    this.root = root.toAbsolutePath().normalize();
  }

  @Override
  public ContentDigest put(Path file) throws IOException {
    Files.createDirectories(root);
    Path part = root.resolve(".part-" + UUID.randomUUID());
    try {
      MessageDigest sha = ContentDigest.sha256();
      try (InputStream in = new DigestInputStream(Files.newInputStream(file), sha);
          OutputStream out = Files.newOutputStream(part)) {
        in.transferTo(out);
      }
      ContentDigest digest = ContentDigest.of(sha);
      Path target = root.resolve(digest.hex());
      if (!Files.exists(target)) {
        Files.move(part, target, StandardCopyOption.ATOMIC_MOVE);
      }
      return digest;
    } finally {
      Files.deleteIfExists(part);
    }
  }

  @Override
  public BlobManifest get(ContentDigest digest, Path target) throws IOException {
    Path source = root.resolve(digest.hex());
    if (!Files.isRegularFile(source)) {
      throw new BlobNotFoundException(digest);
    }
    Path dir = target.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path part = dir.resolve(target.getFileName() + ".part-" + UUID.randomUUID());
    try {
      MessageDigest sha = ContentDigest.sha256();
      long size;
      try (InputStream in = new DigestInputStream(Files.newInputStream(source), sha);
          OutputStream out = Files.newOutputStream(part)) {
        size = in.transferTo(out);
      }
      ContentDigest actual = ContentDigest.of(sha);
      if (!actual.equals(digest)) {
        throw new BlobIntegrityException(digest, BlobIntegrityException.Problem.DIGEST_MISMATCH,
            -1, 1, size + " bytes hash to " + actual);
      }
      Files.move(part, target, StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
      return new BlobManifest(digest, size, 1, (int) Math.min(size, Integer.MAX_VALUE),
          Files.getLastModifiedTime(source).toInstant());
    } finally {
      Files.deleteIfExists(part);
    }
  }

  @Override
  public String toString() {
    return "local blobs in " + root;
  }
}
