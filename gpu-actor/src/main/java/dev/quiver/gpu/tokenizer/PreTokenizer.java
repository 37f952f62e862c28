package dev.quiver.gpu.tokenizer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code "pre_tokenizer"} step of a tokenizer.json: cuts normalized text into words that BPE
 * then encodes one by one (merges never cross a word boundary), and for byte-level models also
 * rewrites each word into the byte alphabet. Pieces remember whether they start at the very
 * beginning of the input, which Metaspace's {@code prepend_scheme: "first"} depends on.
 */
interface PreTokenizer {

    /** A stretch of text; {@code atStart} when it begins at offset 0 of the encoded input. */
    record Piece(String text, boolean atStart) {
    }

    /** What happens to the matched delimiters, named as in tokenizer.json's {@code behavior}. */
    enum Behavior {
        REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS;

        static Behavior fromJson(String name) {
            switch (name) {
                case "Removed": return REMOVED;
                case "Isolated": return ISOLATED;
                case "MergedWithPrevious": return MERGED_WITH_PREVIOUS;
                case "MergedWithNext": return MERGED_WITH_NEXT;
                case "Contiguous": return CONTIGUOUS;
                default: return null;
            }
        }
    }

    /** The GPT-2 split pattern that {@code ByteLevel} applies when {@code use_regex} is true. */
    Pattern GPT2_PATTERN = OnigRegex.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    void split(Piece piece, List<Piece> out);

    default List<Piece> apply(List<Piece> pieces) {
        List<Piece> out = new ArrayList<>(pieces.size() * 2);
        for (Piece piece : pieces) {
            split(piece, out);
        }
        return out;
    }

    static PreTokenizer sequence(List<PreTokenizer> steps) {
        return new PreTokenizer() {
            @Override
            public void split(Piece piece, List<Piece> out) {
                out.addAll(apply(List.of(piece)));
            }

            @Override
            public List<Piece> apply(List<Piece> pieces) {
                List<Piece> current = pieces;
                for (PreTokenizer step : steps) {
                    current = step.apply(current);
                }
                return current;
            }
        };
    }

    /** {@code Split}: cuts at every match of a pattern. */
    static PreTokenizer split(Pattern pattern, Behavior behavior) {
        return (piece, out) -> {
            List<int[]> matches = new ArrayList<>();
            Matcher m = pattern.matcher(piece.text());
            while (m.find()) {
                if (m.end() > m.start()) {
                    matches.add(new int[] {m.start(), m.end()});
                }
            }
            Spans.cut(piece, matches, behavior, out);
        };
    }

    /** {@code Digits}: isolates each digit, or each run of digits. */
    static PreTokenizer digits(boolean individualDigits) {
        return (piece, out) -> Spans.cut(piece, Spans.codePointsWhere(piece.text(), UnicodeChars::isNumeric),
                individualDigits ? Behavior.ISOLATED : Behavior.CONTIGUOUS, out);
    }

    /**
     * {@code ByteLevel}: optionally a leading space (to each piece that lacks one), optionally the
     * GPT-2 split, then every piece rewritten into the byte alphabet.
     */
    static PreTokenizer byteLevel(boolean addPrefixSpace, boolean useRegex) {
        PreTokenizer gpt2 = split(GPT2_PATTERN, Behavior.ISOLATED);
        return (piece, out) -> {
            Piece spaced = addPrefixSpace && !piece.text().startsWith(" ")
                    ? new Piece(" " + piece.text(), piece.atStart()) : piece;
            List<Piece> words = useRegex ? gpt2.apply(List.of(spaced)) : List.of(spaced);
            for (Piece word : words) {
                out.add(new Piece(ByteLevelAlphabet.encode(word.text()), word.atStart()));
            }
        };
    }

    /** How Metaspace puts the replacement character in front of text. */
    enum PrependScheme { ALWAYS, FIRST, NEVER }

    /**
     * {@code Metaspace}: spaces become {@code replacement} (normally ▁), which is also prepended
     * per {@code scheme}; with {@code split} each ▁ then starts a new word.
     */
    static PreTokenizer metaspace(char replacement, PrependScheme scheme, boolean split) {
        String rep = String.valueOf(replacement);
        return (piece, out) -> {
            String text = piece.text().replace(" ", rep);
            boolean prepend = !text.startsWith(rep)
                    && (scheme == PrependScheme.ALWAYS || (scheme == PrependScheme.FIRST && piece.atStart()));
            if (prepend) {
                text = rep + text;
            }
            Piece replaced = new Piece(text, piece.atStart());
            if (!split) {
                if (!text.isEmpty()) {
                    out.add(replaced);
                }
                return;
            }
            Spans.cut(replaced, Spans.codePointsWhere(text, cp -> cp == replacement), Behavior.MERGED_WITH_NEXT, out);
        };
    }

    /** Cutting a piece into spans around delimiter matches, per {@link Behavior}. */
    final class Spans {

        private Spans() {
        }

        static List<int[]> codePointsWhere(String text, IntPredicate predicate) {
            List<int[]> matches = new ArrayList<>();
            for (int i = 0; i < text.length(); ) {
                int cp = text.codePointAt(i);
                int end = i + Character.charCount(cp);
                if (predicate.test(cp)) {
                    matches.add(new int[] {i, end});
                }
                i = end;
            }
            return matches;
        }

        /**
         * @param matches non-empty, ordered, non-overlapping [start, end) delimiter matches
         */
        static void cut(Piece piece, List<int[]> matches, Behavior behavior, List<Piece> out) {
            String text = piece.text();
            // Every stretch of the text as {start, end, isMatch}, delimiters and gaps alike.
            List<int[]> spans = new ArrayList<>(matches.size() * 2 + 1);
            int prev = 0;
            for (int[] m : matches) {
                if (m[0] > prev) {
                    spans.add(new int[] {prev, m[0], 0});
                }
                spans.add(new int[] {m[0], m[1], 1});
                prev = m[1];
            }
            if (prev < text.length()) {
                spans.add(new int[] {prev, text.length(), 0});
            }
            List<int[]> kept = new ArrayList<>(spans.size());
            switch (behavior) {
                case REMOVED:
                    for (int[] s : spans) {
                        if (s[2] == 0) {
                            kept.add(s);
                        }
                    }
                    break;
                case ISOLATED:
                    kept.addAll(spans);
                    break;
                case MERGED_WITH_PREVIOUS: {
                    boolean previousMatch = false;
                    for (int[] s : spans) {
                        boolean isMatch = s[2] == 1;
                        if (isMatch && !previousMatch && !kept.isEmpty()) {
                            kept.get(kept.size() - 1)[1] = s[1];
                        } else {
                            kept.add(s.clone());
                        }
                        previousMatch = isMatch;
                    }
                    break;
                }
                case MERGED_WITH_NEXT: {
                    // The mirror image of MERGED_WITH_PREVIOUS: walk backwards, then restore order.
                    boolean previousMatch = false;
                    for (int k = spans.size() - 1; k >= 0; k--) {
                        int[] s = spans.get(k);
                        boolean isMatch = s[2] == 1;
                        if (isMatch && !previousMatch && !kept.isEmpty()) {
                            kept.get(kept.size() - 1)[0] = s[0];
                        } else {
                            kept.add(s.clone());
                        }
                        previousMatch = isMatch;
                    }
                    Collections.reverse(kept);
                    break;
                }
                case CONTIGUOUS: {
                    boolean previousMatch = false;
                    for (int[] s : spans) {
                        boolean isMatch = s[2] == 1;
                        if (isMatch == previousMatch && !kept.isEmpty()) {
                            kept.get(kept.size() - 1)[1] = s[1];
                        } else {
                            kept.add(s.clone());
                        }
                        previousMatch = isMatch;
                    }
                    break;
                }
                default:
                    throw new AssertionError(behavior);
            }
            for (int[] s : kept) {
                out.add(new Piece(text.substring(s[0], s[1]), piece.atStart() && s[0] == 0));
            }
        }
    }
}
