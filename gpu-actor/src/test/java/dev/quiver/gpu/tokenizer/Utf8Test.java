package dev.quiver.gpu.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** Lossy UTF-8 decoding, one-shot and in pieces, with Rust's U+FFFD placement. */
class Utf8Test {

    @Test
    void decodes_multibyte_utf8_without_splitting_characters() {
        String text = "aé€😀日本";
        assertEquals(text, decodeAll(text.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void replaces_each_maximal_ill_formed_subpart_with_one_replacement_character() {
        // ED B3 would encode a surrogate: ED allows only 80..9F next, so ED and B3 are separate.
        assertEquals("\uFFFD\uFFFDc", decodeAll(bytes(0xED, 0xB3, 'c')));
        // Overlong forms: C0 is never valid; E0 80 is not a valid start.
        assertEquals("\uFFFD\uFFFD", decodeAll(bytes(0xC0, 0xAF)));
        assertEquals("\uFFFD\uFFFDa", decodeAll(bytes(0xE0, 0x80, 'a')));
        // A valid but truncated prefix is one subpart, whether cut by text or by the end.
        assertEquals("\uFFFDa", decodeAll(bytes(0xF0, 0x9F, 0x98, 'a')));
        assertEquals("a\uFFFD", decodeAll(bytes('a', 0xF0, 0x9F, 0x98)));
        assertEquals("\uFFFD", decodeAll(bytes(0xF5)));
    }

    @Test
    void holds_back_an_incomplete_character_until_more_bytes_arrive() {
        StringBuilder out = new StringBuilder();
        assertEquals(1, Utf8.decode(bytes('a', 0xF0, 0x9F), 3, false, out));
        assertEquals("a", out.toString());
    }

    @Test
    void decoding_in_pieces_equals_decoding_at_once() {
        Random random = new Random(42);
        for (int round = 0; round < 2000; round++) {
            byte[] data = new byte[random.nextInt(24)];
            for (int i = 0; i < data.length; i++) {
                // Mostly bytes that matter to UTF-8: leads, continuations, a few ASCII.
                int kind = random.nextInt(4);
                data[i] = (byte) (kind == 0 ? random.nextInt(0x80) : kind == 1 ? 0x80 + random.nextInt(0x40)
                        : 0xC0 + random.nextInt(0x40));
            }
            assertEquals(decodeAll(data), decodeInRandomPieces(data, random), () -> Arrays.toString(data));
        }
    }

    private static String decodeAll(byte[] data) {
        StringBuilder out = new StringBuilder();
        Utf8.decode(data, data.length, true, out);
        return out.toString();
    }

    private static String decodeInRandomPieces(byte[] data, Random random) {
        StringBuilder out = new StringBuilder();
        byte[] pending = new byte[data.length];
        int pendingLength = 0;
        int i = 0;
        while (i < data.length) {
            int n = 1 + random.nextInt(Math.min(4, data.length - i));
            System.arraycopy(data, i, pending, pendingLength, n);
            pendingLength += n;
            i += n;
            int consumed = Utf8.decode(pending, pendingLength, false, out);
            System.arraycopy(pending, consumed, pending, 0, pendingLength - consumed);
            pendingLength -= consumed;
        }
        Utf8.decode(pending, pendingLength, true, out);
        return out.toString();
    }

    private static byte[] bytes(int... values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (byte) values[i];
        }
        return out;
    }
}
