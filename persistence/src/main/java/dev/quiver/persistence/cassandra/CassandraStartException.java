package dev.quiver.persistence.cassandra;

/**
 * The embedded Cassandra could not be started (a port is taken, its class path is missing, the
 * server died or did not answer CQL in time). The message says which and, when the server ran
 * at all, ends with the tail of its log.
 */
public final class CassandraStartException extends RuntimeException {
  public CassandraStartException(String message) {
    super(message);
  }

  public CassandraStartException(String message, Throwable cause) {
    super(message, cause);
  }
}
