package dev.quiver.gpu.constraint;

import java.util.ArrayList;
import java.util.List;

/**
 * Compiles the supported regular-expression subset into {@link Nfa} fragments. The whole output must match (the
 * pattern is implicitly anchored at both ends; a leading {@code ^} and a trailing {@code $} are accepted and
 * change nothing).
 *
 * <p>Supported: literals; escapes {@code \. \\ \n \t \r \f \v \xHH}, backslash-u with four hex digits, and any escaped punctuation; classes
 * {@code [...]} with ranges, negation and the shorthands inside; {@code .} (any character but newline);
 * {@code \d \w \s \D \W \S}; groups {@code (...)}, {@code (?:...)}, {@code (?<name>...)}, {@code (?P<name>...)};
 * alternation; quantifiers ? * + {m} {m,} {m,n} (a lazy {@code ?} suffix is accepted: it does not change
 * which strings match). Anything else (backreferences, lookaround, word boundaries, flags, Unicode properties,
 * possessive quantifiers) is a {@link ConstraintException} naming the construct.
 *
 * <p>In JSON-string mode (a JSON Schema {@code pattern}) the pattern describes the decoded string; every
 * character is emitted in its JSON encoding: {@code "}, {@code \} and control characters as escapes.
 */
final class RegexCompiler {
    static final int MAX_REPEAT = 1000;

    /** The parsed pattern. */
    sealed interface Node permits Chars, Seq, Alt, Repeat {
    }

    record Chars(CharSet set) implements Node {
    }

    record Seq(List<Node> items) implements Node {
    }

    record Alt(List<Node> items) implements Node {
    }

    record Repeat(Node item, int min, int max) implements Node { // max -1: unbounded
    }

    private final String src;
    private int pos;

    private RegexCompiler(String src) {
        this.src = src;
    }

    /** Parses {@code pattern}; throws {@link ConstraintException} for anything outside the subset. */
    static Node parse(String pattern) {
        RegexCompiler p = new RegexCompiler(pattern);
        if (p.peek('^')) {
            p.pos++;
        }
        Node n = p.alternation();
        if (p.pos < p.src.length()) {
            if (p.src.charAt(p.pos) == ')') {
                throw p.error("unbalanced ')'");
            }
            throw p.error("unexpected '" + p.src.charAt(p.pos) + "'");
        }
        return n;
    }

    /** Builds the fragment of a parsed pattern; {@code jsonString} emits characters JSON-escaped where needed. */
    static Nfa.Frag build(Nfa nfa, Node n, boolean jsonString) {
        if (n instanceof Chars c) {
            return chars(nfa, c.set(), jsonString);
        }
        if (n instanceof Seq s) {
            if (s.items().isEmpty()) {
                return nfa.empty();
            }
            Nfa.Frag[] parts = new Nfa.Frag[s.items().size()];
            for (int i = 0; i < parts.length; i++) {
                parts[i] = build(nfa, s.items().get(i), jsonString);
            }
            return nfa.seq(parts);
        }
        if (n instanceof Alt a) {
            List<Nfa.Frag> parts = new ArrayList<>();
            for (Node x : a.items()) {
                parts.add(build(nfa, x, jsonString));
            }
            return nfa.alt(parts);
        }
        Repeat r = (Repeat) n;
        return repeat(nfa, () -> build(nfa, r.item(), jsonString), r.min(), r.max());
    }

    /** {@code min} to {@code max} (-1: unbounded) copies of what {@code part} builds, each call a fresh copy. */
    static Nfa.Frag repeat(Nfa nfa, java.util.function.Supplier<Nfa.Frag> part, int min, int max) {
        List<Nfa.Frag> seq = new ArrayList<>();
        seq.add(nfa.empty());
        for (int i = 0; i < min; i++) {
            seq.add(part.get());
        }
        if (max < 0) {
            seq.add(nfa.star(part.get()));
        } else {
            // nested optionals: (x(x(x)?)?)? so that the automaton stays linear in max - min
            Nfa.Frag tail = null;
            for (int i = min; i < max; i++) {
                Nfa.Frag x = part.get();
                tail = nfa.optional(tail == null ? x : nfa.seq(x, tail));
            }
            if (tail != null) {
                seq.add(tail);
            }
        }
        return nfa.seq(seq.toArray(new Nfa.Frag[0]));
    }

    /** One character of {@code set}: raw UTF-8, or in JSON-string mode escaped where JSON requires it. */
    static Nfa.Frag chars(Nfa nfa, CharSet set, boolean jsonString) {
        if (!jsonString) {
            return set.toFrag(nfa);
        }
        CharSet mustEscape = CharSet.of(0, 0x1F).union(CharSet.single('"')).union(CharSet.single('\\'));
        List<Nfa.Frag> parts = new ArrayList<>();
        CharSet raw = set.minus(mustEscape);
        if (!raw.isEmpty()) {
            parts.add(raw.toFrag(nfa));
        }
        CharSet esc = set.intersect(mustEscape);
        for (int i = 0; i < esc.rangeCount(); i++) {
            for (int c = esc.lo(i); c <= esc.hi(i); c++) {
                parts.add(nfa.literal(jsonEscape(c)));
            }
        }
        if (parts.isEmpty()) {
            throw new ConstraintException("the pattern has a character class that matches nothing");
        }
        return parts.size() == 1 ? parts.get(0) : nfa.alt(parts);
    }

    static String jsonEscape(int c) {
        return switch (c) {
            case '"' -> "\\\"";
            case '\\' -> "\\\\";
            case '\n' -> "\\n";
            case '\r' -> "\\r";
            case '\t' -> "\\t";
            case '\b' -> "\\b";
            case '\f' -> "\\f";
            default -> String.format("\\u%04x", c);
        };
    }

    // ---- parser ----

    private boolean peek(char c) {
        return pos < src.length() && src.charAt(pos) == c;
    }

    private ConstraintException error(String what) {
        return new ConstraintException("regex " + what + " at offset " + pos + " of /" + src + "/");
    }

    private ConstraintException unsupported(String what) {
        return new ConstraintException("unsupported regex construct: " + what + " at offset " + pos + " of /"
                + src + "/");
    }

    private Node alternation() {
        List<Node> alts = new ArrayList<>();
        alts.add(sequence());
        while (peek('|')) {
            pos++;
            alts.add(sequence());
        }
        return alts.size() == 1 ? alts.get(0) : new Alt(alts);
    }

    private Node sequence() {
        List<Node> items = new ArrayList<>();
        while (pos < src.length() && !peek('|') && !peek(')')) {
            if (peek('$')) {
                if (pos == src.length() - 1) {
                    pos++;
                    break;
                }
                throw unsupported("'$' anchor before the end of the pattern");
            }
            Node atom = atom();
            items.add(quantified(atom));
        }
        return items.size() == 1 ? items.get(0) : new Seq(items);
    }

    private Node quantified(Node atom) {
        Node n = atom;
        while (pos < src.length()) {
            char c = src.charAt(pos);
            int min;
            int max;
            if (c == '?') {
                min = 0;
                max = 1;
                pos++;
            } else if (c == '*') {
                min = 0;
                max = -1;
                pos++;
            } else if (c == '+') {
                min = 1;
                max = -1;
                pos++;
            } else if (c == '{' && isCountedRepeat()) {
                pos++;
                min = number();
                max = min;
                if (peek(',')) {
                    pos++;
                    max = peek('}') ? -1 : number();
                }
                pos++; // '}'
                if (max >= 0 && max < min) {
                    throw error("repetition {" + min + "," + max + "} has max < min");
                }
                if (min > MAX_REPEAT || max > MAX_REPEAT) {
                    throw unsupported("repetition count above " + MAX_REPEAT);
                }
            } else {
                break;
            }
            if (peek('?')) {
                pos++; // lazy: same language
            } else if (peek('+')) {
                throw unsupported("possessive quantifier");
            }
            if (n instanceof Repeat) {
                throw unsupported("nested quantifier without a group");
            }
            n = new Repeat(n, min, max);
        }
        return n;
    }

    private boolean isCountedRepeat() {
        int i = pos + 1;
        int digits = 0;
        while (i < src.length() && Character.isDigit(src.charAt(i))) {
            i++;
            digits++;
        }
        if (digits == 0) {
            return false;
        }
        if (i < src.length() && src.charAt(i) == ',') {
            i++;
            while (i < src.length() && Character.isDigit(src.charAt(i))) {
                i++;
            }
        }
        return i < src.length() && src.charAt(i) == '}';
    }

    private int number() {
        int start = pos;
        while (pos < src.length() && Character.isDigit(src.charAt(pos))) {
            pos++;
        }
        String digits = src.substring(start, pos);
        if (digits.length() > 6) {
            throw unsupported("repetition count above " + MAX_REPEAT);
        }
        return Integer.parseInt(digits);
    }

    private Node atom() {
        char c = src.charAt(pos);
        switch (c) {
            case '(' -> {
                pos++;
                if (peek('?')) {
                    String rest = src.substring(pos);
                    if (rest.startsWith("?:")) {
                        pos += 2;
                    } else if (rest.startsWith("?P<") || (rest.startsWith("?<") && !rest.startsWith("?<=")
                            && !rest.startsWith("?<!"))) {
                        int close = src.indexOf('>', pos);
                        if (close < 0) {
                            throw error("unterminated group name");
                        }
                        pos = close + 1;
                    } else if (rest.startsWith("?=") || rest.startsWith("?!")) {
                        throw unsupported("lookahead (" + rest.substring(0, 2) + "...)");
                    } else if (rest.startsWith("?<=") || rest.startsWith("?<!")) {
                        throw unsupported("lookbehind (" + rest.substring(0, 3) + "...)");
                    } else if (rest.startsWith("?>")) {
                        throw unsupported("atomic group (?>...)");
                    } else {
                        throw unsupported("inline flags or group modifier (" + rest.substring(0,
                                Math.min(3, rest.length())) + "...)");
                    }
                }
                Node inner = alternation();
                if (!peek(')')) {
                    throw error("missing ')'");
                }
                pos++;
                return inner;
            }
            case '[' -> {
                return new Chars(charClass());
            }
            case '.' -> {
                pos++;
                return new Chars(CharSet.single('\n').complement());
            }
            case '\\' -> {
                return new Chars(escape(false));
            }
            case '^' -> throw unsupported("'^' anchor after the start of the pattern");
            case '*', '+', '?' -> throw error("quantifier '" + c + "' with nothing to repeat");
            case ')' -> throw error("unbalanced ')'");
            default -> {
                int cp = src.codePointAt(pos);
                pos += Character.charCount(cp);
                return new Chars(CharSet.single(cp));
            }
        }
    }

    private CharSet charClass() {
        int open = pos;
        pos++; // '['
        boolean negate = false;
        if (peek('^')) {
            negate = true;
            pos++;
        }
        CharSet set = CharSet.empty();
        boolean first = true;
        while (true) {
            if (pos >= src.length()) {
                pos = open;
                throw error("unterminated character class");
            }
            char c = src.charAt(pos);
            if (c == ']' && !first) {
                pos++;
                break;
            }
            if (c == '[' && pos + 1 < src.length() && (src.charAt(pos + 1) == ':' || src.charAt(pos + 1) == '=')) {
                throw unsupported("POSIX class [" + src.charAt(pos + 1) + "...]");
            }
            first = false;
            CharSet item;
            int lo;
            if (c == '\\') {
                item = escape(true);
                lo = item.rangeCount() == 1 && item.lo(0) == item.hi(0) ? item.lo(0) : -1;
            } else {
                lo = src.codePointAt(pos);
                pos += Character.charCount(lo);
                item = CharSet.single(lo);
            }
            if (lo >= 0 && peek('-') && pos + 1 < src.length() && src.charAt(pos + 1) != ']') {
                pos++;
                int hi;
                if (peek('\\')) {
                    CharSet h = escape(true);
                    if (h.rangeCount() != 1 || h.lo(0) != h.hi(0)) {
                        throw error("class range ends in a shorthand class");
                    }
                    hi = h.lo(0);
                } else {
                    hi = src.codePointAt(pos);
                    pos += Character.charCount(hi);
                }
                if (hi < lo) {
                    throw error("class range out of order");
                }
                item = CharSet.of(lo, hi);
            }
            set = set.union(item);
        }
        return negate ? set.complement() : set;
    }

    private CharSet escape(boolean inClass) {
        pos++; // '\'
        if (pos >= src.length()) {
            throw error("trailing backslash");
        }
        char c = src.charAt(pos++);
        CharSet digit = CharSet.of('0', '9');
        CharSet word = CharSet.of('a', 'z').union(CharSet.of('A', 'Z')).union(digit).union(CharSet.single('_'));
        CharSet space = CharSet.single(' ').union(CharSet.of('\t', '\r')); // \t \n \v \f \r
        return switch (c) {
            case 'd' -> digit;
            case 'D' -> digit.complement();
            case 'w' -> word;
            case 'W' -> word.complement();
            case 's' -> space;
            case 'S' -> space.complement();
            case 'n' -> CharSet.single('\n');
            case 't' -> CharSet.single('\t');
            case 'r' -> CharSet.single('\r');
            case 'f' -> CharSet.single('\f');
            case 'v' -> CharSet.single(0x0B);
            case '0' -> CharSet.single(0);
            case 'x' -> CharSet.single(hex(2));
            case 'u' -> CharSet.single(hex(4));
            case 'b' -> {
                if (inClass) {
                    yield CharSet.single('\b');
                }
                pos -= 2;
                throw unsupported("word boundary \\b");
            }
            default -> {
                if (Character.isLetterOrDigit(c)) {
                    pos -= 2;
                    throw unsupported(Character.isDigit(c) ? "backreference \\" + c : "escape \\" + c);
                }
                yield CharSet.single(c);
            }
        };
    }

    private int hex(int digits) {
        if (pos + digits > src.length()) {
            throw error("short hex escape");
        }
        try {
            int v = Integer.parseInt(src.substring(pos, pos + digits), 16);
            pos += digits;
            return v;
        } catch (NumberFormatException e) {
            throw error("bad hex escape");
        }
    }
}
