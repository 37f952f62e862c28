package dev.quiver.gpu.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Tokenizer#tokenBytes}: the bytes a token stands for in output, which constrained decoding matches. */
class TokenBytesTest {
    @TempDir
    Path dir;

    @Test
    void byte_fallback_tokens_are_their_byte_and_metaspace_is_a_space() {
        Tokenizer t = TokenizerFixtures.load("spm-tiny");
        assertArrayEquals(new byte[] {(byte) 0xC3}, t.tokenBytes(3 + 0xC3));
        assertArrayEquals(" hello".getBytes(StandardCharsets.UTF_8), t.tokenBytes(274));
    }

    @Test
    void byte_level_tokens_map_the_gpt2_alphabet_back_to_bytes() {
        TokenizerMaker.writeByteLevel(dir, 400);
        Tokenizer t = Tokenizers.load(dir);
        int space = t.tokenId("Ġ").orElseThrow();
        assertArrayEquals(new byte[] {' '}, t.tokenBytes(space));
        int newline = t.tokenId("Ċ").orElseThrow();
        assertArrayEquals(new byte[] {'\n'}, t.tokenBytes(newline));
        assertNull(t.tokenBytes(t.vocabSize() + 5));
    }
}
