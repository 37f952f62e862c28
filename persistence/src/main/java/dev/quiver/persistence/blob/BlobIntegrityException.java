package dev.quiver.persistence.blob;

import dev.quiver.persistence.ContentDigest;

/**
 * A stored blob is damaged: a chunk is missing, a chunk's bytes do not match its own sha256, or
 * the whole blob does not hash to its digest. Never retried silently: the message names the
 * digest and the chunk so an operator can re-publish the version.
 */
public final class BlobIntegrityException extends BlobStoreException {

  /** What is wrong. */
  public enum Problem {
    MISSING_CHUNK,
    CHUNK_HASH_MISMATCH,
    CHUNK_SIZE_MISMATCH,
    DIGEST_MISMATCH
  }

  private final Problem problem;
  private final int chunkIndex;

  public BlobIntegrityException(ContentDigest digest, Problem problem, int chunkIndex,
      int chunkCount, String detail) {
    super(digest, message(digest, problem, chunkIndex, chunkCount, detail));
    this.problem = problem;
    this.chunkIndex = chunkIndex;
  }

  private static String message(ContentDigest digest, Problem problem, int chunkIndex,
      int chunkCount, String detail) {
    String where = chunkIndex >= 0 ? "chunk " + chunkIndex + " of " + chunkCount : "the whole blob";
    return "adapter blob " + digest + " is corrupt: " + where + ": "
        + problem.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ') + " (" + detail
        + ")";
  }

  public Problem problem() {
    return problem;
  }

  /** The damaged chunk's index, or -1 when the whole-blob digest is wrong. */
  public int chunkIndex() {
    return chunkIndex;
  }
}
