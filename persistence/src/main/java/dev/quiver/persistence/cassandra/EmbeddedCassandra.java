package dev.quiver.persistence.cassandra;

import dev.quiver.persistence.PersistenceSettings.Embedded;
import dev.quiver.persistence.cassandra.child.CassandraChildMain;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts, watches and stops a real Apache Cassandra 5 server in a child JVM, for developers
 * ({@code bin/quiver cassandra start|stop|status}), for the run command when no external contact
 * points are configured, and for the integration tests. The server's class path is
 * {@link CassandraServerClasspath}, its config the rendered {@code conf/cassandra.yaml}, its data
 * under {@link Embedded#dataDir()}:
 *
 * <pre>
 *   data-dir/
 *     conf/cassandra.yaml  conf/logback.xml   rendered at each start
 *     storage/             data, commitlog, hints, saved_caches (-Dcassandra.storagedir)
 *     logs/system.log      Cassandra's log;  logs/console.log  the JVM's stdout and stderr
 *     cassandra.pid        pid of the running server;  cassandra.endpoint  its host:port
 * </pre>
 *
 * A server started {@link Mode#ATTACHED} dies with the JVM that started it (a shutdown hook
 * stops it, and the child watches its parent's pid in case the parent is killed outright); one
 * started {@link Mode#DETACHED} runs in its own session until {@link #stop(Embedded)}.
 */
public final class EmbeddedCassandra implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedCassandra.class);

  private static final Duration PROBE_INTERVAL = Duration.ofMillis(250);
  private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(1);
  private static final Duration KILL_WAIT = Duration.ofSeconds(15);
  private static final int LOG_TAIL_LINES = 40;

  /**
   * Flags Cassandra 5 needs on Java 17, after its conf/jvm17-server.options (module access for
   * its internals and for jamm, chronicle and netty) plus what makes a small dev server.
   */
  static final List<String> JAVA17_FLAGS =
      List.of(
          "-Djdk.attach.allowAttachSelf=true",
          "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
          "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
          "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
          "--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
          "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
          "--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED",
          "--add-exports=java.sql/java.sql=ALL-UNNAMED",
          "--add-exports=java.base/java.lang.ref=ALL-UNNAMED",
          "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
          "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
          "--add-exports=jdk.attach/sun.tools.attach=ALL-UNNAMED",
          "--add-opens=java.base/java.lang.module=ALL-UNNAMED",
          "--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED",
          "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
          "--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED",
          "--add-opens=java.base/jdk.internal.math=ALL-UNNAMED",
          "--add-opens=java.base/jdk.internal.module=ALL-UNNAMED",
          "--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED",
          "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
          "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
          "--add-opens=java.base/java.io=ALL-UNNAMED",
          "--add-opens=java.base/java.nio=ALL-UNNAMED",
          "--add-opens=java.base/java.lang=ALL-UNNAMED",
          "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
          "--add-opens=java.base/java.util=ALL-UNNAMED",
          "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
          "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
          "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
          "-Dio.netty.tryReflectionSetAccessible=true",
          "-Dio.netty.allocator.useCacheForAllThreads=true",
          "-Dio.netty.allocator.maxOrder=11",
          "-XX:+UseG1GC",
          "-XX:+ParallelRefProcEnabled",
          "-XX:MaxGCPauseMillis=300",
          "-XX:+ExitOnOutOfMemoryError",
          "-Xss256k",
          "-Djava.net.preferIPv4Stack=true",
          // Fast start of a single dev node: no gossip settling, foreground logging, no JMX port
          // (neither cassandra.jmx.local.port nor .remote.port is set, so JMX stays off).
          "-Dcassandra-foreground=yes",
          "-Dcassandra.skip_wait_for_gossip_to_settle=0",
          "-Dcassandra.ring_delay_ms=1000",
          "-Dcassandra.superuser_setup_delay_ms=0");

  /** Whether the server outlives the JVM that starts it. */
  public enum Mode {
    /** Stopped by a shutdown hook of this JVM, and exits when this JVM's pid disappears. */
    ATTACHED,
    /** Runs in its own session after this JVM exits; stop it with {@link #stop(Embedded)}. */
    DETACHED
  }

  /** What {@link #status(Embedded)} found. */
  public record Status(State state, OptionalLong pid, Optional<CassandraEndpoint> endpoint,
      Path dataDir) {
    public enum State {
      /** The pid is alive and CQL answers. */
      UP,
      /** The pid is alive but CQL does not answer (starting, stopping or stuck). */
      NOT_ANSWERING,
      /** No live server for this data directory. */
      DOWN
    }

    public String describe() {
      return switch (state) {
        case UP -> "Cassandra is up: pid " + pid.getAsLong() + ", CQL at " + endpoint.orElseThrow()
            + ", data in " + dataDir;
        case NOT_ANSWERING -> "Cassandra process " + pid.getAsLong()
            + " is alive but CQL does not answer at " + endpoint.map(Object::toString).orElse("?")
            + " (starting or stopping?); log: " + dataDir.resolve("logs/system.log");
        case DOWN -> "Cassandra is not running (data dir " + dataDir + ")";
      };
    }
  }

  private final Embedded settings;
  private final Process process;
  private final CassandraEndpoint endpoint;
  private final Thread shutdownHook;

  private EmbeddedCassandra(Embedded settings, Process process, Thread shutdownHook) {
    this.settings = settings;
    this.process = process;
    this.endpoint = new CassandraEndpoint(settings.host(), settings.nativePort());
    this.shutdownHook = shutdownHook;
  }

  /**
   * Starts a server and returns once it answers CQL.
   *
   * @throws CassandraStartException naming the taken port, a server already running on this
   *     data directory, or (when the server died or did not answer in time) with the tail of its
   *     log; the child is gone when this is thrown
   */
  public static EmbeddedCassandra start(Embedded settings, Mode mode) {
    Layout layout = new Layout(settings.dataDir());
    Status before = status(settings);
    if (before.state() != Status.State.DOWN) {
      throw new CassandraStartException(
          "a Cassandra server is already running from " + settings.dataDir() + " (pid "
              + before.pid().getAsLong() + "); stop it first (bin/quiver cassandra stop)");
    }
    checkPortFree(settings.host(), settings.nativePort(), "native_transport_port (CQL)",
        "quiver.persistence.cassandra.embedded.native-port");
    checkPortFree(settings.host(), settings.storagePort(), "storage_port",
        "quiver.persistence.cassandra.embedded.storage-port");
    CassandraServerClasspath classpath = CassandraServerClasspath.load();
    List<String> command = command(settings, layout, classpath, mode);
    Process process;
    try {
      layout.create();
      Files.writeString(layout.yaml(), CassandraYaml.render(readTemplate(settings), 
          settings.clusterName(), settings.host(), settings.nativePort(), settings.storagePort()));
      Files.writeString(layout.logback(), readLogback(settings));
      Files.writeString(layout.consoleLog(), "quiver: " + String.join(" ", command) + "\n");
      ProcessBuilder builder = new ProcessBuilder(command)
          .directory(layout.root().toFile())
          .redirectInput(ProcessBuilder.Redirect.from(nullDevice()))
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(layout.consoleLog().toFile()));
      process = builder.start();
    } catch (IOException e) {
      throw new CassandraStartException("cannot start the embedded Cassandra: " + e, e);
    }
    log.info("Starting Cassandra (pid {}) on {}:{} with data in {}", process.pid(),
        settings.host(), settings.nativePort(), settings.dataDir());
    Thread hook = null;
    if (mode == Mode.ATTACHED) {
      hook = new Thread(() -> terminate(process.toHandle(), settings.stopTimeout()),
          "quiver-cassandra-stop");
      Runtime.getRuntime().addShutdownHook(hook);
    }
    EmbeddedCassandra server = new EmbeddedCassandra(settings, process, hook);
    try {
      layout.writeRunFiles(process.pid(), server.endpoint);
      server.awaitCql(layout);
    } catch (RuntimeException e) {
      server.close();
      throw e;
    }
    return server;
  }

  /**
   * The endpoint of the server for {@code settings}: the running one, or a newly started detached
   * one. Used by the run command when no contact points are configured.
   */
  public static CassandraEndpoint ensureRunning(Embedded settings) {
    Status status = status(settings);
    if (status.state() == Status.State.UP) {
      return status.endpoint().orElseThrow();
    }
    if (status.state() == Status.State.NOT_ANSWERING) {
      throw new CassandraStartException(status.describe());
    }
    return start(settings, Mode.DETACHED).endpoint();
  }

  /** What runs from {@code settings.dataDir()}, from its pid and endpoint files. */
  public static Status status(Embedded settings) {
    Layout layout = new Layout(settings.dataDir());
    OptionalLong pid = layout.readPid();
    Optional<ProcessHandle> handle =
        pid.isPresent() ? ProcessHandle.of(pid.getAsLong()).filter(h -> isServer(h, settings))
            : Optional.empty();
    if (handle.isEmpty() || !handle.get().isAlive()) {
      return new Status(Status.State.DOWN, OptionalLong.empty(), Optional.empty(),
          settings.dataDir());
    }
    Optional<CassandraEndpoint> endpoint = layout.readEndpoint();
    boolean answers = endpoint.isPresent() && CqlProbe.answers(endpoint.get(), PROBE_TIMEOUT);
    return new Status(answers ? Status.State.UP : Status.State.NOT_ANSWERING, pid, endpoint,
        settings.dataDir());
  }

  /**
   * Stops the server running from {@code settings.dataDir()} (SIGTERM, so Cassandra flushes and
   * shuts down cleanly; SIGKILL after the stop timeout). Returns false when none was running.
   */
  public static boolean stop(Embedded settings) {
    Layout layout = new Layout(settings.dataDir());
    OptionalLong pid = layout.readPid();
    Optional<ProcessHandle> handle =
        pid.isPresent() ? ProcessHandle.of(pid.getAsLong()).filter(h -> isServer(h, settings))
            : Optional.empty();
    boolean wasRunning = handle.isPresent() && handle.get().isAlive();
    handle.ifPresent(h -> terminate(h, settings.stopTimeout()));
    layout.deleteRunFiles();
    return wasRunning;
  }

  public CassandraEndpoint endpoint() {
    return endpoint;
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  public Embedded settings() {
    return settings;
  }

  /** Stops this server cleanly (bounded by the stop timeout, then killed). Idempotent. */
  @Override
  public void close() {
    terminate(process.toHandle(), settings.stopTimeout());
    new Layout(settings.dataDir()).deleteRunFiles();
    if (shutdownHook != null) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException alreadyShuttingDown) {
        // the hook is running or has run; nothing to remove
      }
    }
  }

  private void awaitCql(Layout layout) {
    long deadline = System.nanoTime() + settings.startTimeout().toNanos();
    long maxProbes = settings.startTimeout().toMillis() / PROBE_INTERVAL.toMillis() + 1;
    for (long probe = 0; probe < maxProbes && System.nanoTime() < deadline; probe++) {
      if (!process.isAlive()) {
        throw new CassandraStartException(
            "the embedded Cassandra exited with code " + process.exitValue()
                + " while starting" + layout.logTail());
      }
      if (CqlProbe.answers(endpoint, PROBE_TIMEOUT)) {
        log.info("Cassandra answers CQL at {} (pid {})", endpoint, process.pid());
        return;
      }
      try {
        Thread.sleep(PROBE_INTERVAL.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CassandraStartException("interrupted while waiting for Cassandra", e);
      }
    }
    throw new CassandraStartException(
        "the embedded Cassandra did not answer CQL at " + endpoint + " within "
            + settings.startTimeout().toSeconds() + "s" + layout.logTail());
  }

  static List<String> command(Embedded settings, Layout layout,
      CassandraServerClasspath classpath, Mode mode) {
    List<String> command = new ArrayList<>();
    Path setsid = Path.of("/usr/bin/setsid");
    if (mode == Mode.DETACHED && Files.isExecutable(setsid)) {
      // NOTE: its own session, so closing the terminal that ran `bin/quiver cassandra start`
      // does not send it SIGHUP.
      command.add(setsid.toString());
    }
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    // First, so it survives the 4 KiB truncation of the command line that the JDK reports.
    command.add(serverMarker(settings));
    command.add("-Xms" + settings.heapMinMiB() + "m");
    command.add("-Xmx" + settings.heapMaxMiB() + "m");
    command.addAll(JAVA17_FLAGS);
    classpath.jammAgent().ifPresent(jamm -> command.add("-javaagent:" + jamm));
    command.add("-Dcassandra.config=" + layout.yaml().toUri());
    command.add("-Dcassandra.storagedir=" + layout.storage());
    command.add("-Dcassandra.logdir=" + layout.logs());
    command.add("-Dlogback.configurationFile=" + layout.logback());
    command.add("-Dcassandra.initial_token=0");
    if (mode == Mode.ATTACHED) {
      command.add("-D" + CassandraChildMain.PARENT_PID_PROPERTY + "="
          + ProcessHandle.current().pid());
    }
    command.addAll(settings.extraJvmFlags());
    command.add("-cp");
    command.add(classpath.asArgument(List.of(ownCodeLocation())));
    command.add(CassandraChildMain.class.getName());
    return command;
  }

  private static void checkPortFree(String host, int port, String what, String setting) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.setReuseAddress(false);
      socket.bind(new InetSocketAddress(host, port));
    } catch (BindException e) {
      throw new CassandraStartException(
          "port " + port + " on " + host + " is already in use; the embedded Cassandra needs it"
              + " for its " + what + ". Stop whatever listens there (`ss -ltnp 'sport = :" + port
              + "'`) or choose another port with " + setting + ".");
    } catch (IOException e) {
      throw new CassandraStartException("cannot check port " + port + " on " + host + ": " + e,
          e);
    }
  }

  /** SIGTERM, wait up to {@code timeout}, then SIGKILL and wait again (bounded). */
  static void terminate(ProcessHandle handle, Duration timeout) {
    if (!handle.isAlive()) {
      return;
    }
    handle.destroy();
    if (waitFor(handle, timeout)) {
      return;
    }
    log.warn("Cassandra (pid {}) did not stop within {}s; killing it", handle.pid(),
        timeout.toSeconds());
    handle.destroyForcibly();
    if (!waitFor(handle, KILL_WAIT)) {
      log.error("Cassandra (pid {}) survived SIGKILL for {}s", handle.pid(),
          KILL_WAIT.toSeconds());
    }
  }

  private static boolean waitFor(ProcessHandle handle, Duration timeout) {
    try {
      handle.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return !handle.isAlive();
    } catch (ExecutionException e) {
      return !handle.isAlive();
    }
  }

  /** The flag that marks the command line of the server for one data directory. */
  private static String serverMarker(Embedded settings) {
    return "-Dquiver.embedded-cassandra=" + settings.dataDir();
  }

  /**
   * True when {@code handle} is the server of {@code settings}' data directory (guards against a
   * pid recycled by another process after a crash). Trusts the pid file when the OS does not
   * say what the process runs.
   */
  private static boolean isServer(ProcessHandle handle, Embedded settings) {
    Optional<String> commandLine = handle.info().commandLine();
    return commandLine.isEmpty() || commandLine.get().contains(serverMarker(settings) + " ");
  }

  private static String readTemplate(Embedded settings) throws IOException {
    if (settings.yamlTemplate().isPresent()) {
      return Files.readString(settings.yamlTemplate().get());
    }
    return bundled("cassandra.yaml");
  }

  private static String readLogback(Embedded settings) throws IOException {
    if (settings.logbackConfig().isPresent()) {
      return Files.readString(settings.logbackConfig().get());
    }
    return bundled("cassandra-logback.xml");
  }

  private static String bundled(String name) throws IOException {
    try (InputStream in = EmbeddedCassandra.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new CassandraStartException("the bundled " + name + " (from conf/) is missing from"
            + " the quiver-persistence jar; rebuild with `mvn -pl persistence package`");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static Path ownCodeLocation() {
    try {
      return Path.of(CassandraChildMain.class.getProtectionDomain().getCodeSource().getLocation()
          .toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException("cannot locate the quiver-persistence classes", e);
    }
  }

  private static File nullDevice() {
    return new File(File.separatorChar == '\\' ? "NUL" : "/dev/null");
  }

  /** The files of one server under its data directory. */
  record Layout(Path root) {
    Path conf() {
      return root.resolve("conf");
    }

    Path yaml() {
      return conf().resolve("cassandra.yaml");
    }

    Path logback() {
      return conf().resolve("logback.xml");
    }

    Path storage() {
      return root.resolve("storage");
    }

    Path logs() {
      return root.resolve("logs");
    }

    Path systemLog() {
      return logs().resolve("system.log");
    }

    Path consoleLog() {
      return logs().resolve("console.log");
    }

    Path pidFile() {
      return root.resolve("cassandra.pid");
    }

    Path endpointFile() {
      return root.resolve("cassandra.endpoint");
    }

    void create() throws IOException {
      Files.createDirectories(conf());
      Files.createDirectories(storage());
      Files.createDirectories(logs());
    }

    void writeRunFiles(long pid, CassandraEndpoint endpoint) {
      try {
        Files.writeString(pidFile(), pid + "\n");
        Files.writeString(endpointFile(), endpoint + "\n");
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + pidFile(), e);
      }
    }

    void deleteRunFiles() {
      try {
        Files.deleteIfExists(pidFile());
        Files.deleteIfExists(endpointFile());
      } catch (IOException e) {
        log.warn("cannot delete {}: {}", pidFile(), e.toString());
      }
    }

    OptionalLong readPid() {
      try {
        return Files.isRegularFile(pidFile())
            ? OptionalLong.of(Long.parseLong(Files.readString(pidFile()).strip()))
            : OptionalLong.empty();
      } catch (IOException | NumberFormatException e) {
        return OptionalLong.empty();
      }
    }

    Optional<CassandraEndpoint> readEndpoint() {
      try {
        return Files.isRegularFile(endpointFile())
            ? Optional.of(CassandraEndpoint.parse(Files.readString(endpointFile()).strip()))
            : Optional.empty();
      } catch (IOException | IllegalArgumentException e) {
        return Optional.empty();
      }
    }

    /** The last lines of Cassandra's log and of the JVM console, for error messages. */
    String logTail() {
      return "\n--- tail of " + systemLog() + " ---\n" + tail(systemLog(), LOG_TAIL_LINES)
          + "\n--- tail of " + consoleLog() + " ---\n" + tail(consoleLog(), LOG_TAIL_LINES / 2);
    }

    /** The last {@code lines} lines of {@code file}, reading at most its last 64 KiB. */
    private static String tail(Path file, int lines) {
      if (!Files.isRegularFile(file)) {
        return "(no " + file.getFileName() + ")";
      }
      try (java.io.RandomAccessFile in = new java.io.RandomAccessFile(file.toFile(), "r")) {
        long length = in.length();
        int window = (int) Math.min(length, 64 * 1024);
        byte[] bytes = new byte[window];
        in.seek(length - window);
        in.readFully(bytes);
        List<String> all = new String(bytes, StandardCharsets.UTF_8).lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
      } catch (IOException e) {
        return "(cannot read " + file + ": " + e + ")";
      }
    }
  }
}
