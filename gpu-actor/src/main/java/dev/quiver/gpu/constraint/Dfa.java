package dev.quiver.gpu.constraint;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The compiled form of a constraint: a byte-level DFA, determinized lazily (subset construction on demand) from
 * the {@link Nfa} the compilers built. State {@code 0} is the start; {@link #DEAD} means no output with this
 * prefix can match. Because the NFA kept only states that can reach acceptance, every non-dead state can still
 * be completed, which is what lets the engine always offer a way to finish.
 *
 * <p>NOTE: not thread-safe (the transition table grows as it is explored); an engine uses its instances on the
 * engine thread only. The edge compiles its own copy just to validate.
 */
public final class Dfa {
    public static final int DEAD = -1;
    private static final int UNKNOWN = -2;
    static final int MAX_STATES = 200_000;

    private final Nfa.Frozen nfa;
    private final List<int[]> sets = new ArrayList<>();       // [state] sorted NFA states
    private final Map<Key, Integer> ids = new HashMap<>();
    private int[] trans = new int[256 * 64];                 // [state * 256 + byte] next state, DEAD or UNKNOWN
    private boolean[] accepting = new boolean[64];
    private int[] mark;
    private int generation;

    Dfa(Nfa.Frozen nfa) {
        this.nfa = nfa;
        this.mark = new int[nfa.edges().length];
        Arrays.fill(trans, UNKNOWN);
        add(closure(new int[] {nfa.start()}, 1));
    }

    /** The state after reading {@code b} (0..255) in {@code state}, or {@link #DEAD}. */
    public int step(int state, int b) {
        int t = trans[state * 256 + b];
        if (t != UNKNOWN) {
            return t;
        }
        int[] from = sets.get(state);
        int[] targets = new int[8];
        int n = 0;
        for (int s : from) {
            int[] e = nfa.edges()[s];
            for (int i = 0; i < e.length; i += 3) {
                if (b >= e[i] && b <= e[i + 1]) {
                    if (n == targets.length) {
                        targets = Arrays.copyOf(targets, n * 2);
                    }
                    targets[n++] = e[i + 2];
                }
            }
        }
        t = n == 0 ? DEAD : add(closure(targets, n));
        trans[state * 256 + b] = t;
        return t;
    }

    /** The state after reading all of {@code bytes} from {@code state}, or {@link #DEAD}. */
    public int walk(int state, byte[] bytes) {
        for (int i = 0; i < bytes.length && state != DEAD; i++) {
            state = step(state, bytes[i] & 0xFF);
        }
        return state;
    }

    /** Whether the output read so far is a complete match. */
    public boolean isAccepting(int state) {
        return state >= 0 && accepting[state];
    }

    /** Whether any byte can follow in {@code state}. */
    public boolean canContinue(int state) {
        for (int b = 0; b < 256; b++) {
            if (step(state, b) != DEAD) {
                return true;
            }
        }
        return false;
    }

    /** Whether the whole text matches. */
    public boolean matches(byte[] text) {
        int s = walk(0, text);
        return isAccepting(s);
    }

    /** States explored so far. */
    public int stateCount() {
        return sets.size();
    }

    private int add(int[] set) {
        Key k = new Key(set);
        Integer id = ids.get(k);
        if (id != null) {
            return id;
        }
        int s = sets.size();
        if (s == MAX_STATES) {
            throw new ConstraintException("the constraint is too complex: its automaton exceeds " + MAX_STATES
                    + " states");
        }
        sets.add(set);
        ids.put(k, s);
        if ((s + 1) * 256 > trans.length) {
            int old = trans.length;
            trans = Arrays.copyOf(trans, old * 2);
            Arrays.fill(trans, old, trans.length, UNKNOWN);
            accepting = Arrays.copyOf(accepting, accepting.length * 2);
        }
        accepting[s] = Arrays.binarySearch(set, nfa.accept()) >= 0;
        return s;
    }

    private int[] closure(int[] seeds, int n) {
        generation++;
        int[] stack = new int[Math.max(16, n)];
        int sp = 0;
        int[] out = new int[16];
        int count = 0;
        for (int i = 0; i < n; i++) {
            if (mark[seeds[i]] != generation) {
                mark[seeds[i]] = generation;
                stack[sp++] = seeds[i];
            }
        }
        while (sp > 0) {
            int s = stack[--sp];
            if (count == out.length) {
                out = Arrays.copyOf(out, count * 2);
            }
            out[count++] = s;
            for (int t : nfa.eps()[s]) {
                if (mark[t] != generation) {
                    mark[t] = generation;
                    if (sp == stack.length) {
                        stack = Arrays.copyOf(stack, sp * 2);
                    }
                    stack[sp++] = t;
                }
            }
        }
        // NOTE: states with neither byte edges nor acceptance add nothing to the subset; dropping them merges
        // DFA states that differ only in epsilon bookkeeping.
        int m = 0;
        for (int i = 0; i < count; i++) {
            int s = out[i];
            if (nfa.edges()[s].length > 0 || s == nfa.accept()) {
                out[m++] = s;
            }
        }
        int[] set = Arrays.copyOf(out, m);
        Arrays.sort(set);
        return set;
    }

    private record Key(int[] set) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && Arrays.equals(set, k.set);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(set);
        }
    }
}
