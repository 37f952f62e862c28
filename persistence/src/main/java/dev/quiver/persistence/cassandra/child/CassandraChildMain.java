package dev.quiver.persistence.cassandra.child;

import java.lang.reflect.InvocationTargetException;

/**
 * Main class of the embedded Cassandra child JVM. It runs {@code CassandraDaemon} and, when the
 * launcher passes {@code -Dquiver.cassandra.parent-pid}, watches that process: if the parent
 * dies (a test JVM killed by a timeout, a crashed node), the child exits too, through Cassandra's
 * shutdown hook, instead of lingering on the ports. Uses only the JDK: it is the one class of
 * this module on the child's class path.
 */
public final class CassandraChildMain {

  /** System property with the pid whose death ends this server; absent = detached server. */
  public static final String PARENT_PID_PROPERTY = "quiver.cassandra.parent-pid";

  private CassandraChildMain() {}

  public static void main(String[] args) throws Throwable {
    String parentPid = System.getProperty(PARENT_PID_PROPERTY);
    if (parentPid != null && !parentPid.isBlank()) {
      ProcessHandle parent = ProcessHandle.of(Long.parseLong(parentPid.strip())).orElse(null);
      Thread watcher = new Thread(() -> watch(parent), "quiver-parent-watch");
      watcher.setDaemon(true);
      watcher.start();
    }
    try {
      Class.forName("org.apache.cassandra.service.CassandraDaemon")
          .getMethod("main", String[].class)
          .invoke(null, (Object) args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  private static void watch(ProcessHandle parent) {
    try {
      while (parent != null && parent.isAlive()) {
        Thread.sleep(1000);
      }
    } catch (InterruptedException e) {
      return;
    }
    System.err.println("quiver: launcher process is gone; shutting Cassandra down");
    System.exit(0);
  }
}
