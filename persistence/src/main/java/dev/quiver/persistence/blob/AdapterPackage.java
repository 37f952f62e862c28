package dev.quiver.persistence.blob;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The one-blob form of a PEFT adapter directory: a POSIX ustar archive of exactly
 * {@code adapter_config.json} and {@code adapter_model.safetensors}, in that order, with zero
 * owner, mode 0644 and mtime 0, so the same two files always give the same bytes and therefore
 * the same content digest. Written and read as streams; extraction accepts only those two
 * regular files (no paths, links or extra entries).
 *
 * <p>NOTE: one tar blob rather than two blobs, so an adapter version is one digest in the events
 * and the config and weights can never be mixed across versions.
 */
public final class AdapterPackage {

  public static final String CONFIG = "adapter_config.json";
  public static final String WEIGHTS = "adapter_model.safetensors";
  /** The files of an adapter directory, in archive order. */
  public static final List<String> FILES = List.of(CONFIG, WEIGHTS);

  private static final int BLOCK = 512;
  private static final long MAX_ENTRY = 077777777777L; // 11 octal digits: 8 GiB - 1

  private AdapterPackage() {}

  /** Writes the archive of {@code adapterDir}'s two files to {@code out}. */
  public static void write(Path adapterDir, OutputStream out) throws IOException {
    for (String name : FILES) {
      Path file = adapterDir.resolve(name);
      if (!Files.isRegularFile(file)) {
        throw new IOException("adapter directory " + adapterDir + " has no " + name);
      }
      long size = Files.size(file);
      if (size > MAX_ENTRY) {
        throw new IOException(file + " is too large for the adapter archive: " + size + " bytes");
      }
      out.write(header(name, size));
      long copied;
      try (InputStream in = Files.newInputStream(file)) {
        copied = in.transferTo(out);
      }
      if (copied != size) {
        throw new IOException(file + " changed size while it was archived");
      }
      out.write(new byte[padding(size)]);
    }
    out.write(new byte[2 * BLOCK]);
  }

  /**
   * Extracts an archive written by {@link #write} into {@code targetDir} (which must exist).
   *
   * @throws IOException when the archive holds anything but the two adapter files, or is cut
   */
  public static void extract(InputStream in, Path targetDir) throws IOException {
    Set<String> seen = new HashSet<>();
    byte[] header = new byte[BLOCK];
    while (true) {
      readFully(in, header);
      if (isZero(header)) {
        break;
      }
      String name = field(header, 0, 100);
      char type = (char) header[156];
      if (!FILES.contains(name) || (type != '0' && type != '\0')) {
        throw new IOException("adapter archive holds an unexpected entry '" + name + "' (type "
            + type + "); only " + FILES + " are allowed");
      }
      if (!seen.add(name)) {
        throw new IOException("adapter archive holds " + name + " twice");
      }
      long size = Long.parseLong(field(header, 124, 12).strip(), 8);
      try (OutputStream out = Files.newOutputStream(targetDir.resolve(name))) {
        copy(in, out, size);
      }
      skip(in, padding(size));
    }
    if (!seen.containsAll(FILES)) {
      throw new IOException("adapter archive lacks " + FILES.stream()
          .filter(f -> !seen.contains(f)).toList());
    }
  }

  private static byte[] header(String name, long size) {
    byte[] h = new byte[BLOCK];
    put(h, 0, name);
    put(h, 100, "0000644\0");
    put(h, 108, "0000000\0");
    put(h, 116, "0000000\0");
    put(h, 124, String.format("%011o\0", size));
    put(h, 136, "00000000000\0");
    put(h, 148, "        ");
    h[156] = '0';
    put(h, 257, "ustar\0");
    put(h, 263, "00");
    int sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    put(h, 148, String.format("%06o\0 ", sum));
    return h;
  }

  private static void put(byte[] block, int offset, String text) {
    byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(bytes, 0, block, offset, bytes.length);
  }

  private static String field(byte[] block, int offset, int length) {
    int end = offset;
    while (end < offset + length && block[end] != 0) {
      end++;
    }
    return new String(block, offset, end - offset, StandardCharsets.US_ASCII);
  }

  private static int padding(long size) {
    return (int) ((BLOCK - size % BLOCK) % BLOCK);
  }

  private static boolean isZero(byte[] block) {
    for (byte b : block) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  private static void readFully(InputStream in, byte[] block) throws IOException {
    int off = 0;
    while (off < block.length) {
      int n = in.read(block, off, block.length - off);
      if (n < 0) {
        throw new EOFException("adapter archive ends inside a header");
      }
      off += n;
    }
  }

  private static void copy(InputStream in, OutputStream out, long size) throws IOException {
    byte[] buffer = new byte[64 * 1024];
    long left = size;
    while (left > 0) {
      int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
      if (n < 0) {
        throw new EOFException("adapter archive ends inside an entry (" + left + " bytes short)");
      }
      out.write(buffer, 0, n);
      left -= n;
    }
  }

  private static void skip(InputStream in, int count) throws IOException {
    if (in.readNBytes(count).length != count) {
      throw new EOFException("adapter archive ends inside padding");
    }
  }
}
