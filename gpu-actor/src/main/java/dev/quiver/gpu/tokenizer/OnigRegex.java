package dev.quiver.gpu.tokenizer;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Compiles the regular expressions found in tokenizer.json (written for Oniguruma, which the
 * Hugging Face library uses) with {@link java.util.regex}. The split patterns of GPT-2, Llama 3
 * and Qwen2 ({@code (?i:'s|'t)}, {@code \p{L}}, {@code \s+(?!\S)}) mean the same in both once
 * Java is told that {@code \s}, {@code \w} and case folding are Unicode-wide, which Oniguruma's
 * are. Script names ({@code \p{Han}}) need Java's {@code Is} prefix, and Oniguruma's negated
 * property {@code \p{^L}} is Java's {@code \P{L}}; both are rewritten here.
 */
final class OnigRegex {

    private OnigRegex() {
    }

    static Pattern compile(String onig) throws PatternSyntaxException {
        return Pattern.compile(translate(onig), Pattern.UNICODE_CHARACTER_CLASS);
    }

    static String translate(String onig) {
        StringBuilder out = new StringBuilder(onig.length() + 8);
        int i = 0;
        while (i < onig.length()) {
            char c = onig.charAt(i);
            if (c != '\\' || i + 1 >= onig.length()) {
                out.append(c);
                i++;
                continue;
            }
            char escaped = onig.charAt(i + 1);
            int close = onig.indexOf('}', i);
            if ((escaped == 'p' || escaped == 'P') && i + 2 < onig.length() && onig.charAt(i + 2) == '{' && close > 0) {
                String name = onig.substring(i + 3, close);
                boolean negated = escaped == 'P';
                if (name.startsWith("^")) {
                    negated = !negated;
                    name = name.substring(1);
                }
                out.append(negated ? "\\P{" : "\\p{").append(javaPropertyName(name)).append('}');
                i = close + 1;
            } else {
                out.append(c).append(escaped);
                i += 2;
            }
        }
        return out.toString();
    }

    private static String javaPropertyName(String name) {
        try {
            Pattern.compile("\\p{" + name + "}");
            return name;
        } catch (PatternSyntaxException notACategory) {
            return "Is" + name;
        }
    }
}
