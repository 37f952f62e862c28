package dev.quiver.gpu.constraint;

import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * A byte-level nondeterministic automaton under construction: states with byte-range edges and epsilon edges.
 * The compilers ({@link RegexCompiler}, {@link JsonSchemaCompiler}) build it from {@link Frag}ments; {@link Dfa}
 * determinizes it lazily. Every builder call makes fresh states, so a sub-expression used twice is built twice.
 *
 * <p>NOTE: the number of states is capped ({@link #MAX_STATES}) so that a large {@code maxItems} or a deep
 * schema fails as a clear error instead of exhausting the heap.
 */
final class Nfa {
    static final int MAX_STATES = 400_000;

    /** A piece of automaton with one entry and one exit state. */
    record Frag(int start, int end) {
    }

    // per state: byte edges as triples (lo, hi, target) and epsilon targets
    private int[][] edges = new int[1024][];
    private int[] edgeCount = new int[1024];
    private int[][] eps = new int[1024][];
    private int[] epsCount = new int[1024];
    private int size;

    int newState() {
        if (size == MAX_STATES) {
            throw new ConstraintException("the constraint is too large: it needs more than " + MAX_STATES
                    + " automaton states (lower maxItems/maxLength/{m,n} bounds or simplify the schema)");
        }
        if (size == edges.length) {
            int n = size * 2;
            edges = Arrays.copyOf(edges, n);
            edgeCount = Arrays.copyOf(edgeCount, n);
            eps = Arrays.copyOf(eps, n);
            epsCount = Arrays.copyOf(epsCount, n);
        }
        return size++;
    }

    int size() {
        return size;
    }

    void edge(int from, int lo, int hi, int to) {
        int[] e = edges[from];
        int n = edgeCount[from];
        if (e == null) {
            e = edges[from] = new int[6];
        } else if (n * 3 + 3 > e.length) {
            e = edges[from] = Arrays.copyOf(e, e.length * 2);
        }
        e[n * 3] = lo;
        e[n * 3 + 1] = hi;
        e[n * 3 + 2] = to;
        edgeCount[from] = n + 1;
    }

    void epsilon(int from, int to) {
        int[] e = eps[from];
        int n = epsCount[from];
        if (e == null) {
            e = eps[from] = new int[2];
        } else if (n == e.length) {
            e = eps[from] = Arrays.copyOf(e, n * 2);
        }
        e[n] = to;
        epsCount[from] = n + 1;
    }

    // ---- fragment builders ----

    Frag empty() {
        int s = newState();
        return new Frag(s, s);
    }

    Frag bytes(byte[] b) {
        int start = newState();
        int cur = start;
        for (byte x : b) {
            int next = newState();
            edge(cur, x & 0xFF, x & 0xFF, next);
            cur = next;
        }
        return new Frag(start, cur);
    }

    Frag literal(String s) {
        return bytes(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    Frag byteRange(int lo, int hi) {
        int s = newState();
        int e = newState();
        edge(s, lo, hi, e);
        return new Frag(s, e);
    }

    Frag seq(Frag... parts) {
        Frag acc = parts[0];
        for (int i = 1; i < parts.length; i++) {
            epsilon(acc.end(), parts[i].start());
            acc = new Frag(acc.start(), parts[i].end());
        }
        return acc;
    }

    Frag alt(java.util.List<Frag> parts) {
        int s = newState();
        int e = newState();
        for (Frag f : parts) {
            epsilon(s, f.start());
            epsilon(f.end(), e);
        }
        return new Frag(s, e);
    }

    Frag optional(Frag f) {
        int s = newState();
        int e = newState();
        epsilon(s, f.start());
        epsilon(f.end(), e);
        epsilon(s, e);
        return new Frag(s, e);
    }

    /** Zero or more times: one copy of {@code f} on a loop. */
    Frag star(Frag f) {
        int s = newState();
        epsilon(s, f.start());
        epsilon(f.end(), s);
        return new Frag(s, s);
    }

    // ---- freezing ----

    /**
     * The automaton as immutable arrays, keeping only states from which {@code frag.end()} (the single accepting
     * state) can be reached, so that every live state of the {@link Dfa} can still complete.
     */
    Frozen freeze(Frag frag) {
        boolean[] live = coReachable(frag.end());
        if (!live[frag.start()]) {
            throw new ConstraintException("the constraint matches no output at all");
        }
        int[][] e = new int[size][];
        int[][] ep = new int[size][];
        for (int s = 0; s < size; s++) {
            if (!live[s]) {
                continue;
            }
            int[] src = edges[s];
            int n = 0;
            int[] out = new int[edgeCount[s] * 3];
            for (int i = 0; i < edgeCount[s]; i++) {
                if (live[src[i * 3 + 2]]) {
                    out[n++] = src[i * 3];
                    out[n++] = src[i * 3 + 1];
                    out[n++] = src[i * 3 + 2];
                }
            }
            e[s] = Arrays.copyOf(out, n);
            int m = 0;
            int[] eo = new int[epsCount[s]];
            for (int i = 0; i < epsCount[s]; i++) {
                if (live[eps[s][i]]) {
                    eo[m++] = eps[s][i];
                }
            }
            ep[s] = Arrays.copyOf(eo, m);
        }
        return new Frozen(e, ep, frag.start(), frag.end());
    }

    private boolean[] coReachable(int accept) {
        // reverse adjacency as counts + flat array
        int[] inCount = new int[size + 1];
        for (int s = 0; s < size; s++) {
            for (int i = 0; i < edgeCount[s]; i++) {
                inCount[edges[s][i * 3 + 2] + 1]++;
            }
            for (int i = 0; i < epsCount[s]; i++) {
                inCount[eps[s][i] + 1]++;
            }
        }
        for (int i = 0; i < size; i++) {
            inCount[i + 1] += inCount[i];
        }
        int[] from = new int[inCount[size]];
        int[] fill = Arrays.copyOf(inCount, size);
        for (int s = 0; s < size; s++) {
            for (int i = 0; i < edgeCount[s]; i++) {
                from[fill[edges[s][i * 3 + 2]]++] = s;
            }
            for (int i = 0; i < epsCount[s]; i++) {
                from[fill[eps[s][i]]++] = s;
            }
        }
        boolean[] live = new boolean[size];
        ArrayDeque<Integer> todo = new ArrayDeque<>();
        live[accept] = true;
        todo.add(accept);
        while (!todo.isEmpty()) {
            int t = todo.poll();
            for (int i = inCount[t]; i < inCount[t + 1]; i++) {
                if (!live[from[i]]) {
                    live[from[i]] = true;
                    todo.add(from[i]);
                }
            }
        }
        return live;
    }

    /**
     * The finished automaton. {@code edges[s]} holds (lo, hi, target) triples, {@code eps[s]} epsilon targets;
     * both are null for dead states.
     */
    record Frozen(int[][] edges, int[][] eps, int start, int accept) {
    }
}
