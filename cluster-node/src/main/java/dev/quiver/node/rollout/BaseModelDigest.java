package dev.quiver.node.rollout;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * The base model's digest, for the {@code system_fingerprint} of requests it serves: SHA-256 over the model
 * directory's top-level files in name order (name, size, then content). Files up to {@value #WHOLE_FILE_LIMIT}
 * bytes are hashed whole; of larger ones (the weights of a real model) only the first {@value #WHOLE_FILE_LIMIT}
 * bytes, which hold a safetensors file's header (every tensor's name, dtype, shape and offsets), so a node starts
 * in well under a second. Subdirectories (such as the demo model's {@code adapters/}) are not part of it.
 */
public final class BaseModelDigest {
    /** Files up to this size are hashed whole; larger ones by their size and this many leading bytes. */
    public static final long WHOLE_FILE_LIMIT = 64L << 20;

    private BaseModelDigest() {
    }

    /** The lowercase hex SHA-256 of {@code modelDir} as described above. */
    public static String of(Path modelDir) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        try (Stream<Path> listing = Files.list(modelDir)) {
            List<Path> files = listing.filter(Files::isRegularFile).sorted().toList();
            byte[] buf = new byte[1 << 16];
            for (Path f : files) {
                long size = Files.size(f);
                sha.update((f.getFileName().toString() + "\n" + size + "\n").getBytes(StandardCharsets.UTF_8));
                try (InputStream in = Files.newInputStream(f)) {
                    long left = Math.min(size, WHOLE_FILE_LIMIT);
                    while (left > 0) {
                        int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                        if (n < 0) {
                            break;
                        }
                        sha.update(buf, 0, n);
                        left -= n;
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the model directory " + modelDir + " for its digest", e);
        }
        return HexFormat.of().formatHex(sha.digest());
    }
}
