package dev.quiver.gpu.constraint;

import java.util.ArrayList;
import java.util.List;

/**
 * An immutable set of Unicode scalar values as sorted, disjoint, non-adjacent ranges, and its translation into
 * the byte automaton: every member becomes the bytes of its UTF-8 encoding (so {@code .} and {@code [^a]} only
 * ever produce well-formed UTF-8, whole characters at a time).
 */
final class CharSet {
    static final int MAX = 0x10FFFF;

    // [lo0, hi0, lo1, hi1, ...] inclusive, sorted and disjoint
    private final int[] ranges;

    private CharSet(int[] ranges) {
        this.ranges = ranges;
    }

    static CharSet of(int lo, int hi) {
        return normalize(new int[] {lo, hi});
    }

    static CharSet single(int c) {
        return of(c, c);
    }

    static CharSet empty() {
        return new CharSet(new int[0]);
    }

    /** Every scalar value (surrogates excluded). */
    static CharSet any() {
        return normalize(new int[] {0, MAX});
    }

    boolean isEmpty() {
        return ranges.length == 0;
    }

    int rangeCount() {
        return ranges.length / 2;
    }

    int lo(int i) {
        return ranges[i * 2];
    }

    int hi(int i) {
        return ranges[i * 2 + 1];
    }

    boolean contains(int c) {
        for (int i = 0; i < ranges.length; i += 2) {
            if (c >= ranges[i] && c <= ranges[i + 1]) {
                return true;
            }
        }
        return false;
    }

    CharSet union(CharSet o) {
        int[] all = new int[ranges.length + o.ranges.length];
        System.arraycopy(ranges, 0, all, 0, ranges.length);
        System.arraycopy(o.ranges, 0, all, ranges.length, o.ranges.length);
        return normalize(all);
    }

    CharSet complement() {
        List<Integer> out = new ArrayList<>();
        int next = 0;
        for (int i = 0; i < ranges.length; i += 2) {
            if (ranges[i] > next) {
                out.add(next);
                out.add(ranges[i] - 1);
            }
            next = ranges[i + 1] + 1;
        }
        if (next <= MAX) {
            out.add(next);
            out.add(MAX);
        }
        return normalize(out.stream().mapToInt(Integer::intValue).toArray());
    }

    CharSet minus(CharSet o) {
        return complement().union(o).complement();
    }

    CharSet intersect(CharSet o) {
        return complement().union(o.complement()).complement();
    }

    /** Sorts and merges ranges, and removes the surrogates (which UTF-8 cannot encode). */
    private static CharSet normalize(int[] r) {
        List<int[]> list = new ArrayList<>();
        for (int i = 0; i < r.length; i += 2) {
            int lo = Math.max(0, r[i]);
            int hi = Math.min(MAX, r[i + 1]);
            if (lo > hi) {
                continue;
            }
            // cut out 0xD800..0xDFFF
            if (lo < 0xD800 && hi >= 0xD800) {
                list.add(new int[] {lo, 0xD7FF});
                if (hi > 0xDFFF) {
                    list.add(new int[] {0xE000, hi});
                }
            } else if (lo >= 0xD800 && lo <= 0xDFFF) {
                if (hi > 0xDFFF) {
                    list.add(new int[] {0xE000, hi});
                }
            } else {
                list.add(new int[] {lo, hi});
            }
        }
        list.sort((a, b) -> Integer.compare(a[0], b[0]));
        List<int[]> merged = new ArrayList<>();
        for (int[] x : list) {
            int[] last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
            if (last != null && x[0] <= last[1] + 1) {
                last[1] = Math.max(last[1], x[1]);
            } else {
                merged.add(x.clone());
            }
        }
        int[] out = new int[merged.size() * 2];
        for (int i = 0; i < merged.size(); i++) {
            out[i * 2] = merged.get(i)[0];
            out[i * 2 + 1] = merged.get(i)[1];
        }
        return new CharSet(out);
    }

    /** A fragment matching the UTF-8 encoding of any one member. */
    Nfa.Frag toFrag(Nfa nfa) {
        int start = nfa.newState();
        int end = nfa.newState();
        // NOTE: sequences share their continuation tails (e.g. "80-BF 80-BF"), built from the end backwards, which
        // keeps a "any character" class at a handful of states.
        java.util.Map<String, Integer> tails = new java.util.HashMap<>();
        for (int i = 0; i < ranges.length; i += 2) {
            for (int[][] seq : utf8Sequences(ranges[i], ranges[i + 1])) {
                int next = end;
                StringBuilder key = new StringBuilder();
                for (int k = seq.length - 1; k >= 1; k--) {
                    key.insert(0, seq[k][0] + "-" + seq[k][1] + " ");
                    Integer shared = tails.get(key.toString());
                    if (shared == null) {
                        shared = nfa.newState();
                        nfa.edge(shared, seq[k][0], seq[k][1], next);
                        tails.put(key.toString(), shared);
                    }
                    next = shared;
                }
                nfa.edge(start, seq[0][0], seq[0][1], next);
            }
        }
        return new Nfa.Frag(start, end);
    }

    /**
     * Splits a range of scalar values (no surrogates inside) into sequences of byte ranges, each sequence the
     * UTF-8 encodings of a sub-range whose bytes vary independently per position.
     */
    static List<int[][]> utf8Sequences(int lo, int hi) {
        List<int[][]> out = new ArrayList<>();
        ArrayList<int[]> todo = new ArrayList<>();
        todo.add(new int[] {lo, hi});
        while (!todo.isEmpty()) {
            int[] r = todo.remove(todo.size() - 1);
            int s = r[0];
            int e = r[1];
            boolean split = false;
            // different encoded lengths
            for (int boundary : new int[] {0x7F, 0x7FF, 0xFFFF}) {
                if (s <= boundary && e > boundary) {
                    todo.add(new int[] {boundary + 1, e});
                    todo.add(new int[] {s, boundary});
                    split = true;
                    break;
                }
            }
            if (split) {
                continue;
            }
            int n = s <= 0x7F ? 1 : s <= 0x7FF ? 2 : s <= 0xFFFF ? 3 : 4;
            // align so that every continuation byte spans its full range when a leading one varies
            for (int i = 1; i < n && !split; i++) {
                int m = (1 << (6 * i)) - 1;
                if ((s & ~m) != (e & ~m)) {
                    if ((s & m) != 0) {
                        todo.add(new int[] {(s | m) + 1, e});
                        todo.add(new int[] {s, s | m});
                        split = true;
                    } else if ((e & m) != m) {
                        todo.add(new int[] {e & ~m, e});
                        todo.add(new int[] {s, (e & ~m) - 1});
                        split = true;
                    }
                }
            }
            if (split) {
                continue;
            }
            byte[] a = encode(s);
            byte[] b = encode(e);
            int[][] seq = new int[n][];
            for (int k = 0; k < n; k++) {
                seq[k] = new int[] {a[k] & 0xFF, b[k] & 0xFF};
            }
            out.add(seq);
        }
        return out;
    }

    static byte[] encode(int c) {
        return new String(Character.toChars(c)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
}
