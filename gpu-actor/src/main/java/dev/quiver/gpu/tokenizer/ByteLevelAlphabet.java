package dev.quiver.gpu.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The GPT-2 byte-to-character table that byte-level BPE vocabularies are written in. Each of
 * the 256 byte values is shown as one printable character, so a token made of arbitrary bytes
 * (half an emoji, a newline) is still a readable JSON string: printable Latin-1 bytes stand for
 * themselves and the rest (controls, space, DEL, NBSP, soft hyphen) are shifted to U+0100 and
 * up in byte order, which is why a space reads {@code Ġ} and a newline {@code Ċ}.
 */
final class ByteLevelAlphabet {

    private static final char[] BYTE_TO_CHAR = new char[256];
    // Indexed by character; -1 for characters that stand for no byte. The table ends at U+0143.
    private static final int[] CHAR_TO_BYTE = new int[0x144];

    static {
        Arrays.fill(CHAR_TO_BYTE, -1);
        int shifted = 0x100;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = (char) (printable ? b : shifted++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    private ByteLevelAlphabet() {
    }

    /** The character that stands for byte {@code b} (0..255). */
    static char charOf(int b) {
        return BYTE_TO_CHAR[b & 0xFF];
    }

    /** The byte that {@code c} stands for, or -1 when {@code c} is not in the alphabet. */
    static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }

    /** Rewrites text as its UTF-8 bytes, one alphabet character per byte. */
    static String encode(String text) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[utf8.length];
        for (int i = 0; i < utf8.length; i++) {
            out[i] = BYTE_TO_CHAR[utf8[i] & 0xFF];
        }
        return new String(out);
    }

    /**
     * The bytes a vocabulary string stands for, or null when some character is outside the
     * alphabet (added tokens such as {@code "\n"} written in plain text).
     */
    static byte[] decode(String token) {
        byte[] out = new byte[token.length()];
        for (int i = 0; i < token.length(); i++) {
            int b = byteOf(token.charAt(i));
            if (b < 0) {
                return null;
            }
            out[i] = (byte) b;
        }
        return out;
    }
}
