package dev.quiver.gpu.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo model's tokenizer, trained from the embedded corpus and loaded back like a download. */
class TokenizerMakerTest {

    private static final int TARGET = 700;

    @TempDir
    static Path dir;

    private static int written;
    private static Tokenizer tokenizer;

    @BeforeAll
    static void writeOnce() {
        written = TokenizerMaker.writeByteLevel(dir.resolve("demo"), TARGET);
        tokenizer = Tokenizers.load(dir.resolve("demo"));
    }

    @Test
    void writes_byte_identical_files_for_identical_arguments() throws IOException {
        TokenizerMaker.writeByteLevel(dir.resolve("again"), TARGET);
        for (String file : List.of("tokenizer.json", "tokenizer_config.json")) {
            assertArrayEquals(Files.readAllBytes(dir.resolve("demo").resolve(file)),
                    Files.readAllBytes(dir.resolve("again").resolve(file)), file);
        }
    }

    @Test
    void loads_back_with_the_vocabulary_size_it_returned() {
        assertEquals(TARGET, written);
        assertEquals(written, tokenizer.vocabSize());
    }

    @Test
    void stops_early_when_the_corpus_has_no_repeated_pair_left() {
        int size = TokenizerMaker.writeByteLevel(dir.resolve("huge"), 1_000_000);
        assertTrue(size > TARGET && size < 1_000_000, "vocab " + size);
        assertEquals(size, Tokenizers.load(dir.resolve("huge")).vocabSize());
    }

    @Test
    void common_english_words_become_single_tokens() {
        for (String word : List.of(" the", " and", " of", " to", " a", " is", " light", "The", " was")) {
            assertEquals(1, tokenizer.encode(word, false).length, word);
        }
        assertTrue(tokenizer.encode("The keeper lit the lamp.", false).length <= 7);
    }

    @Test
    void round_trips_text_including_characters_the_corpus_never_saw() {
        for (String text : TokenizerFixtures.AWKWARD_TEXTS) {
            assertEquals(text, tokenizer.decode(tokenizer.encode(text, false), false), text);
        }
    }

    @Test
    void round_trips_through_a_gpt2_style_byte_level_pre_tokenizer_as_well() throws IOException {
        Path gpt2 = dir.resolve("gpt2");
        TokenizerMaker.writeByteLevel(gpt2, TARGET);
        ObjectNode root = (ObjectNode) TokenizerFixtures.JSON.readTree(gpt2.resolve("tokenizer.json").toFile());
        root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false).put("use_regex", true);
        TokenizerFixtures.JSON.writeValue(gpt2.resolve("tokenizer.json").toFile(), root);
        Tokenizer tokenizer = Tokenizers.load(gpt2);
        for (String text : TokenizerFixtures.AWKWARD_TEXTS) {
            assertEquals(text, tokenizer.decode(tokenizer.encode(text, false), false), text);
        }
    }

    @Test
    void declares_llama3_special_tokens_bos_eos_and_a_chat_template() {
        int base = written - TokenizerMaker.SPECIAL_TOKENS.size();
        assertEquals(base, tokenizer.bosId().orElseThrow());
        assertTrue(tokenizer.addsBosByDefault());
        assertEquals(Set.of(base + 4), tokenizer.eosIds());
        for (int i = 0; i < 5; i++) {
            assertTrue(tokenizer.isSpecial(base + i));
            assertEquals(TokenizerMaker.SPECIAL_TOKENS.get(i), tokenizer.tokenString(base + i));
        }
        int[] ids = tokenizer.encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", true);
        assertEquals(base, ids[0]);
        assertEquals(base + 2, ids[1]);
        assertEquals(base + 4, ids[ids.length - 1]);
        assertEquals("user\n\nHi", tokenizer.decode(ids, true));
        String template = tokenizer.chatTemplate().orElseThrow();
        assertTrue(template.contains("<|start_header_id|>") && template.contains("add_generation_prompt"), template);
    }

    @Test
    void refuses_a_target_too_small_for_bytes_and_special_tokens() {
        assertThrows(IllegalArgumentException.class, () -> TokenizerMaker.writeByteLevel(dir.resolve("tiny"), 260));
    }
}
