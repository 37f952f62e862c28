package dev.quiver.gpu.tokenizer;

import java.text.Normalizer;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code "normalizer"} step of a tokenizer.json, applied to each stretch of input text
 * between added tokens before pre-tokenization. SentencePiece-converted models (Llama 2,
 * Mistral v0.1) use it to turn {@code "hello world"} into {@code "▁hello▁world"}; Qwen2 uses NFC.
 */
@FunctionalInterface
interface TextNormalizer {

    String apply(String text);

    static TextNormalizer sequence(List<TextNormalizer> steps) {
        return text -> {
            String out = text;
            for (TextNormalizer step : steps) {
                out = step.apply(out);
            }
            return out;
        };
    }

    /** Prepends {@code prefix} to non-empty text, whatever the text starts with. */
    static TextNormalizer prepend(String prefix) {
        return text -> text.isEmpty() ? text : prefix + text;
    }

    static TextNormalizer replaceLiteral(String target, String replacement) {
        return text -> text.replace(target, replacement);
    }

    static TextNormalizer replaceRegex(Pattern pattern, String replacement) {
        String literal = Matcher.quoteReplacement(replacement);
        return text -> pattern.matcher(text).replaceAll(literal);
    }

    static TextNormalizer unicode(Normalizer.Form form) {
        return text -> Normalizer.normalize(text, form);
    }

    static TextNormalizer lowercase() {
        return text -> text.toLowerCase(Locale.ROOT);
    }

    static TextNormalizer strip(boolean left, boolean right) {
        return text -> {
            int start = 0;
            int end = text.length();
            while (left && start < end && UnicodeChars.isWhiteSpace(text.codePointAt(start))) {
                start += Character.charCount(text.codePointAt(start));
            }
            while (right && end > start && UnicodeChars.isWhiteSpace(text.codePointBefore(end))) {
                end -= Character.charCount(text.codePointBefore(end));
            }
            return text.substring(start, end);
        };
    }
}
