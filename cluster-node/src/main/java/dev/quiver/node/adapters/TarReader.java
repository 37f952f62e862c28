package dev.quiver.node.adapters;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;

/**
 * Reads the regular files of a {@code .tar} or {@code .tar.gz} (gzip recognised by its magic bytes) whose base
 * name is one of {@code wanted}, into memory; everything else in the archive is skipped. Only ustar/GNU headers
 * are read (no sparse files); GNU and pax long-name records are honoured. Names are reduced to their base name, so
 * nothing is ever written outside the caller's directory.
 */
final class TarReader {
    private TarReader() {
    }

    static Map<String, byte[]> read(byte[] archive, Set<String> wanted, long maxEntryBytes) throws IOException {
        InputStream in = new ByteArrayInputStream(archive);
        if (archive.length >= 2 && (archive[0] & 0xff) == 0x1f && (archive[1] & 0xff) == 0x8b) {
            in = new GZIPInputStream(in);
        }
        Map<String, byte[]> out = new HashMap<>();
        byte[] header = new byte[512];
        String longName = null;
        boolean sawHeader = false;
        while (true) {
            if (in.readNBytes(header, 0, 512) < 512) {
                if (!sawHeader) {
                    throw new IOException("not a tar archive (shorter than one header)");
                }
                break;
            }
            if (isZero(header)) {
                break;
            }
            checkChecksum(header);
            sawHeader = true;
            String name = longName != null ? longName : string(header, 0, 100);
            longName = null;
            String prefix = string(header, 345, 155);
            if (!prefix.isEmpty() && header[257] == 'u') {
                name = prefix + "/" + name;
            }
            long size = octal(header, 124, 12);
            char type = (char) header[156];
            if (size < 0 || size > maxEntryBytes) {
                throw new IOException("tar entry '" + name + "' is " + size + " bytes, over the limit of "
                        + maxEntryBytes);
            }
            byte[] data = in.readNBytes((int) size);
            if (data.length < size) {
                throw new IOException("tar entry '" + name + "' is truncated");
            }
            long pad = (512 - size % 512) % 512;
            in.skipNBytes(pad);
            if (type == 'L') {
                longName = new String(data, StandardCharsets.UTF_8).replace("\0", "");
            } else if (type == 'x') {
                String path = paxPath(new String(data, StandardCharsets.UTF_8));
                if (path != null) {
                    longName = path;
                }
            } else if (type == '0' || type == '\0') {
                String base = name.substring(name.lastIndexOf('/') + 1);
                if (wanted.contains(base)) {
                    if (out.containsKey(base)) {
                        throw new IOException("the archive holds more than one '" + base + "'");
                    }
                    out.put(base, data);
                }
            }
        }
        return out;
    }

    private static String paxPath(String records) {
        for (String line : records.split("\n")) {
            int sp = line.indexOf(' ');
            if (sp > 0 && line.startsWith("path=", sp + 1)) {
                return line.substring(sp + 6);
            }
        }
        return null;
    }

    private static boolean isZero(byte[] h) {
        for (byte b : h) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    private static void checkChecksum(byte[] h) throws IOException {
        long stored = octal(h, 148, 8);
        long sum = 0;
        for (int i = 0; i < 512; i++) {
            sum += (i >= 148 && i < 156) ? ' ' : (h[i] & 0xff);
        }
        if (stored != sum) {
            throw new IOException("not a tar archive (header checksum mismatch)");
        }
    }

    private static String string(byte[] h, int off, int len) {
        int end = off;
        while (end < off + len && h[end] != 0) {
            end++;
        }
        return new String(h, off, end - off, StandardCharsets.UTF_8);
    }

    private static long octal(byte[] h, int off, int len) throws IOException {
        String s = string(h, off, len).trim();
        if (s.isEmpty()) {
            return 0;
        }
        try {
            return Long.parseLong(s, 8);
        } catch (NumberFormatException e) {
            throw new IOException("not a tar archive (bad numeric field '" + s + "')");
        }
    }
}
