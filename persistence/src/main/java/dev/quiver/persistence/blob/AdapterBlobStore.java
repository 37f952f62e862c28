package dev.quiver.persistence.blob;

import com.datastax.oss.driver.api.core.ConsistencyLevel;
import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.cql.AsyncResultSet;
import com.datastax.oss.driver.api.core.cql.BoundStatement;
import com.datastax.oss.driver.api.core.cql.PreparedStatement;
import com.datastax.oss.driver.api.core.cql.Row;
import com.datastax.oss.driver.api.core.cql.SimpleStatement;
import dev.quiver.persistence.ContentDigest;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.blob.BlobIntegrityException.Problem;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.connectors.cassandra.CassandraSessionSettings;
import org.apache.pekko.stream.connectors.cassandra.javadsl.CassandraSessionRegistry;

/**
 * Adapter files in Cassandra, content-addressed: a blob is cut into chunks of at most 1 MiB,
 * each stored in its own partition keyed by (sha256 of the whole blob, chunk index) with the
 * chunk's own sha256 beside it; a manifest row (digest, size, chunk count) is written after the
 * last chunk and is what makes the blob visible. Blobs are immutable: putting the same bytes
 * twice is a no-op. Callers write a blob before the {@code VersionPublished} event that names it.
 *
 * <p>Both directions stream: {@link #put(Path)} reads the file twice (hash, then upload and
 * re-hash) holding at most {@code write-parallelism} chunks in heap; {@link #get(ContentDigest,
 * OutputStream)} holds at most {@code read-ahead} chunks, checks every chunk against its own hash
 * as it arrives and the whole blob against its digest at the end, and throws
 * {@link BlobIntegrityException} naming the digest and chunk on any damage.
 *
 * <p>Blocking API: call it from a blocking dispatcher or a plain thread, never from a driver or
 * actor thread. Reads and writes use LOCAL_QUORUM.
 */
public final class AdapterBlobStore implements BlobStore {

  static final String CHUNKS = "adapter_chunks";
  static final String MANIFESTS = "adapter_manifests";
  private static final Duration AWAIT_SLACK = Duration.ofSeconds(5);

  private final CqlSession session;
  private final PersistenceSettings.Blob settings;
  private final PreparedStatement insertChunk;
  private final PreparedStatement selectChunk;
  private final PreparedStatement insertManifest;
  private final PreparedStatement selectManifest;

  private AdapterBlobStore(CqlSession session, PersistenceSettings.Blob settings) {
    this.session = session;
    this.settings = settings;
    String ks = settings.keyspace();
    this.insertChunk = session.prepare("INSERT INTO " + ks + "." + CHUNKS
        + " (digest, chunk_index, chunk_sha256, data) VALUES (?, ?, ?, ?)");
    this.selectChunk = session.prepare("SELECT chunk_sha256, data FROM " + ks + "." + CHUNKS
        + " WHERE digest = ? AND chunk_index = ?");
    this.insertManifest = session.prepare("INSERT INTO " + ks + "." + MANIFESTS
        + " (digest, size_bytes, chunk_count, chunk_size, created_at) VALUES (?, ?, ?, ?, ?)");
    this.selectManifest = session.prepare("SELECT size_bytes, chunk_count, chunk_size, created_at"
        + " FROM " + ks + "." + MANIFESTS + " WHERE digest = ?");
  }

  /** A store over {@code session}; creates keyspace and tables first when auto-create is on. */
  public static AdapterBlobStore create(CqlSession session, PersistenceSettings.Blob settings) {
    if (settings.autoCreate()) {
      for (String statement : schema(settings.keyspace(), settings.replication())) {
        session.execute(SimpleStatement.newInstance(statement)
            .setTimeout(settings.requestTimeout().multipliedBy(2)));
      }
    }
    return new AdapterBlobStore(session, settings);
  }

  /**
   * A store over the actor system's Cassandra session ({@code pekko.connectors.cassandra}, which
   * uses the same {@code datastax-java-driver} section as the journal). Blocks until connected.
   */
  public static AdapterBlobStore create(ActorSystem<?> system, PersistenceSettings.Blob settings) {
    CqlSession session = await(
        CassandraSessionRegistry.get(system).sessionFor(CassandraSessionSettings.create())
            .underlying().toCompletableFuture(),
        Duration.ofSeconds(60), null, "connect to Cassandra");
    return create(session, settings);
  }

  /** The CQL that creates the blob store's keyspace and tables (also in schema.cql). */
  public static List<String> schema(String keyspace, String replication) {
    return List.of(
        "CREATE KEYSPACE IF NOT EXISTS " + keyspace + " WITH replication = {" + replication + "}",
        "CREATE TABLE IF NOT EXISTS " + keyspace + "." + CHUNKS + " ("
            + "digest text, chunk_index int, chunk_sha256 text, data blob,"
            + " PRIMARY KEY ((digest, chunk_index)))"
            + " WITH compression = {'enabled': 'false'}",
        "CREATE TABLE IF NOT EXISTS " + keyspace + "." + MANIFESTS + " ("
            + "digest text PRIMARY KEY, size_bytes bigint, chunk_count int, chunk_size int,"
            + " created_at timestamp)");
  }

  /** Stores the file's bytes; returns their digest. A blob already stored is not written again. */
  @Override
  public ContentDigest put(Path file) throws IOException {
    ContentDigest digest = hash(file);
    if (manifest(digest).isEmpty()) {
      upload(file, digest);
    }
    return digest;
  }

  /**
   * Stores the stream's bytes; returns their digest. The stream is spooled to a temporary file
   * while it is hashed (the chunks' key needs the whole digest first), then uploaded from it.
   */
  public ContentDigest put(InputStream in) throws IOException {
    Path spoolDir = settings.spoolDir().orElse(Path.of(System.getProperty("java.io.tmpdir")));
    Files.createDirectories(spoolDir);
    Path spool = Files.createTempFile(spoolDir, "quiver-blob-", ".spool");
    try {
      MessageDigest sha = ContentDigest.sha256();
      try (OutputStream out = Files.newOutputStream(spool);
          DigestInputStream digesting = new DigestInputStream(in, sha)) {
        digesting.transferTo(out);
      }
      ContentDigest digest = ContentDigest.of(sha);
      if (manifest(digest).isEmpty()) {
        upload(spool, digest);
      }
      return digest;
    } finally {
      Files.deleteIfExists(spool);
    }
  }

  /** The manifest of a complete blob, if there is one. */
  public Optional<BlobManifest> manifest(ContentDigest digest) {
    Row row = session.execute(bind(selectManifest.bind(digest.hex()))).one();
    if (row == null) {
      return Optional.empty();
    }
    return Optional.of(new BlobManifest(digest, row.getLong("size_bytes"),
        row.getInt("chunk_count"), row.getInt("chunk_size"), row.getInstant("created_at")));
  }

  public boolean contains(ContentDigest digest) {
    return manifest(digest).isPresent();
  }

  /**
   * Writes the blob to {@code out}, verifying each chunk and then the whole digest. On damage it
   * throws {@link BlobIntegrityException} after having written the chunks before the damaged
   * one; use {@link #get(ContentDigest, Path)} to never expose a partial file.
   *
   * @throws BlobNotFoundException when there is no manifest for {@code digest}
   */
  public BlobManifest get(ContentDigest digest, OutputStream out) throws IOException {
    BlobManifest manifest = manifest(digest).orElseThrow(() -> new BlobNotFoundException(digest));
    int count = manifest.chunkCount();
    MessageDigest whole = ContentDigest.sha256();
    Deque<CompletableFuture<AsyncResultSet>> window = new ArrayDeque<>();
    int requested = 0;
    long written = 0;
    for (int index = 0; index < count; index++) {
      while (requested < count && requested < index + settings.readAhead()) {
        window.addLast(session.executeAsync(bind(selectChunk.bind(digest.hex(), requested)))
            .toCompletableFuture());
        requested++;
      }
      AsyncResultSet result = await(window.removeFirst(), settings.requestTimeout(), digest,
          "read chunk " + index);
      Row row = result.one();
      if (row == null) {
        throw new BlobIntegrityException(digest, Problem.MISSING_CHUNK, index, count,
            "no row in " + settings.keyspace() + "." + CHUNKS);
      }
      byte[] bytes = bytesOf(row.getByteBuffer("data"));
      long expectedLength = index < count - 1 ? manifest.chunkSize()
          : manifest.sizeBytes() - (long) manifest.chunkSize() * (count - 1);
      if (bytes.length != expectedLength) {
        throw new BlobIntegrityException(digest, Problem.CHUNK_SIZE_MISMATCH, index, count,
            bytes.length + " bytes, expected " + expectedLength);
      }
      String stored = row.getString("chunk_sha256");
      String actual = ContentDigest.of(ContentDigest.sha256().digest(bytes)).hex();
      if (!actual.equals(stored)) {
        throw new BlobIntegrityException(digest, Problem.CHUNK_HASH_MISMATCH, index, count,
            "stored sha256 " + stored + ", bytes hash to " + actual);
      }
      whole.update(bytes);
      out.write(bytes);
      written += bytes.length;
    }
    ContentDigest actual = ContentDigest.of(whole);
    if (!actual.equals(digest) || written != manifest.sizeBytes()) {
      throw new BlobIntegrityException(digest, Problem.DIGEST_MISMATCH, -1, count,
          written + " bytes hash to " + actual);
    }
    return manifest;
  }

  /**
   * Writes the blob to {@code target} atomically: to a temporary sibling first, moved into place
   * only once every check passed; on failure nothing is left at {@code target}.
   */
  @Override
  public BlobManifest get(ContentDigest digest, Path target) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path part = dir.resolve(target.getFileName() + ".part-" + UUID.randomUUID());
    try {
      BlobManifest manifest;
      try (OutputStream out = Files.newOutputStream(part)) {
        manifest = get(digest, out);
      }
      Files.move(part, target, StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
      return manifest;
    } finally {
      Files.deleteIfExists(part);
    }
  }

  private void upload(Path file, ContentDigest digest) throws IOException {
    int chunkSize = settings.chunkSizeBytes();
    MessageDigest recheck = ContentDigest.sha256();
    Deque<CompletableFuture<AsyncResultSet>> inFlight = new ArrayDeque<>();
    long size;
    int count;
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      size = channel.size();
      count = Math.toIntExact((size + chunkSize - 1) / chunkSize);
      for (int index = 0; index < count; index++) {
        int length = (int) Math.min(chunkSize, size - (long) index * chunkSize);
        byte[] chunk = new byte[length];
        ByteBuffer buffer = ByteBuffer.wrap(chunk);
        while (buffer.hasRemaining()) {
          if (channel.read(buffer) < 0) {
            throw new BlobStoreException(digest, "adapter file " + file
                + " shrank while it was being stored (chunk " + index + ")");
          }
        }
        recheck.update(chunk);
        String chunkSha = ContentDigest.of(ContentDigest.sha256().digest(chunk)).hex();
        BoundStatement insert = bind(insertChunk.bind(digest.hex(), index, chunkSha,
            ByteBuffer.wrap(chunk)));
        inFlight.addLast(session.executeAsync(insert).toCompletableFuture());
        if (inFlight.size() >= settings.writeParallelism()) {
          await(inFlight.removeFirst(), settings.requestTimeout(), digest,
              "write chunk " + (index + 1 - settings.writeParallelism()));
        }
      }
    }
    while (!inFlight.isEmpty()) {
      await(inFlight.removeFirst(), settings.requestTimeout(), digest, "write a chunk");
    }
    if (!ContentDigest.of(recheck).equals(digest)) {
      throw new BlobStoreException(digest,
          "adapter file " + file + " changed while it was being stored; nothing was published");
    }
    session.execute(bind(insertManifest.bind(digest.hex(), size, count, chunkSize,
        Instant.now())));
  }

  private BoundStatement bind(BoundStatement statement) {
    return statement.setConsistencyLevel(ConsistencyLevel.LOCAL_QUORUM)
        .setTimeout(settings.requestTimeout());
  }

  private static ContentDigest hash(Path file) throws IOException {
    MessageDigest sha = ContentDigest.sha256();
    try (InputStream in = new DigestInputStream(Files.newInputStream(file), sha)) {
      in.transferTo(OutputStream.nullOutputStream());
    }
    return ContentDigest.of(sha);
  }

  private static byte[] bytesOf(ByteBuffer buffer) {
    if (buffer == null) {
      return new byte[0];
    }
    byte[] bytes = new byte[buffer.remaining()];
    buffer.duplicate().get(bytes);
    return bytes;
  }

  private static <T> T await(CompletableFuture<T> future, Duration timeout, ContentDigest digest,
      String what) {
    try {
      return future.get(timeout.plus(AWAIT_SLACK).toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new BlobStoreException(digest, "cannot " + what + " of adapter blob " + digest + ": "
          + e.getCause(), e.getCause());
    } catch (TimeoutException e) {
      future.cancel(true);
      throw new BlobStoreException(digest, "timed out after " + timeout.toSeconds()
          + "s trying to " + what + " of adapter blob " + digest, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BlobStoreException(digest, "interrupted while trying to " + what, e);
    }
  }
}
