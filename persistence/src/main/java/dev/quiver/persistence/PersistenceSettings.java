package dev.quiver.persistence;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * This module's options, read once from {@code quiver.persistence} (documented in this module's
 * {@code reference.conf}) into immutable records. Relative paths are resolved against
 * {@code quiver.home} (the repository root or install directory; {@code bin/quiver} sets it).
 *
 * <p>The journal and snapshot keyspaces are Pekko's own settings
 * ({@code pekko.persistence.cassandra.journal.keyspace}, {@code ...snapshot.keyspace}); this
 * record carries copies so one object answers "where does Quiver keep what".
 */
public record PersistenceSettings(
    Path home,
    Cassandra cassandra,
    String journalKeyspace,
    String snapshotKeyspace,
    Blob blob,
    Lifecycle lifecycle) {

  /**
   * Where Cassandra is.
   *
   * @param contactPoints {@code host:port} of an external cluster; empty means the embedded server
   * @param localDatacenter the driver's local data center (the embedded server's is
   *     {@code datacenter1})
   */
  public record Cassandra(List<String> contactPoints, String localDatacenter, Embedded embedded) {
    public Cassandra {
      contactPoints = List.copyOf(contactPoints);
    }

    /** True when no contact points are configured and Quiver runs its own Cassandra. */
    public boolean useEmbedded() {
      return contactPoints.isEmpty();
    }
  }

  /**
   * The embedded Cassandra server (a child JVM).
   *
   * @param dataDir its data, logs, rendered config and pid file
   * @param host the loopback address it binds (listen, rpc and seed address)
   * @param nativePort CQL port
   * @param storagePort inter-node port (bound even by a single node)
   * @param heapMinMiB {@code -Xms}
   * @param heapMaxMiB {@code -Xmx}
   * @param yamlTemplate a cassandra.yaml to use instead of the bundled copy of conf/cassandra.yaml
   * @param logbackConfig a logback.xml to use instead of the bundled conf/cassandra-logback.xml
   * @param extraJvmFlags appended to the child JVM's flags
   */
  public record Embedded(
      Path dataDir,
      String host,
      int nativePort,
      int storagePort,
      String clusterName,
      int heapMinMiB,
      int heapMaxMiB,
      Duration startTimeout,
      Duration stopTimeout,
      Optional<Path> yamlTemplate,
      Optional<Path> logbackConfig,
      List<String> extraJvmFlags) {
    public Embedded {
      extraJvmFlags = List.copyOf(extraJvmFlags);
      if (heapMinMiB > heapMaxMiB) {
        throw new IllegalArgumentException(
            "embedded Cassandra heap-min (" + heapMinMiB + " MiB) exceeds heap-max ("
                + heapMaxMiB + " MiB)");
      }
    }

    /** The same server on other ports and another data directory (tests pick free ports). */
    public Embedded at(Path otherDataDir, int otherNativePort, int otherStoragePort) {
      return new Embedded(otherDataDir, host, otherNativePort, otherStoragePort, clusterName,
          heapMinMiB, heapMaxMiB, startTimeout, stopTimeout, yamlTemplate, logbackConfig,
          extraJvmFlags);
    }
  }

  /**
   * The adapter blob store.
   *
   * @param chunkSizeBytes at most 1 MiB
   * @param writeParallelism chunk writes in flight (heap held: this many chunks)
   * @param readAhead chunk reads in flight
   * @param spoolDir where {@code put(InputStream)} spools before upload; empty = java.io.tmpdir
   */
  public record Blob(
      String keyspace,
      boolean autoCreate,
      String replication,
      int chunkSizeBytes,
      int writeParallelism,
      int readAhead,
      Duration requestTimeout,
      Optional<Path> spoolDir) {
    public static final int MAX_CHUNK_SIZE = 1024 * 1024;

    public Blob {
      if (chunkSizeBytes < 1 || chunkSizeBytes > MAX_CHUNK_SIZE) {
        throw new IllegalArgumentException(
            "quiver.persistence.blob.chunk-size must be 1 B..1 MiB, got " + chunkSizeBytes);
      }
      if (writeParallelism < 1 || readAhead < 1) {
        throw new IllegalArgumentException("blob write-parallelism and read-ahead must be >= 1");
      }
    }
  }

  /** The adapter lifecycle's journal options. */
  public record Lifecycle(String tag, int snapshotEvery, int keepSnapshots) {}

  /** Reads the settings from a loaded config (reference.conf supplies every default). */
  public static PersistenceSettings fromConfig(Config root) {
    Path home = Path.of(root.getString("quiver.home")).toAbsolutePath().normalize();
    Config c = root.getConfig("quiver.persistence");
    Config e = c.getConfig("cassandra.embedded");
    Embedded embedded =
        new Embedded(
            home.resolve(e.getString("data-dir")).normalize(),
            e.getString("host"),
            e.getInt("native-port"),
            e.getInt("storage-port"),
            e.getString("cluster-name"),
            mib(e.getBytes("heap-min")),
            mib(e.getBytes("heap-max")),
            e.getDuration("start-timeout"),
            e.getDuration("stop-timeout"),
            optionalPath(home, e.getString("yaml")),
            optionalPath(home, e.getString("logback")),
            e.getStringList("extra-jvm-flags"));
    Cassandra cassandra =
        new Cassandra(
            c.getStringList("cassandra.contact-points"),
            c.getString("cassandra.local-datacenter"),
            embedded);
    Config b = c.getConfig("blob");
    Blob blob =
        new Blob(
            b.getString("keyspace"),
            b.getBoolean("auto-create"),
            b.getString("replication"),
            Math.toIntExact(b.getBytes("chunk-size")),
            b.getInt("write-parallelism"),
            b.getInt("read-ahead"),
            b.getDuration("request-timeout"),
            optionalPath(home, b.getString("spool-dir")));
    Config l = c.getConfig("lifecycle");
    Lifecycle lifecycle =
        new Lifecycle(l.getString("tag"), l.getInt("snapshot-every"), l.getInt("keep-snapshots"));
    return new PersistenceSettings(
        home,
        cassandra,
        root.getString("pekko.persistence.cassandra.journal.keyspace"),
        root.getString("pekko.persistence.cassandra.snapshot.keyspace"),
        blob,
        lifecycle);
  }

  private static int mib(long bytes) {
    return Math.toIntExact(bytes / (1024 * 1024));
  }

  private static Optional<Path> optionalPath(Path home, String value) {
    return value.isBlank() ? Optional.empty() : Optional.of(home.resolve(value).normalize());
  }
}
