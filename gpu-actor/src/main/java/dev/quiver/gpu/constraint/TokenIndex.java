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
    // trie: node 0 is the root; children as first-child / next-sibling lists
    private final int[] firstChild;
    private final int[] nextSibling;
    private final byte[] label;          // [nodes] the byte on the edge into the node
    private final int[] tokenAt;         // [nodes] first id whose bytes end here, -1 when none
    private final int[] nextSameBytes;   // [vocabSize] next id with the same bytes, -1 at the end
    private final int nodes;

    private TokenIndex(int vocabSize, byte[][] bytes) {
        this.vocabSize = vocabSize;
        this.bytes = bytes;
        int cap = 1024;
        int[] fc = new int[cap];
        int[] ns = new int[cap];
        byte[] lb = new byte[cap];
        int[] ta = new int[cap];
        int[] rootChild = new int[256];
        Arrays.fill(rootChild, -1);
        fc[0] = -1;
        ns[0] = -1;
        ta[0] = -1;
        int n = 1;
        nextSameBytes = new int[vocabSize];
        Arrays.fill(nextSameBytes, -1);
        for (int id = 0; id < vocabSize; id++) {
            byte[] b = bytes[id];
            if (b == null) {
                continue;
            }
            int node = 0;
            for (int i = 0; i < b.length; i++) {
                int child;
                if (node == 0) {
                    child = rootChild[b[i] & 0xFF];
                } else {
                    child = fc[node];
                    while (child >= 0 && lb[child] != b[i]) {
                        child = ns[child];
                    }
                }
                if (child < 0) {
                    if (n == fc.length) {
                        cap = n * 2;
                        fc = Arrays.copyOf(fc, cap);
                        ns = Arrays.copyOf(ns, cap);
                        lb = Arrays.copyOf(lb, cap);
                        ta = Arrays.copyOf(ta, cap);
                    }
                    child = n++;
                    fc[child] = -1;
                    ta[child] = -1;
                    lb[child] = b[i];
                    ns[child] = fc[node];
                    fc[node] = child;
                    if (node == 0) {
                        rootChild[b[i] & 0xFF] = child;
                    }
                }
                node = child;
            }
            nextSameBytes[id] = ta[node];
            ta[node] = id;
        }
        this.nodes = n;
        this.firstChild = fc;
        this.nextSibling = ns;
        this.label = lb;
        this.tokenAt = ta;
    }

    /**
     * An index over {@code tokenBytes} ({@code [vocabSize]}, null for ids to leave out, empty arrays are left out
     * too).
     */
    public static TokenIndex of(byte[][] tokenBytes) {
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
        return nodes;
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
        // NOTE: depth-first with an explicit stack; it holds at most 256 siblings per level on the current path.
        int[] nodeStack = new int[512];
        int[] stateStack = new int[512];
        int sp = 0;
        for (int c = firstChild[0]; c >= 0; c = nextSibling[c]) {
            nodeStack[sp] = c;
            stateStack[sp++] = state;
        }
        while (sp > 0) {
            int node = nodeStack[--sp];
            int s = dfa.step(stateStack[sp], label[node] & 0xFF);
            if (s == Dfa.DEAD) {
                continue;
            }
            for (int id = tokenAt[node]; id >= 0; id = nextSameBytes[id]) {
                mask[id >>> 6] |= 1L << id;
            }
            for (int c = firstChild[node]; c >= 0; c = nextSibling[c]) {
                if (sp == nodeStack.length) {
                    nodeStack = Arrays.copyOf(nodeStack, sp * 2);
                    stateStack = Arrays.copyOf(stateStack, sp * 2);
                }
                nodeStack[sp] = c;
                stateStack[sp++] = s;
            }
        }
    }
}
