package dev.quiver.gpu.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

/**
 * The pre-tokenizer regexes of tokenizer.json (written for Oniguruma) run under java.util.regex
 * and split text into the same words as the Hugging Face library; expected pieces were taken
 * from it.
 */
class SplitPatternTest {

    private static final PreTokenizer LLAMA3 = PreTokenizer.split(
            OnigRegex.compile(TokenizerMaker.LLAMA3_SPLIT_REGEX), PreTokenizer.Behavior.ISOLATED);
    private static final PreTokenizer GPT2 = PreTokenizer.split(PreTokenizer.GPT2_PATTERN, PreTokenizer.Behavior.ISOLATED);

    @Test
    void llama3_pattern_splits_contractions_digit_groups_and_whitespace_runs() {
        assertEquals(List.of("I", "'m", " ", "123", "45", " years", "\n\n", " ", " old", "!"),
                pieces(LLAMA3, "I'm 12345 years\n\n  old!"));
        assertEquals(List.of("a", " ", " b", "\t", "\tc", "\r\n\r\n", "d"), pieces(LLAMA3, "a  b\t\tc\r\n\r\nd"));
        assertEquals(List.of("don", "'t", " stop", "...\n"), pieces(LLAMA3, "don't stop...\n"));
    }

    @Test
    void llama3_contractions_are_case_insensitive_and_gpt2_ones_are_not() {
        assertEquals(List.of("I", "'M", " HE", "'S"), pieces(LLAMA3, "I'M HE'S"));
        assertEquals(List.of("I", "'", "M", " HE", "'", "S"), pieces(GPT2, "I'M HE'S"));
    }

    @Test
    void whitespace_and_letters_are_unicode_wide() {
        // U+3000 is \s for Oniguruma; with ASCII-only \s the two would stick together.
        assertEquals(List.of("x", "\u3000", "\u3000y"), pieces(LLAMA3, "x\u3000\u3000y"));
        assertEquals(List.of("Zürich", " ", "202", "4", "年"), pieces(LLAMA3, "Zürich 2024年"));
    }

    @Test
    void gpt2_pattern_keeps_the_space_before_words_and_numbers() {
        assertEquals(List.of("I", "'m", " 12345", " years", "\n\n ", " old", "!"),
                pieces(GPT2, "I'm 12345 years\n\n  old!"));
    }

    @Test
    void oniguruma_only_property_spellings_are_rewritten_for_java() {
        assertEquals("\\p{IsHan}+|\\P{L}|\\p{N}", OnigRegex.translate("\\p{Han}+|\\p{^L}|\\p{N}"));
        assertEquals(List.of("漢字", "kana"), pieces(PreTokenizer.split(OnigRegex.compile("\\p{Han}+"),
                PreTokenizer.Behavior.ISOLATED), "漢字kana"));
    }

    private static List<String> pieces(PreTokenizer preTokenizer, String text) {
        return preTokenizer.apply(List.of(new PreTokenizer.Piece(text, true))).stream()
                .map(PreTokenizer.Piece::text).collect(Collectors.toList());
    }
}
