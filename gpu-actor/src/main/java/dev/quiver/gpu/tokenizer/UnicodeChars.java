package dev.quiver.gpu.tokenizer;

/**
 * Character classes with the meaning the Hugging Face tokenizers (written in Rust) give them,
 * which differs from {@link Character}'s: Rust's whitespace is the Unicode White_Space property
 * (NBSP included, U+001C..U+001F not), and "numeric" covers all of Nd, Nl and No.
 */
final class UnicodeChars {

    private UnicodeChars() {
    }

    /** Rust's {@code char::is_whitespace}: the Unicode White_Space property. */
    static boolean isWhiteSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
                || cp == 0x205F || cp == 0x3000;
    }

    /** Rust's {@code char::is_numeric}: general categories Nd, Nl and No. */
    static boolean isNumeric(int cp) {
        int type = Character.getType(cp);
        return type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER
                || type == Character.OTHER_NUMBER;
    }

    /** A character that continues a word, for added tokens marked {@code single_word}. */
    static boolean isWordChar(int cp) {
        return cp == '_' || Character.isAlphabetic(cp) || isNumeric(cp);
    }
}
