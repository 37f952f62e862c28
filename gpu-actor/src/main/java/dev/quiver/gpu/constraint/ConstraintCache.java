package dev.quiver.gpu.constraint;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The engine's compiled constraints: one {@link TokenIndex} for its vocabulary, built on first use, and the
 * {@link TokenConstraint}s of recently used specs, least recently used evicted beyond {@code capacity} (a
 * running request keeps its own reference). Engine thread only.
 */
public final class ConstraintCache {
    private final Supplier<TokenIndex> indexSource;
    private final Set<Integer> eosIds;
    private final int capacity;
    private TokenIndex index;
    private final Map<ConstraintSpec, TokenConstraint> compiled;

    /**
     * @param indexSource builds the vocabulary's index (called once, when the first constrained request arrives)
     * @param eosIds      the ids allowed where the output is complete
     * @param capacity    specs kept compiled
     */
    public ConstraintCache(Supplier<TokenIndex> indexSource, Set<Integer> eosIds, int capacity) {
        this.indexSource = indexSource;
        this.eosIds = Set.copyOf(eosIds);
        this.capacity = capacity;
        this.compiled = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<ConstraintSpec, TokenConstraint> e) {
                return size() > ConstraintCache.this.capacity;
            }
        };
    }

    /**
     * A fresh matcher for {@code spec}, compiling it on a miss.
     *
     * @throws ConstraintException when the spec does not compile
     */
    public Matcher matcher(ConstraintSpec spec) {
        TokenConstraint c = compiled.get(spec);
        if (c == null) {
            Dfa dfa = Constraints.compile(spec);
            if (index == null) {
                index = indexSource.get();
            }
            c = new TokenConstraint(dfa, index, eosIds);
            compiled.put(spec, c);
        }
        return c.newMatcher();
    }

    /** Compiled specs held. */
    public int size() {
        return compiled.size();
    }
}
