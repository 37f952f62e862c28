package dev.quiver.persistence.blob;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.quiver.persistence.ContentDigest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The single-node blob store: content-addressed files, verified on every read. */
class LocalBlobStoreTest {

  @TempDir Path dir;

  private Path file(int size, long seed) throws Exception {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return Files.write(dir.resolve("in-" + seed), bytes);
  }

  @Test
  void a_blob_round_trips_under_the_sha256_of_its_bytes() throws Exception {
    LocalBlobStore store = new LocalBlobStore(dir.resolve("blobs"));
    Path in = file(300_000, 1);
    ContentDigest digest = store.put(in);
    assertEquals(ContentDigest.of(MessageDigest.getInstance("SHA-256")
        .digest(Files.readAllBytes(in))), digest);
    assertEquals(digest, store.put(in), "putting the same bytes again names the same blob");
    BlobManifest m = store.get(digest, dir.resolve("out/blob"));
    assertEquals(300_000, m.sizeBytes());
    assertArrayEquals(Files.readAllBytes(in), Files.readAllBytes(dir.resolve("out/blob")));
  }

  @Test
  void a_missing_blob_is_not_found_and_a_damaged_one_is_refused_leaving_nothing() throws Exception {
    LocalBlobStore store = new LocalBlobStore(dir.resolve("blobs"));
    ContentDigest digest = store.put(file(1000, 2));
    assertThrows(BlobNotFoundException.class,
        () -> store.get(ContentDigest.of(new byte[32]), dir.resolve("x")));
    Path stored = dir.resolve("blobs").resolve(digest.hex());
    byte[] bytes = Files.readAllBytes(stored);
    bytes[17] ^= 1;
    Files.write(stored, bytes);
    BlobIntegrityException e = assertThrows(BlobIntegrityException.class,
        () -> store.get(digest, dir.resolve("damaged")));
    assertEquals(BlobIntegrityException.Problem.DIGEST_MISMATCH, e.problem());
    assertFalse(Files.exists(dir.resolve("damaged")));
  }
}
