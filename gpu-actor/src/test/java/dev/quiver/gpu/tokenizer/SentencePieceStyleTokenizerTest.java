package dev.quiver.gpu.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Llama 2 / Mistral style tokenizers: ▁ for spaces, BPE with byte fallback, the prepended space
 * dropped again when decoding. Uses the {@code spm-tiny} fixture (see {@link TokenizerFixtures}):
 * 0 &lt;unk&gt;, 1 &lt;s&gt;, 2 &lt;/s&gt;, 3 + b for byte b, 259 ▁, 267 a, 270 ll, 274 ▁hello,
 * 279 ▁world, 280 bc, 281 ab.
 */
class SentencePieceStyleTokenizerTest {

    private final Tokenizer tokenizer = TokenizerFixtures.load("spm-tiny");

    @TempDir
    Path temp;

    @Test
    void encodes_words_to_their_merged_space_prefixed_tokens() {
        assertArrayEquals(new int[] {274, 279}, tokenizer.encode("hello world", false));
        assertEquals("▁hello", tokenizer.tokenString(274));
    }

    @Test
    void applies_the_lower_ranked_merge_first() {
        // merges: "b c" has rank 10, "a b" rank 11, so "abc" is a + bc, not ab + c.
        assertArrayEquals(new int[] {259, 267, 280}, tokenizer.encode("abc", false));
    }

    @Test
    void spells_characters_missing_from_the_vocabulary_as_utf8_byte_tokens() {
        // é = C3 A9, 😀 = F0 9F 98 80; <0xAB> has id 3 + 0xAB.
        assertArrayEquals(new int[] {259, 3 + 0xC3, 3 + 0xA9}, tokenizer.encode("é", false));
        assertArrayEquals(new int[] {259, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}, tokenizer.encode("😀", false));
        assertEquals("<0xF0>", tokenizer.tokenString(3 + 0xF0));
    }

    @Test
    void matches_special_tokens_written_in_the_text_as_single_ids() {
        assertArrayEquals(new int[] {1, 274, 2}, tokenizer.encode("<s>hello</s>", false));
        // Text after a special token is normalized on its own, so it gets its own ▁ (as in HF).
        assertArrayEquals(new int[] {1, 259, 274}, tokenizer.encode("<s> hello", false));
    }

    @Test
    void prepends_bos_only_when_asked() {
        assertEquals(OptionalInt.of(1), tokenizer.bosId());
        assertTrue(tokenizer.addsBosByDefault());
        assertArrayEquals(new int[] {1, 274, 279}, tokenizer.encode("hello world", true));
        assertArrayEquals(new int[] {274, 279}, tokenizer.encode("hello world", false));
    }

    @Test
    void decoding_drops_the_prepended_space_and_special_tokens_on_request() {
        assertEquals("hello world", tokenizer.decode(new int[] {274, 279}, false));
        assertEquals("<s> hello</s>", tokenizer.decode(new int[] {1, 274, 2}, false));
        assertEquals("hello", tokenizer.decode(new int[] {1, 274, 2}, true));
        assertEquals(" hello", tokenizer.decode(new int[] {259, 274}, true));
    }

    @Test
    void round_trips_text_with_multibyte_characters_and_odd_whitespace() {
        for (String text : TokenizerFixtures.AWKWARD_TEXTS) {
            assertEquals(text, tokenizer.decode(tokenizer.encode(text, true), true), text);
        }
    }

    @Test
    void reads_bos_object_eos_string_and_chat_template_from_tokenizer_config() {
        assertEquals(Set.of(2), tokenizer.eosIds());
        assertTrue(tokenizer.isSpecial(1));
        assertFalse(tokenizer.isSpecial(274));
        assertEquals(282, tokenizer.vocabSize());
        assertEquals(Optional.of("{% for message in messages %}[INST] {{ message['content'] }} [/INST]{% endfor %}"),
                tokenizer.chatTemplate());
    }

    @Test
    void metaspace_pre_tokenizer_encodes_like_the_normalizer_it_replaced() {
        Tokenizer metaspace = Tokenizers.load(TokenizerFixtures.editedCopy("spm-tiny", temp.resolve("m"), root -> {
            root.putNull("normalizer");
            root.set("pre_tokenizer", metaspaceNode(root, "first"));
            root.set("decoder", metaspaceNode(root, "first"));
        }));
        assertArrayEquals(new int[] {274, 279}, metaspace.encode("hello world", false));
        // Unlike Prepend, Metaspace adds no ▁ to text that already starts with one.
        assertArrayEquals(new int[] {259, 274}, metaspace.encode("  hello", false));
        // prepend_scheme "first": no ▁ for text that does not start the input.
        assertArrayEquals(new int[] {1, 260, 261, 270, 263}, metaspace.encode("<s>hello", false));
        assertEquals("hello world", metaspace.decode(new int[] {274, 279}, false));
        assertEquals(" hello", metaspace.decode(new int[] {259, 274}, false));
    }

    @Test
    void metaspace_decoder_drops_every_replacement_of_the_first_token_only() {
        Tokenizer metaspace = Tokenizers.load(TokenizerFixtures.editedCopy("spm-tiny", temp.resolve("m2"), root -> {
            root.putNull("normalizer");
            root.set("pre_tokenizer", metaspaceNode(root, "first"));
            root.set("decoder", metaspaceNode(root, "first"));
            ObjectNode model = (ObjectNode) root.get("model");
            ((ObjectNode) model.get("vocab")).put("▁▁", 282);
            ((ArrayNode) model.get("merges")).add("▁ ▁");
        }));
        int[] ids = metaspace.encode("   hello", false);
        assertArrayEquals(new int[] {282, 274}, ids);
        // As in Hugging Face: the first token "▁▁" decodes to nothing, later ▁ to spaces.
        assertEquals(" hello", metaspace.decode(ids, false));
        assertEquals("a  b", metaspace.decode(metaspace.encode("a  b", false), false));
        IncrementalDecoder decoder = metaspace.newDecoder(false);
        assertEquals("", decoder.push(282));
        assertEquals(" hello", decoder.push(274));
    }

    @Test
    void fuses_consecutive_unknown_characters_into_one_unknown_token_without_byte_fallback() {
        Tokenizer noFallback = Tokenizers.load(TokenizerFixtures.editedCopy("spm-tiny", temp.resolve("u"),
                root -> ((ObjectNode) root.get("model")).put("byte_fallback", false)));
        assertArrayEquals(new int[] {259, 0}, noFallback.encode("é€", false));
        assertArrayEquals(new int[] {274, 259, 0, 279}, noFallback.encode("hello €€ world", false));
    }

    @Test
    void added_tokens_match_longest_first_and_honour_lstrip_rstrip_and_single_word() {
        Tokenizer withAdded = Tokenizers.load(TokenizerFixtures.editedCopy("spm-tiny", temp.resolve("a"), root -> {
            ArrayNode added = (ArrayNode) root.get("added_tokens");
            added.addObject().put("id", 282).put("content", "<tool>").put("single_word", false)
                    .put("lstrip", true).put("rstrip", true).put("normalized", false).put("special", true);
            added.addObject().put("id", 283).put("content", "wor").put("single_word", true)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", false);
            added.addObject().put("id", 284).put("content", "<tool").put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        }));
        // The longest added token starting at a position wins.
        assertArrayEquals(new int[] {274, 282, 279}, withAdded.encode("hello<tool>world", false));
        assertArrayEquals(new int[] {274, 284, 279}, withAdded.encode("hello<toolworld", false));
        // The spaces around <tool> belong to it, so "world" gets a fresh ▁ rather than "▁▁".
        assertArrayEquals(new int[] {274, 282, 279}, withAdded.encode("hello <tool> world", false));
        assertArrayEquals(new int[] {274, 259, 283, 259, 279}, withAdded.encode("hello wor world", false));
        assertArrayEquals(new int[] {279}, withAdded.encode("world", false));
        assertEquals("hello world", withAdded.decode(withAdded.encode("hello <tool> world", false), true));
    }

    private static ObjectNode metaspaceNode(ObjectNode root, String scheme) {
        ObjectNode node = root.objectNode();
        node.put("type", "Metaspace").put("replacement", "▁").put("prepend_scheme", scheme).put("split", false);
        return node;
    }
}
