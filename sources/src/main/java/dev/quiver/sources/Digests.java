package dev.quiver.sources;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Digests of a download as it streams: sha256 always; the git blob sha1 ({@code "blob SIZE\0"} + bytes) of small
 * git-tracked Hub files; MD5 for the ETag of a single-part S3 upload.
 */
final class Digests {
    private static final int BUFFER = 1 << 20;

    private final MessageDigest sha256;
    private final MessageDigest git;
    private final MessageDigest md5;

    private Digests(long gitSize, boolean withMd5) {
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
            git = gitSize >= 0 ? MessageDigest.getInstance("SHA-1") : null;
            if (git != null) {
                git.update(("blob " + gitSize + "\0").getBytes(StandardCharsets.US_ASCII));
            }
            md5 = withMd5 ? MessageDigest.getInstance("MD5") : null;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** sha256, plus the git blob sha1 of a file of {@code gitSize} bytes when {@code gitSize >= 0}. */
    static Digests forHub(long gitSize) {
        return new Digests(gitSize, false);
    }

    /** sha256 and MD5. */
    static Digests withMd5() {
        return new Digests(-1, true);
    }

    void update(byte[] b, int n) {
        sha256.update(b, 0, n);
        if (git != null) {
            git.update(b, 0, n);
        }
        if (md5 != null) {
            md5.update(b, 0, n);
        }
    }

    /** Feeds the bytes already on disk (a resumed download's first part). */
    void updateFrom(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[BUFFER];
            int n;
            while ((n = in.read(buf)) >= 0) {
                update(buf, n);
            }
        }
    }

    private String sha256Hex;
    private String gitHex;
    private String md5Hex;

    /** The digests once every byte was fed (each computed once, then remembered). */
    String sha256() {
        if (sha256Hex == null) {
            sha256Hex = HexFormat.of().formatHex(sha256.digest());
        }
        return sha256Hex;
    }

    String gitSha1() {
        if (gitHex == null && git != null) {
            gitHex = HexFormat.of().formatHex(git.digest());
        }
        return gitHex;
    }

    String md5() {
        if (md5Hex == null && md5 != null) {
            md5Hex = HexFormat.of().formatHex(md5.digest());
        }
        return md5Hex;
    }
}
