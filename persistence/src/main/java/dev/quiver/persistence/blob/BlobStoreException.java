package dev.quiver.persistence.blob;

import dev.quiver.persistence.ContentDigest;

/** A blob store operation failed; names the digest it was about. */
public class BlobStoreException extends RuntimeException {
  private final transient ContentDigest digest;

  public BlobStoreException(ContentDigest digest, String message, Throwable cause) {
    super(message, cause);
    this.digest = digest;
  }

  public BlobStoreException(ContentDigest digest, String message) {
    this(digest, message, null);
  }

  /** The adapter blob concerned; null when the digest was not known yet. */
  public ContentDigest digest() {
    return digest;
  }
}
