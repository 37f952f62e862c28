package dev.quiver.persistence.cassandra;

/** Where a Cassandra node answers CQL. {@link #toString()} is the driver's {@code host:port}. */
public record CassandraEndpoint(String host, int port) {

  public static CassandraEndpoint parse(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("expected host:port, got '" + hostPort + "'");
    }
    return new CassandraEndpoint(
        hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1).strip()));
  }

  @Override
  public String toString() {
    return host + ":" + port;
  }
}
