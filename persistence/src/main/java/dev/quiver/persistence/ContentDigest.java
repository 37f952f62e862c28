package dev.quiver.persistence;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The SHA-256 of an adapter's bytes: the adapter's content address in the blob store and the
 * identity of an adapter version in lifecycle events. Written as {@code sha256:<64 hex>} in JSON
 * and in messages; the blob store's tables key on the bare lowercase hex.
 */
public record ContentDigest(String hex) {

  private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");
  private static final String PREFIX = "sha256:";

  /** Accepts {@code sha256:<hex>} or bare hex, in either case; keeps the bare lowercase hex. */
  public ContentDigest {
    if (hex != null) {
      hex = (hex.startsWith(PREFIX) ? hex.substring(PREFIX.length()) : hex)
          .toLowerCase(java.util.Locale.ROOT);
    }
    if (hex == null || !HEX64.matcher(hex).matches()) {
      throw new IllegalArgumentException(
          "not a sha256 digest (expected 64 lowercase hex characters): " + hex);
    }
  }

  /** Parses {@code sha256:<hex>} or bare hex (upper or lower case). */
  @JsonCreator
  public static ContentDigest parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("digest is missing");
    }
    return new ContentDigest(text);
  }

  public static ContentDigest of(byte[] sha256) {
    if (sha256.length != 32) {
      throw new IllegalArgumentException("sha256 is 32 bytes, got " + sha256.length);
    }
    return new ContentDigest(HexFormat.of().formatHex(sha256));
  }

  public static ContentDigest of(MessageDigest finished) {
    return of(finished.digest());
  }

  /** A fresh SHA-256 {@link MessageDigest}; every JDK has it. */
  public static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }

  /** A short form for log lines: the first 12 hex characters. */
  public String shortForm() {
    return hex.substring(0, 12);
  }

  @JsonValue
  @Override
  public String toString() {
    return PREFIX + hex;
  }
}
