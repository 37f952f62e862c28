package dev.quiver.gpu.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds the {@code added_tokens} of a tokenizer.json (special tokens such as {@code <|eot_id|>}
 * or {@code <s>}, and user-added words) in input text, so that they are emitted as their single
 * id instead of being spelled out by BPE. Scans left to right and takes the longest token that
 * starts at each position, honouring the per-token {@code single_word}, {@code lstrip} and
 * {@code rstrip} flags.
 */
final class AddedTokenMatcher {

    /** One added token as tokenizer.json describes it. */
    record Token(String content, int id, boolean singleWord, boolean lstrip, boolean rstrip) {
    }

    /** A stretch of input: either an added token ({@code addedId >= 0}) or text to encode. */
    record Segment(String text, int start, int addedId) {
        boolean isAdded() {
            return addedId >= 0;
        }
    }

    static final AddedTokenMatcher NONE = new AddedTokenMatcher(List.of());

    // Candidates per first UTF-16 unit, longest first.
    private final Map<Character, List<Token>> byFirstChar = new HashMap<>();

    AddedTokenMatcher(List<Token> tokens) {
        for (Token token : tokens) {
            if (!token.content().isEmpty()) {
                byFirstChar.computeIfAbsent(token.content().charAt(0), c -> new ArrayList<>()).add(token);
            }
        }
        for (List<Token> candidates : byFirstChar.values()) {
            candidates.sort(Comparator.comparingInt((Token t) -> t.content().length()).reversed());
        }
    }

    boolean isEmpty() {
        return byFirstChar.isEmpty();
    }

    /** Cuts {@code text} into added tokens and the (non-empty) text between them. */
    List<Segment> split(String text) {
        List<Segment> out = new ArrayList<>();
        if (byFirstChar.isEmpty()) {
            if (!text.isEmpty()) {
                out.add(new Segment(text, 0, -1));
            }
            return out;
        }
        int textStart = 0;
        int i = 0;
        while (i < text.length()) {
            Token match = longestAt(text, i);
            if (match == null) {
                i++;
                continue;
            }
            int start = i;
            int end = i + match.content().length();
            // lstrip/rstrip: the token swallows the whitespace beside it.
            while (match.lstrip() && start > textStart && UnicodeChars.isWhiteSpace(text.codePointBefore(start))) {
                start -= Character.charCount(text.codePointBefore(start));
            }
            while (match.rstrip() && end < text.length() && UnicodeChars.isWhiteSpace(text.codePointAt(end))) {
                end += Character.charCount(text.codePointAt(end));
            }
            if (start > textStart) {
                out.add(new Segment(text.substring(textStart, start), textStart, -1));
            }
            out.add(new Segment(text.substring(start, end), start, match.id()));
            textStart = end;
            i = end;
        }
        if (textStart < text.length()) {
            out.add(new Segment(text.substring(textStart), textStart, -1));
        }
        return out;
    }

    private Token longestAt(String text, int i) {
        List<Token> candidates = byFirstChar.get(text.charAt(i));
        if (candidates == null) {
            return null;
        }
        for (Token token : candidates) {
            if (text.startsWith(token.content(), i)
                    && (!token.singleWord() || standsAlone(text, i, i + token.content().length()))) {
                return token;
            }
        }
        return null;
    }

    private static boolean standsAlone(String text, int start, int end) {
        boolean leftFree = start == 0 || !UnicodeChars.isWordChar(text.codePointBefore(start));
        boolean rightFree = end == text.length() || !UnicodeChars.isWordChar(text.codePointAt(end));
        return leftFree && rightFree;
    }
}
