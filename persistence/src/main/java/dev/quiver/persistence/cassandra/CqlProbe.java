package dev.quiver.persistence.cassandra;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;

/**
 * Asks a CQL port whether a Cassandra server answers, without a driver: it sends a native
 * protocol v4 {@code OPTIONS} frame and expects {@code SUPPORTED} back. Cheap enough to poll
 * while a server starts, and it does not log driver noise when the server is down.
 */
public final class CqlProbe {

  private static final byte OPCODE_OPTIONS = 0x05;
  private static final byte OPCODE_SUPPORTED = 0x06;

  private CqlProbe() {}

  /** True when {@code endpoint} answered OPTIONS with SUPPORTED within {@code timeout}. */
  public static boolean answers(CassandraEndpoint endpoint, Duration timeout) {
    int millis = (int) Math.max(1, timeout.toMillis());
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(endpoint.host(), endpoint.port()), millis);
      socket.setSoTimeout(millis);
      OutputStream out = socket.getOutputStream();
      // header: version 4 request, flags 0, stream id 1, opcode, body length 0
      out.write(new byte[] {0x04, 0x00, 0x00, 0x01, OPCODE_OPTIONS, 0, 0, 0, 0});
      out.flush();
      DataInputStream in = new DataInputStream(socket.getInputStream());
      byte[] header = new byte[9];
      in.readFully(header);
      return (header[0] & 0x80) != 0 && header[4] == OPCODE_SUPPORTED;
    } catch (IOException e) {
      return false;
    }
  }
}
