package dev.quiver.gpu.constraint;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A compiled constraint bound to one vocabulary: the {@link Dfa}, the {@link TokenIndex} and the allowed-token
 * mask of each automaton state met so far (computed once per state by a trie walk, then reused by every request
 * with the same spec). EOS ids are allowed exactly in accepting states.
 *
 * <p>NOTE: not thread-safe; it lives on the engine thread with the {@link ConstraintCache} that made it.
 */
public final class TokenConstraint {
    private static final int MAX_CACHED_MASKS = 4096;

    private final Dfa dfa;
    private final TokenIndex index;
    private final int[] eosIds;
    private final Map<Integer, long[]> masks = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Integer, long[]> e) {
            return size() > MAX_CACHED_MASKS;
        }
    };

    public TokenConstraint(Dfa dfa, TokenIndex index, Set<Integer> eosIds) {
        this.dfa = dfa;
        this.index = index;
        this.eosIds = eosIds.stream().mapToInt(Integer::intValue)
                .filter(id -> id >= 0 && id < index.vocabSize()).sorted().toArray();
    }

    public Dfa dfa() {
        return dfa;
    }

    public TokenIndex index() {
        return index;
    }

    /** A matcher at the start of the output. */
    public Matcher newMatcher() {
        return new Matcher(this);
    }

    /**
     * The tokens allowed in {@code state}: {@code [(vocabSize + 63) / 64]} bits, shared (do not modify). EOS is
     * among them exactly when the output is complete.
     */
    long[] mask(int state) {
        long[] m = masks.get(state);
        if (m == null) {
            m = new long[(index.vocabSize() + 63) / 64];
            index.allowed(dfa, state, m);
            if (dfa.isAccepting(state)) {
                for (int id : eosIds) {
                    m[id >>> 6] |= 1L << id;
                }
            }
            masks.put(state, m);
        }
        return m;
    }

    boolean isEos(int tokenId) {
        return Arrays.binarySearch(eosIds, tokenId) >= 0;
    }
}
