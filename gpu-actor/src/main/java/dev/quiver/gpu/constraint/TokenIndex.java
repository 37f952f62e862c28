package dev.quiver.gpu.constraint;

import dev.quiver.gpu.tokenizer.Tokenizer;
import java.util.Arrays;

/**
 * The byte strings of a vocabulary arranged as a trie, so that the allowed tokens of an automaton state are found
 * by walking the trie alongside the automaton and skipping every subtree whose prefix is already rejected,
 * instead of testing every token. Built once per tokenizer (the engine keeps it) and immutable afterwards.
 *
 * <p>Special tokens, ids the tokenizer does not know and tokens with no bytes are left out: they can never be
 * part of constrained output (EOS is added by {@link TokenConstraint} where the output is complete).
 */
public final class TokenIndex {
    private final int vocabSize;
    private final byte[][] bytes;        // [vocabSize] bytes of each indexed id, null when left out
    // trie nodes in depth-first preorder; node 0 is the root (empty prefix). The first child of node n is n + 1,
    // the next sibling of n is subtreeEnd[n], so a walk is a forward scan that jumps over rejected subtrees.
    private final byte[] label;          // [nodes] the byte on the edge into the node
    private final int[] depth;           // [nodes] bytes from the root
    private final int[] subtreeEnd;      // [nodes] first node after the node's subtree
    private final int[] tokenAt;         // [nodes] first id whose bytes end here, -1 when none
    private final int[] nextSameBytes;   // [vocabSize] next id with the same bytes, -1 at the end
    private final int maxDepth;

    private TokenIndex(int vocabSize, byte[][] bytes) {
        this.vocabSize = vocabSize;
        this.bytes = bytes;
        int[] ids = sortedByBytes(bytes);
        int cap = 1024;
        byte[] lb = new byte[cap];
        int[] dp = new int[cap];
        int[] end = new int[cap];
        int[] ta = new int[cap];
        nextSameBytes = new int[vocabSize];
        Arrays.fill(nextSameBytes, -1);
        int[] path = new int[64];   // path[d] = node at depth d on the current path
        int nodes = 1;
        ta[0] = -1;
        int pathLen = 1;            // path[0] = root
        byte[] prev = new byte[0];
        int lastAtLeaf = -1;
        int deepest = 0;
        for (int id : ids) {
            byte[] b = bytes[id];
            int lcp = 0;
            while (lcp < b.length && lcp < prev.length && b[lcp] == prev[lcp]) {
                lcp++;
            }
            if (lcp == b.length && lcp == prev.length && lastAtLeaf >= 0) {
                // same bytes as the previous id: chain it behind
                nextSameBytes[lastAtLeaf] = id;
                lastAtLeaf = id;
                continue;
            }
            // close the nodes below the common prefix
            for (int d = pathLen - 1; d > lcp; d--) {
                end[path[d]] = nodes;
            }
            pathLen = lcp + 1;
            for (int d = lcp; d < b.length; d++) {
                if (nodes == lb.length) {
                    cap = nodes * 2;
                    lb = Arrays.copyOf(lb, cap);
                    dp = Arrays.copyOf(dp, cap);
                    end = Arrays.copyOf(end, cap);
                    ta = Arrays.copyOf(ta, cap);
                }
                int node = nodes++;
                lb[node] = b[d];
                dp[node] = d + 1;
                ta[node] = -1;
                if (pathLen == path.length) {
                    path = Arrays.copyOf(path, pathLen * 2);
                }
                path[pathLen++] = node;
            }
            ta[path[b.length]] = id;
            lastAtLeaf = id;
            deepest = Math.max(deepest, b.length);
            prev = b;
        }
        for (int d = pathLen - 1; d >= 0; d--) {
            end[path[d]] = nodes;
        }
        this.label = Arrays.copyOf(lb, nodes);
        this.depth = Arrays.copyOf(dp, nodes);
        this.subtreeEnd = Arrays.copyOf(end, nodes);
        this.tokenAt = Arrays.copyOf(ta, nodes);
        this.maxDepth = deepest;
    }

    /**
     * The indexed ids in unsigned lexicographic order of their bytes (a prefix before its extensions), equal byte
     * strings by id. NOTE: sorts primitive keys (first five bytes, capped length, id) and only falls back to a
     * comparator for runs that share their first five bytes, which keeps a 128k vocabulary well under a second.
     */
    private static int[] sortedByBytes(byte[][] bytes) {
        int n = 0;
        long[] keys = new long[bytes.length];
        for (int id = 0; id < bytes.length; id++) {
            byte[] b = bytes[id];
            if (b == null) {
                continue;
            }
            long prefix = 0;
            for (int i = 0; i < 5; i++) {
                prefix = (prefix << 8) | (i < b.length ? b[i] & 0xFF : 0);
            }
            // [prefix: 40 bits][length capped at 5: 3 bits][id: 21 bits], top bit flipped for signed order
            keys[n++] = ((prefix << 24) | ((long) Math.min(b.length, 5) << 21) | id) ^ Long.MIN_VALUE;
        }
        long[] sorted = Arrays.copyOf(keys, n);
        Arrays.sort(sorted);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = (int) (sorted[i] & ((1 << 21) - 1));
        }
        for (int i = 0; i < n; ) {
            int j = i + 1;
            long group = sorted[i] >>> 21;
            while (j < n && sorted[j] >>> 21 == group) {
                j++;
            }
            if (j - i > 1 && bytes[ids[i]].length >= 5) {
                Integer[] run = new Integer[j - i];
                for (int k = i; k < j; k++) {
                    run[k - i] = ids[k];
                }
                Arrays.sort(run, (x, y) -> {
                    int c = Arrays.compareUnsigned(bytes[x], bytes[y]);
                    return c != 0 ? c : Integer.compare(x, y);
                });
                for (int k = i; k < j; k++) {
                    ids[k] = run[k - i];
                }
            }
            i = j;
        }
        return ids;
    }

    /**
     * An index over {@code tokenBytes} ({@code [vocabSize]}, null for ids to leave out, empty arrays are left out
     * too).
     */
    public static TokenIndex of(byte[][] tokenBytes) {
        if (tokenBytes.length > (1 << 21)) {
            throw new IllegalArgumentException("vocabularies above " + (1 << 21) + " ids are not supported, got "
                    + tokenBytes.length);
        }
        byte[][] b = new byte[tokenBytes.length][];
        for (int i = 0; i < b.length; i++) {
            b[i] = tokenBytes[i] == null || tokenBytes[i].length == 0 ? null : tokenBytes[i];
        }
        return new TokenIndex(b.length, b);
    }

    /**
     * The index of a tokenizer's vocabulary, for a model whose logits have {@code vocabSize} entries (ids past the
     * tokenizer's vocabulary and special tokens are left out).
     */
    public static TokenIndex of(Tokenizer tokenizer, int vocabSize) {
        byte[][] b = new byte[vocabSize][];
        int known = Math.min(vocabSize, tokenizer.vocabSize());
        for (int id = 0; id < known; id++) {
            if (!tokenizer.isSpecial(id)) {
                b[id] = tokenizer.tokenBytes(id);
            }
        }
        return of(b);
    }

    /** Number of ids (the length of a mask). */
    public int vocabSize() {
        return vocabSize;
    }

    /** Trie nodes (for benchmarks and tests). */
    public int nodeCount() {
        return label.length;
    }

    /** The bytes of {@code id}, or null when it is not indexed (special, unknown, empty). */
    public byte[] bytes(int id) {
        return id >= 0 && id < vocabSize ? bytes[id] : null;
    }

    /**
     * Sets in {@code mask} ({@code [(vocabSize + 63) / 64]} bits) every token that {@code dfa} can read whole from
     * {@code state} without dying. Walks the trie depth first; a subtree is skipped as soon as its prefix dies.
     */
    public void allowed(Dfa dfa, int state, long[] mask) {
        int[] stateAt = new int[maxDepth + 1]; // stateAt[d]: the automaton after the first d bytes of the path
        stateAt[0] = state;
        int nodes = label.length;
        int i = 1;
        while (i < nodes) {
            int d = depth[i];
            int s = dfa.step(stateAt[d - 1], label[i] & 0xFF);
            if (s == Dfa.DEAD) {
                i = subtreeEnd[i];
                continue;
            }
            stateAt[d] = s;
            for (int id = tokenAt[i]; id >= 0; id = nextSameBytes[id]) {
                mask[id >>> 6] |= 1L << id;
            }
            i++;
        }
    }
}
