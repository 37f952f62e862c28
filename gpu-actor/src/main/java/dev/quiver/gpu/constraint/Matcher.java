package dev.quiver.gpu.constraint;

/**
 * The constraint state of one request: where its output so far leaves the automaton. A pure function of the
 * output tokens, so a preempted sequence keeps it and a resumed one rebuilds it by {@link #advance}-ing through
 * the tokens already delivered.
 *
 * <p>Each decode step the engine calls {@link #maskLogits} before sampling and {@link #advance} with the token
 * drawn.
 */
public final class Matcher {
    private final TokenConstraint constraint;
    private int state;
    private boolean ended;

    Matcher(TokenConstraint constraint) {
        this.constraint = constraint;
        this.state = 0;
    }

    /**
     * Sets the logit of every token that may not come next to {@code -Infinity}: tokens whose bytes leave the
     * automaton, special tokens, and EOS while the output is incomplete.
     *
     * @param logits one or more rows of {@code vocab} logits
     * @param offset where this row starts
     * @param vocab  row length; ids at or past the index's vocabulary are never allowed
     * @return whether any token is still allowed (false only when the vocabulary cannot spell the next byte)
     */
    public boolean maskLogits(float[] logits, int offset, int vocab) {
        long[] m = constraint.mask(state);
        boolean any = false;
        for (int w = 0; w * 64 < vocab; w++) {
            long bits = w < m.length ? m[w] : 0L;
            any |= bits != 0;
            int base = w * 64;
            int end = Math.min(64, vocab - base);
            if (bits == 0L) {
                java.util.Arrays.fill(logits, offset + base, offset + base + end, Float.NEGATIVE_INFINITY);
                continue;
            }
            for (long off = ~bits; off != 0; off &= off - 1) {
                int b = Long.numberOfTrailingZeros(off);
                if (b >= end) {
                    break;
                }
                logits[offset + base + b] = Float.NEGATIVE_INFINITY;
            }
        }
        return any;
    }

    /** Whether {@code tokenId} may come next. */
    public boolean allows(int tokenId) {
        long[] m = constraint.mask(state);
        return tokenId >= 0 && tokenId < constraint.index().vocabSize() && (m[tokenId >>> 6] & (1L << tokenId)) != 0;
    }

    /**
     * Moves past {@code tokenId}.
     *
     * @return false (and the state is unchanged) when the token may not come next
     */
    public boolean advance(int tokenId) {
        if (ended || !allows(tokenId)) {
            return false;
        }
        if (constraint.isEos(tokenId)) {
            ended = true;
            return true;
        }
        state = constraint.dfa().walk(state, constraint.index().bytes(tokenId));
        return true;
    }

    /** Whether the output so far is a complete value (EOS may come now). */
    public boolean canTerminate() {
        return constraint.dfa().isAccepting(state);
    }

    /** Whether the output is complete and no byte can extend it: only EOS may come. */
    public boolean isComplete() {
        return canTerminate() && !constraint.dfa().canContinue(state);
    }
}
