package dev.quiver.persistence.blob;

import dev.quiver.persistence.ContentDigest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Moves whole adapter directories ({@code adapter_config.json} + {@code
 * adapter_model.safetensors}) between a node's disk and the blob store, as one
 * {@link AdapterPackage} blob per version. {@link #store} publishes a directory's content;
 * {@link #fetch} brings a version into this node's local disk cache (the engine's disk tier) as
 * {@code <cache>/<digest hex>/}, so any node can serve any adapter with no shared filesystem.
 *
 * <p>A cached directory appears atomically (extracted beside it, then renamed) and only after
 * the blob verified, so a directory named by a digest always holds exactly that content.
 */
public final class AdapterDirectories {

  private static final String INCOMING = ".incoming";

  private final BlobStore store;
  private final Path cacheRoot;

  public AdapterDirectories(BlobStore store, Path cacheRoot) {
    this.store = store;
    this.cacheRoot = cacheRoot.toAbsolutePath().normalize();
  }

  /** Stores the adapter in {@code adapterDir}; returns the digest that names this version. */
  public ContentDigest store(Path adapterDir) throws IOException {
    Path incoming = Files.createDirectories(cacheRoot.resolve(INCOMING));
    Path archive = incoming.resolve("put-" + UUID.randomUUID() + ".tar");
    try {
      try (OutputStream out = Files.newOutputStream(archive)) {
        AdapterPackage.write(adapterDir, out);
      }
      return store.put(archive);
    } finally {
      Files.deleteIfExists(archive);
    }
  }

  /** Where {@link #fetch} puts (or found) the adapter version {@code digest}. */
  public Path cachedPath(ContentDigest digest) {
    return cacheRoot.resolve(digest.hex());
  }

  /**
   * The local directory of adapter version {@code digest}, fetched from the blob store and
   * verified when it is not cached yet.
   *
   * @throws BlobNotFoundException when the store has no such blob
   * @throws BlobIntegrityException when the stored blob is damaged (nothing is cached then)
   */
  public Path fetch(ContentDigest digest) throws IOException {
    Path target = cachedPath(digest);
    if (Files.isDirectory(target)) {
      return target;
    }
    Path incoming = Files.createDirectories(cacheRoot.resolve(INCOMING));
    String id = digest.hex() + "-" + UUID.randomUUID();
    Path archive = incoming.resolve(id + ".tar");
    Path extracted = incoming.resolve(id);
    try {
      store.get(digest, archive);
      Files.createDirectories(extracted);
      try (InputStream in = Files.newInputStream(archive)) {
        AdapterPackage.extract(in, extracted);
      }
      try {
        Files.move(extracted, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        if (!Files.isDirectory(target)) {
          throw e;
        }
        // another fetch of the same digest won the rename; its copy is identical
      }
      return target;
    } finally {
      Files.deleteIfExists(archive);
      deleteTree(extracted);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
