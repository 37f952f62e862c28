package dev.quiver.gpu.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPT-2 / Llama 3 style tokenizers: the Llama 3 split regex, text rewritten in the GPT-2 byte
 * alphabet (space = Ġ, newline = Ċ, é = Ã©), BPE merges within each word. Uses the
 * {@code bytelevel-tiny} fixture: 0 h, 2 l, 4 Ġ, 5 w, 7 d, 8 !, 13 ll, 15 hello, 17 or, 19 ld,
 * 20 Ġworld, 21 Ã©, 22 ĊĊ, 23 Ġhello; added 24 &lt;|begin_of_text|&gt;, 25 &lt;|eot_id|&gt;,
 * 26 &lt;tool&gt; (not special), 27 &lt;|end_of_text|&gt;.
 */
class ByteLevelTokenizerTest {

    private final Tokenizer tokenizer = TokenizerFixtures.load("bytelevel-tiny");

    @TempDir
    Path temp;

    @Test
    void encodes_hello_world_in_the_gpt2_byte_alphabet() {
        assertArrayEquals(new int[] {15, 20, 8}, tokenizer.encode("hello world!", false));
        assertEquals("Ġworld", tokenizer.tokenString(20));
        assertEquals("hello world!", tokenizer.decode(new int[] {15, 20, 8}, false));
    }

    @Test
    void rewrites_non_ascii_bytes_and_newlines_through_the_byte_alphabet() {
        assertArrayEquals(new int[] {21}, tokenizer.encode("é", false));
        assertArrayEquals(new int[] {15, 22, 5, 17, 19}, tokenizer.encode("hello\n\nworld", false));
        assertEquals("é", tokenizer.decode(new int[] {21}, false));
        assertEquals("\n\n", tokenizer.decode(new int[] {22}, false));
    }

    @Test
    void applies_merges_by_rank_within_a_word() {
        // "l l" has rank 1 and "l d" rank 7: l l d is ll + d, not l + ld.
        assertArrayEquals(new int[] {13, 7}, tokenizer.encode("lld", false));
    }

    @Test
    void ignore_merges_takes_a_whole_word_found_in_the_vocabulary() {
        // No merge chain builds "Ġhello", but it is in the vocabulary.
        assertArrayEquals(new int[] {23}, tokenizer.encode(" hello", false));
        Tokenizer withMerges = Tokenizers.load(TokenizerFixtures.editedCopy("bytelevel-tiny", temp.resolve("m"),
                root -> ((ObjectNode) root.get("model")).put("ignore_merges", false)));
        assertArrayEquals(new int[] {4, 15}, withMerges.encode(" hello", false));
    }

    @Test
    void gpt2_style_byte_level_pre_tokenizer_splits_with_its_own_regex_and_optional_prefix_space() {
        Tokenizer gpt2 = Tokenizers.load(TokenizerFixtures.editedCopy("bytelevel-tiny", temp.resolve("g"),
                root -> root.set("pre_tokenizer", byteLevelNode(root, false))));
        assertArrayEquals(new int[] {15, 20, 8}, gpt2.encode("hello world!", false));
        // GPT-2's \s+(?!\S) leaves the second newline to the next word, so no ĊĊ here.
        assertArrayEquals(new int[] {15, 11, 11, 5, 17, 19}, gpt2.encode("hello\n\nworld", false));
        Tokenizer prefixed = Tokenizers.load(TokenizerFixtures.editedCopy("bytelevel-tiny", temp.resolve("p"),
                root -> root.set("pre_tokenizer", byteLevelNode(root, true))));
        assertArrayEquals(new int[] {23, 20, 8}, prefixed.encode("hello world!", false));
        assertArrayEquals(new int[] {24, 23}, prefixed.encode("<|begin_of_text|>hello", false));
    }

    @Test
    void matches_added_tokens_whole_and_skips_only_special_ones_when_decoding() {
        int[] ids = tokenizer.encode("<|begin_of_text|>hello<tool><|eot_id|>", false);
        assertArrayEquals(new int[] {24, 15, 26, 25}, ids);
        assertTrue(tokenizer.isSpecial(25));
        assertFalse(tokenizer.isSpecial(26));
        assertEquals("<|begin_of_text|>hello<tool><|eot_id|>", tokenizer.decode(ids, false));
        assertEquals("hello<tool>", tokenizer.decode(ids, true));
        // An unfinished special token is plain text; here only e, o, d of it are in the vocabulary.
        assertArrayEquals(new int[] {1, 3, 7, 25}, tokenizer.encode("<|eot_id|<|eot_id|>", false));
    }

    @Test
    void drops_characters_the_vocabulary_cannot_spell_when_there_is_no_unknown_token() {
        // As the Hugging Face library does: "z" has no token, no byte fallback, no unk_token.
        assertArrayEquals(new int[] {15}, tokenizer.encode("hellozz", false));
        assertArrayEquals(new int[0], tokenizer.encode("z", false));
    }

    @Test
    void takes_eos_from_generation_config_and_bos_default_from_the_post_processor() {
        assertEquals(Set.of(27, 25), tokenizer.eosIds());
        assertEquals(OptionalInt.of(24), tokenizer.bosId());
        // tokenizer_config.json has no add_bos_token; the TemplateProcessing starts with BOS.
        assertTrue(tokenizer.addsBosByDefault());
        assertArrayEquals(new int[] {24, 15}, tokenizer.encode("hello", true));
        assertEquals(28, tokenizer.vocabSize());
        assertEquals(OptionalInt.of(25), tokenizer.tokenId("<|eot_id|>"));
        assertEquals(OptionalInt.of(4), tokenizer.tokenId("Ġ"));
        assertTrue(tokenizer.chatTemplate().orElseThrow().contains("<|start_header_id|>"));
    }

    @Test
    void rejects_ids_no_token_has_when_asked_for_their_string_but_skips_them_when_decoding() {
        assertThrows(IllegalArgumentException.class, () -> tokenizer.tokenString(28));
        assertThrows(IllegalArgumentException.class, () -> tokenizer.tokenString(-1));
        assertEquals("hello", tokenizer.decode(new int[] {15, 1000, -3}, false));
    }

    private static ObjectNode byteLevelNode(ObjectNode root, boolean addPrefixSpace) {
        ObjectNode node = root.objectNode();
        node.put("type", "ByteLevel").put("add_prefix_space", addPrefixSpace).put("trim_offsets", true).put("use_regex", true);
        return node;
    }
}
