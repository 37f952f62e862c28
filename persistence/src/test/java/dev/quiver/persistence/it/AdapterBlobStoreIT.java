package dev.quiver.persistence.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.cql.SimpleStatement;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.SharedCassandra;
import dev.quiver.persistence.blob.AdapterBlobStore;
import dev.quiver.persistence.blob.AdapterDirectories;
import dev.quiver.persistence.blob.AdapterPackage;
import dev.quiver.persistence.blob.BlobIntegrityException;
import dev.quiver.persistence.blob.BlobManifest;
import dev.quiver.persistence.blob.BlobNotFoundException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Adapter blobs on the real Cassandra: round trips, damage detection, the disk cache. */
@ExtendWith(SharedCassandra.class)
class AdapterBlobStoreIT {

  private static final int MIB = 1024 * 1024;
  private static CqlSession session;
  private static PersistenceSettings.Blob settings;
  private static AdapterBlobStore store;

  @TempDir Path tmp;

  @BeforeAll
  static void connect() {
    session = SharedCassandra.session();
    settings = PersistenceSettings.fromConfig(SharedCassandra.config("blob_it")).blob();
    store = AdapterBlobStore.create(session, settings);
  }

  @AfterAll
  static void close() {
    session.close();
  }

  private Path randomFile(String name, int size, long seed) throws IOException {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return Files.write(tmp.resolve(name), bytes);
  }

  private static ContentDigest sha(Path file) throws IOException {
    return ContentDigest.of(ContentDigest.sha256().digest(Files.readAllBytes(file)));
  }

  @Test
  void round_trips_a_multi_chunk_adapter_through_files() throws IOException {
    Path source = randomFile("adapter.bin", 5 * MIB + 12345, 1);
    ContentDigest digest = store.put(source);
    assertEquals(sha(source), digest);
    BlobManifest manifest = store.manifest(digest).orElseThrow();
    assertEquals(6, manifest.chunkCount());
    assertEquals(Files.size(source), manifest.sizeBytes());
    Path copy = tmp.resolve("copy.bin");
    store.get(digest, copy);
    assertArrayEquals(Files.readAllBytes(source), Files.readAllBytes(copy));
  }

  @Test
  void round_trips_a_stream_and_an_exact_multiple_of_the_chunk_size() throws IOException {
    byte[] bytes = new byte[3 * MIB];
    new Random(2).nextBytes(bytes);
    ContentDigest digest = store.put(new ByteArrayInputStream(bytes));
    assertEquals(3, store.manifest(digest).orElseThrow().chunkCount());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    store.get(digest, out);
    assertArrayEquals(bytes, out.toByteArray());
  }

  @Test
  void putting_the_same_bytes_twice_stores_one_blob() throws IOException {
    Path source = randomFile("same.bin", MIB + 1, 3);
    ContentDigest first = store.put(source);
    var created = store.manifest(first).orElseThrow().createdAt();
    assertEquals(first, store.put(source));
    assertEquals(created, store.manifest(first).orElseThrow().createdAt(), "not rewritten");
  }

  @Test
  void a_missing_blob_is_reported_by_digest() {
    ContentDigest unknown = ContentDigest.of(ContentDigest.sha256().digest(new byte[] {42}));
    BlobNotFoundException e = assertThrows(BlobNotFoundException.class,
        () -> store.get(unknown, OutputStream.nullOutputStream()));
    assertTrue(e.getMessage().contains(unknown.toString()), e.getMessage());
  }

  @Test
  void detects_a_corrupted_chunk_and_names_digest_and_chunk() throws IOException {
    ContentDigest digest = store.put(randomFile("corrupt.bin", 4 * MIB, 4));
    ByteBuffer damaged = chunk(digest, 2);
    damaged.put(100, (byte) (damaged.get(100) ^ 0x01));
    session.execute(SimpleStatement.newInstance("UPDATE " + settings.keyspace()
        + ".adapter_chunks SET data = ? WHERE digest = ? AND chunk_index = ?",
        damaged, digest.hex(), 2));
    Path target = tmp.resolve("corrupt.copy");
    BlobIntegrityException e = assertThrows(BlobIntegrityException.class,
        () -> store.get(digest, target));
    assertEquals(BlobIntegrityException.Problem.CHUNK_HASH_MISMATCH, e.problem());
    assertEquals(2, e.chunkIndex());
    assertTrue(e.getMessage().contains(digest.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("chunk 2 of 4"), e.getMessage());
    assertFalse(Files.exists(target), "a damaged blob never lands at the target path");
    try (var left = Files.list(tmp)) {
      assertTrue(left.noneMatch(p -> p.getFileName().toString().contains(".part-")));
    }
  }

  @Test
  void detects_a_missing_chunk() throws IOException {
    ContentDigest digest = store.put(randomFile("holey.bin", 3 * MIB + 7, 5));
    session.execute(SimpleStatement.newInstance("DELETE FROM " + settings.keyspace()
        + ".adapter_chunks WHERE digest = ? AND chunk_index = ?", digest.hex(), 1));
    BlobIntegrityException e = assertThrows(BlobIntegrityException.class,
        () -> store.get(digest, OutputStream.nullOutputStream()));
    assertEquals(BlobIntegrityException.Problem.MISSING_CHUNK, e.problem());
    assertEquals(1, e.chunkIndex());
    assertTrue(e.getMessage().contains("chunk 1 of 4"), e.getMessage());
  }

  @Test
  void detects_chunks_that_hash_right_but_are_not_the_adapter() throws IOException {
    ContentDigest digest = store.put(randomFile("swapped.bin", 2 * MIB, 6));
    byte[] other = new byte[MIB];
    new Random(99).nextBytes(other);
    String otherSha = ContentDigest.of(ContentDigest.sha256().digest(other)).hex();
    session.execute(SimpleStatement.newInstance("UPDATE " + settings.keyspace()
        + ".adapter_chunks SET data = ?, chunk_sha256 = ? WHERE digest = ? AND chunk_index = ?",
        ByteBuffer.wrap(other), otherSha, digest.hex(), 0));
    BlobIntegrityException e = assertThrows(BlobIntegrityException.class,
        () -> store.get(digest, OutputStream.nullOutputStream()));
    assertEquals(BlobIntegrityException.Problem.DIGEST_MISMATCH, e.problem());
    assertEquals(-1, e.chunkIndex());
  }

  @Test
  void fetches_an_adapter_directory_into_the_local_disk_cache() throws IOException {
    Path adapter = Files.createDirectories(tmp.resolve("my-adapter"));
    Files.writeString(adapter.resolve(AdapterPackage.CONFIG), "{\"r\": 8}");
    Files.write(adapter.resolve(AdapterPackage.WEIGHTS), Files.readAllBytes(
        randomFile("w.bin", 2 * MIB + 99, 7)));
    AdapterDirectories publisher = new AdapterDirectories(store, tmp.resolve("cache-node-a"));
    ContentDigest digest = publisher.store(adapter);

    AdapterDirectories otherNode = new AdapterDirectories(store, tmp.resolve("cache-node-b"));
    Path fetched = otherNode.fetch(digest);
    assertEquals(tmp.resolve("cache-node-b").resolve(digest.hex()), fetched);
    for (String name : AdapterPackage.FILES) {
      assertArrayEquals(Files.readAllBytes(adapter.resolve(name)),
          Files.readAllBytes(fetched.resolve(name)), name);
    }
    assertEquals(fetched, otherNode.fetch(digest), "second fetch is a cache hit");
    try (var incoming = Files.list(tmp.resolve("cache-node-b").resolve(".incoming"))) {
      assertEquals(0, incoming.count(), "no temporary files left");
    }
  }

  @Test
  void a_damaged_adapter_is_not_cached() throws IOException {
    Path adapter = Files.createDirectories(tmp.resolve("bad-adapter"));
    Files.writeString(adapter.resolve(AdapterPackage.CONFIG), "{\"r\": 4}");
    Files.write(adapter.resolve(AdapterPackage.WEIGHTS), new byte[MIB + 5]);
    AdapterDirectories node = new AdapterDirectories(store, tmp.resolve("cache"));
    ContentDigest digest = node.store(adapter);
    session.execute(SimpleStatement.newInstance("DELETE FROM " + settings.keyspace()
        + ".adapter_chunks WHERE digest = ? AND chunk_index = ?", digest.hex(), 0));
    assertThrows(BlobIntegrityException.class, () -> node.fetch(digest));
    assertFalse(Files.exists(node.cachedPath(digest)));
  }

  private static ByteBuffer chunk(ContentDigest digest, int index) {
    ByteBuffer data = session.execute(SimpleStatement.newInstance("SELECT data FROM "
        + settings.keyspace() + ".adapter_chunks WHERE digest = ? AND chunk_index = ?",
        digest.hex(), index)).one().getByteBuffer("data");
    ByteBuffer copy = ByteBuffer.allocate(data.remaining());
    copy.put(data.duplicate()).flip();
    return copy;
  }
}
