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
   * Where Cassandra is and how to talk to it.
   *
   * @param contactPoints {@code host:port} of an external cluster; empty means the embedded server
   * @param localDatacenter the driver's local data center (the embedded server's is
   *     {@code datacenter1})
   * @param credentials PasswordAuthenticator login, or none
   * @param tls client TLS, or off
   * @param replication of the keyspaces Quiver creates (journal, snapshots, blobs) and of
   *     {@code bin/quiver cassandra schema}
   * @param consistency of the journal and snapshot store's reads and writes
   */
  public record Cassandra(List<String> contactPoints, String localDatacenter, Embedded embedded,
      Optional<Credentials> credentials, Tls tls, Replication replication,
      Consistency consistency) {
    public Cassandra {
      contactPoints = List.copyOf(contactPoints);
    }

    /** Embedded-style defaults: no credentials, no TLS, one replica, Pekko's consistency. */
    public Cassandra(List<String> contactPoints, String localDatacenter, Embedded embedded) {
      this(contactPoints, localDatacenter, embedded, Optional.empty(), Tls.OFF,
          Replication.SINGLE, Consistency.DEFAULT);
    }

    /** True when no contact points are configured and Quiver runs its own Cassandra. */
    public boolean useEmbedded() {
      return contactPoints.isEmpty();
    }
  }

  /** A PasswordAuthenticator login. The password never appears in {@link #toString()}. */
  public record Credentials(String username, String password) {
    public Credentials {
      if (username.isBlank()) {
        throw new IllegalArgumentException("quiver.persistence.cassandra.username is empty");
      }
    }

    @Override
    public String toString() {
      return "Credentials[username=" + username + ", password=***]";
    }
  }

  /**
   * Client-to-node TLS.
   *
   * @param truststore the server certificates (or their CA) to trust; empty = the JVM's default
   * @param keystore this client's certificate and key, when the server asks for one
   * @param hostnameValidation check that the server certificate names the host connected to
   */
  public record Tls(boolean enabled, Optional<Path> truststore, String truststorePassword,
      Optional<Path> keystore, String keystorePassword, boolean hostnameValidation) {
    public static final Tls OFF = new Tls(false, Optional.empty(), "", Optional.empty(), "", true);

    @Override
    public String toString() {
      return "Tls[enabled=" + enabled + ", truststore=" + truststore + ", keystore=" + keystore
          + ", hostnameValidation=" + hostnameValidation + "]";
    }
  }

  /**
   * Keyspace replication.
   *
   * @param strategy {@code SimpleStrategy} or {@code NetworkTopologyStrategy}
   * @param replicationFactor SimpleStrategy's factor
   * @param dataCenters NetworkTopologyStrategy's factor per data center, in order
   */
  public record Replication(String strategy, int replicationFactor,
      java.util.Map<String, Integer> dataCenters) {
    public static final Replication SINGLE =
        new Replication("SimpleStrategy", 1, java.util.Map.of());

    public Replication {
      dataCenters = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(dataCenters));
      switch (strategy) {
        case "SimpleStrategy" -> {
          if (replicationFactor < 1) {
            throw new IllegalArgumentException(
                "quiver.persistence.cassandra.replication.replication-factor must be >= 1, got "
                    + replicationFactor);
          }
        }
        case "NetworkTopologyStrategy" -> {
          if (dataCenters.isEmpty()) {
            throw new IllegalArgumentException("quiver.persistence.cassandra.replication"
                + ".data-centers must name at least one data center (e.g. \"dc1:3,dc2:3\") for "
                + "NetworkTopologyStrategy");
          }
        }
        default -> throw new IllegalArgumentException("quiver.persistence.cassandra.replication"
            + ".strategy must be SimpleStrategy or NetworkTopologyStrategy, got '" + strategy + "'");
      }
    }

    /** The CQL map body: {@code 'class': 'NetworkTopologyStrategy', 'dc1': 3}. */
    public String cql() {
      if (strategy.equals("SimpleStrategy")) {
        return "'class': 'SimpleStrategy', 'replication_factor': " + replicationFactor;
      }
      StringBuilder b = new StringBuilder("'class': 'NetworkTopologyStrategy'");
      dataCenters.forEach((dc, n) -> b.append(", '").append(dc).append("': ").append(n));
      return b.toString();
    }

    /** Parses {@code "dc1:3,dc2:3"}. */
    static java.util.Map<String, Integer> parseDataCenters(String value) {
      java.util.Map<String, Integer> out = new java.util.LinkedHashMap<>();
      for (String part : value.split(",")) {
        if (part.isBlank()) {
          continue;
        }
        String[] kv = part.trim().split(":");
        int n;
        try {
          n = kv.length == 2 ? Integer.parseInt(kv[1].trim()) : -1;
        } catch (NumberFormatException e) {
          n = -1;
        }
        if (n < 1 || !kv[0].trim().matches("[A-Za-z0-9_.-]+")) {
          throw new IllegalArgumentException("quiver.persistence.cassandra.replication"
              + ".data-centers: '" + part.trim() + "' is not DC:FACTOR (e.g. dc1:3)");
        }
        out.put(kv[0].trim(), n);
      }
      return out;
    }
  }

  /**
   * Consistency levels (the driver's names: ONE, LOCAL_ONE, QUORUM, LOCAL_QUORUM, ALL...).
   *
   * @param journal the journal's reads and writes (its driver profile)
   * @param snapshot the snapshot store's reads and writes
   */
  public record Consistency(String journal, String snapshot) {
    private static final java.util.Set<String> LEVELS = java.util.Set.of("ANY", "ONE", "TWO",
        "THREE", "QUORUM", "ALL", "LOCAL_ONE", "LOCAL_QUORUM", "EACH_QUORUM");
    public static final Consistency DEFAULT = new Consistency("QUORUM", "ONE");

    public Consistency {
      for (String[] kv : new String[][] {{"journal", journal}, {"snapshot", snapshot}}) {
        if (!LEVELS.contains(kv[1])) {
          throw new IllegalArgumentException("quiver.persistence.cassandra.consistency." + kv[0]
              + " must be one of " + new java.util.TreeSet<>(LEVELS) + ", got '" + kv[1] + "'");
        }
      }
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
    Config k = c.getConfig("cassandra");
    Optional<Credentials> credentials = k.getString("username").isBlank() ? Optional.empty()
        : Optional.of(new Credentials(k.getString("username"), k.getString("password")));
    Config t = k.getConfig("tls");
    Tls tls = new Tls(t.getBoolean("enabled"), optionalPath(home, t.getString("truststore")),
        t.getString("truststore-password"), optionalPath(home, t.getString("keystore")),
        t.getString("keystore-password"), t.getBoolean("hostname-validation"));
    Config r = k.getConfig("replication");
    Replication replication = new Replication(r.getString("strategy"),
        r.getInt("replication-factor"), Replication.parseDataCenters(r.getString("data-centers")));
    Cassandra cassandra =
        new Cassandra(
            stringOrList(k, "contact-points"),
            k.getString("local-datacenter"),
            embedded,
            credentials,
            tls,
            replication,
            new Consistency(k.getString("consistency.journal"),
                k.getString("consistency.snapshot")));
    Config b = c.getConfig("blob");
    Blob blob =
        new Blob(
            b.getString("keyspace"),
            b.getBoolean("auto-create"),
            b.getString("replication").isBlank() ? replication.cql() : b.getString("replication"),
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

  /** A list, or one comma-separated string (what an environment variable can hold). */
  private static List<String> stringOrList(Config c, String key) {
    if (c.getValue(key).valueType() == com.typesafe.config.ConfigValueType.STRING) {
      return java.util.Arrays.stream(c.getString(key).split(",")).map(String::trim)
          .filter(x -> !x.isEmpty()).toList();
    }
    return c.getStringList(key);
  }

  private static int mib(long bytes) {
    return Math.toIntExact(bytes / (1024 * 1024));
  }

  private static Optional<Path> optionalPath(Path home, String value) {
    return value.isBlank() ? Optional.empty() : Optional.of(home.resolve(value).normalize());
  }
}
