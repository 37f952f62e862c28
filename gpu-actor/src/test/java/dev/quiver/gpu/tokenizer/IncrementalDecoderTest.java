package dev.quiver.gpu.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streaming detokenization: what push() returns, token by token, adds up to decode() of the whole
 * sequence and never contains half a character.
 */
class IncrementalDecoderTest {

    @TempDir
    static Path demoDir;

    private static Tokenizer demo;
    private static final Tokenizer SPM = TokenizerFixtures.load("spm-tiny");

    @BeforeAll
    static void writeDemoTokenizer() {
        TokenizerMaker.writeByteLevel(demoDir, 800);
        demo = Tokenizers.load(demoDir);
    }

    @Test
    void pushed_pieces_and_flush_add_up_to_the_one_shot_decode() {
        for (Tokenizer tokenizer : List.of(demo, SPM)) {
            for (String text : TokenizerFixtures.AWKWARD_TEXTS) {
                int[] ids = tokenizer.encode(text, true);
                for (boolean skipSpecial : new boolean[] {true, false}) {
                    List<String> pieces = streamed(tokenizer, ids, skipSpecial);
                    assertEquals(tokenizer.decode(ids, skipSpecial), String.join("", pieces), text);
                    for (String piece : pieces) {
                        assertWholeCharacters(piece);
                    }
                }
            }
        }
    }

    @Test
    void holds_back_a_four_byte_emoji_spelled_as_byte_fallback_tokens() {
        int[] ids = SPM.encode("😀", false);
        assertEquals(5, ids.length, "▁ and four byte tokens");
        IncrementalDecoder decoder = SPM.newDecoder(true);
        // The ▁ alone is the prepended space that decoding drops.
        assertEquals(List.of("", "", "", "", "😀"), pushAll(decoder, ids));
        assertEquals("", decoder.flush());
    }

    @Test
    void holds_back_a_four_byte_emoji_split_over_byte_level_tokens() {
        int[] ids = demo.encode("a🦀", false);
        assertTrue(ids.length >= 3, "the demo corpus has no emoji, so the crab is spelled in bytes");
        List<String> pieces = pushAll(demo.newDecoder(true), ids);
        assertEquals("a", pieces.get(0));
        for (int i = 1; i < pieces.size() - 1; i++) {
            assertEquals("", pieces.get(i));
        }
        assertEquals("🦀", pieces.get(pieces.size() - 1));
    }

    @Test
    void drops_only_the_first_leading_space_of_a_sentencepiece_stream() {
        IncrementalDecoder decoder = SPM.newDecoder(false);
        assertEquals("hello", decoder.push(274));
        assertEquals(" world", decoder.push(279));
        // A special token first means the ▁ of the next word is not leading any more.
        IncrementalDecoder withBos = SPM.newDecoder(false);
        assertEquals(List.of("<s>", " hello"), pushAll(withBos, new int[] {1, 274}));
        IncrementalDecoder skippingBos = SPM.newDecoder(true);
        assertEquals(List.of("", "hello"), pushAll(skippingBos, new int[] {1, 274}));
    }

    @Test
    void flush_turns_an_unfinished_character_into_a_replacement_character() {
        IncrementalDecoder decoder = SPM.newDecoder(true);
        assertEquals("", decoder.push(3 + 0xF0));
        assertEquals("", decoder.push(3 + 0x9F));
        assertEquals("\uFFFD", decoder.flush());
        assertEquals(" hello", decoder.push(274), "the stream goes on after a flush");
    }

    private static List<String> streamed(Tokenizer tokenizer, int[] ids, boolean skipSpecial) {
        IncrementalDecoder decoder = tokenizer.newDecoder(skipSpecial);
        List<String> pieces = pushAll(decoder, ids);
        pieces.add(decoder.flush());
        return pieces;
    }

    private static List<String> pushAll(IncrementalDecoder decoder, int[] ids) {
        List<String> pieces = new ArrayList<>();
        for (int id : ids) {
            pieces.add(decoder.push(id));
        }
        return pieces;
    }

    private static void assertWholeCharacters(String piece) {
        assertFalse(piece.contains("\uFFFD"), () -> "replacement character in " + piece);
        for (int i = 0; i < piece.length(); i++) {
            char c = piece.charAt(i);
            if (Character.isHighSurrogate(c)) {
                assertTrue(i + 1 < piece.length() && Character.isLowSurrogate(piece.charAt(i + 1)), piece);
                i++;
            } else {
                assertFalse(Character.isLowSurrogate(c), piece);
            }
        }
    }
}
