package dev.quiver.persistence.blob;

import dev.quiver.persistence.ContentDigest;

/** No complete blob with this digest: no manifest row (never written, or its put never ended). */
public final class BlobNotFoundException extends BlobStoreException {
  public BlobNotFoundException(ContentDigest digest) {
    super(digest, "adapter blob " + digest + " is not in the blob store (no manifest)");
  }
}
