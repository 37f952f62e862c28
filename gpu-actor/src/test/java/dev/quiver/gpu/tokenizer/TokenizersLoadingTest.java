package dev.quiver.gpu.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@link Tokenizers#load} accepts from a model directory, and how it refuses what it cannot
 * honour: always a {@link TokenizerException} whose message names the file.
 */
class TokenizersLoadingTest {

    @TempDir
    Path temp;

    @Test
    void malformed_json_names_the_file() {
        TokenizerFixtures.writeJson(temp.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", ");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizers.load(temp));
        assertMessageNames(e, temp.resolve("tokenizer.json"), "not valid JSON");
    }

    @Test
    void a_missing_tokenizer_json_names_the_file() {
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizers.load(temp));
        assertMessageNames(e, temp.resolve("tokenizer.json"), "not found");
    }

    @Test
    void wordpiece_and_unigram_models_are_refused_by_name() {
        for (String type : new String[] {"WordPiece", "Unigram"}) {
            Path dir = edited("m" + type, root -> ((ObjectNode) root.get("model")).put("type", type));
            TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizers.load(dir));
            assertMessageNames(e, dir.resolve("tokenizer.json"), "\"" + type + "\"");
        }
    }

    @Test
    void an_unknown_pre_tokenizer_is_refused_by_name() {
        Path dir = edited("p", root -> {
            ArrayNode steps = (ArrayNode) root.get("pre_tokenizer").get("pretokenizers");
            ((ObjectNode) steps.get(0)).removeAll().put("type", "BertPreTokenizer");
        });
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizers.load(dir));
        assertMessageNames(e, dir.resolve("tokenizer.json"), "pre_tokenizer.pretokenizers[0] type \"BertPreTokenizer\"");
    }

    @Test
    void an_unsupported_decoder_or_normalizer_is_refused_by_name() {
        Path wordPiece = edited("d", root -> root.putObject("decoder").put("type", "WordPiece"));
        assertMessageNames(assertThrows(TokenizerException.class, () -> Tokenizers.load(wordPiece)),
                wordPiece.resolve("tokenizer.json"), "decoder type \"WordPiece\"");
        Path precompiled = edited("n", root -> root.putObject("normalizer").put("type", "Precompiled"));
        assertMessageNames(assertThrows(TokenizerException.class, () -> Tokenizers.load(precompiled)),
                precompiled.resolve("tokenizer.json"), "normalizer type \"Precompiled\"");
    }

    @Test
    void a_merge_of_tokens_missing_from_the_vocabulary_names_the_token() {
        Path dir = edited("g", root -> ((ArrayNode) root.get("model").get("merges")).addArray().add("z").add("q"));
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizers.load(dir));
        assertMessageNames(e, dir.resolve("tokenizer.json"), "\"z\"");
    }

    @Test
    void malformed_tokenizer_config_names_that_file() {
        Path dir = edited("c", root -> { });
        TokenizerFixtures.writeJson(dir.resolve("tokenizer_config.json"), "[1, 2");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizers.load(dir));
        assertMessageNames(e, dir.resolve("tokenizer_config.json"), "not valid JSON");
    }

    @Test
    void a_bos_token_that_is_not_in_the_vocabulary_names_tokenizer_config() {
        Path dir = edited("b", root -> { });
        TokenizerFixtures.writeJson(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<nope>\"}");
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizers.load(dir));
        assertMessageNames(e, dir.resolve("tokenizer_config.json"), "\"<nope>\"");
    }

    @Test
    void eos_comes_from_a_single_generation_config_id_or_else_from_tokenizer_config() throws IOException {
        Path dir = edited("e", root -> { });
        TokenizerFixtures.writeJson(dir.resolve("generation_config.json"), "{\"eos_token_id\": 27}");
        assertEquals(Set.of(27), Tokenizers.load(dir).eosIds());
        Files.delete(dir.resolve("generation_config.json"));
        assertEquals(Set.of(25), Tokenizers.load(dir).eosIds());
    }

    @Test
    void without_tokenizer_config_there_is_no_bos_eos_or_template() {
        Path dir = edited("x", root -> { });
        for (String file : new String[] {"tokenizer_config.json", "generation_config.json"}) {
            try {
                Files.delete(dir.resolve(file));
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }
        Tokenizer tokenizer = Tokenizers.load(dir);
        assertEquals(OptionalInt.empty(), tokenizer.bosId());
        assertEquals(Set.of(), tokenizer.eosIds());
        assertEquals(Optional.empty(), tokenizer.chatTemplate());
        assertEquals(false, tokenizer.addsBosByDefault());
        assertEquals(15, tokenizer.encode("hello", true)[0]);
    }

    @Test
    void explicit_add_bos_token_false_wins_over_the_post_processor() {
        Path dir = edited("f", root -> { });
        TokenizerFixtures.writeJson(dir.resolve("tokenizer_config.json"),
                "{\"bos_token\": \"<|begin_of_text|>\", \"add_bos_token\": false}");
        Tokenizer tokenizer = Tokenizers.load(dir);
        assertEquals(OptionalInt.of(24), tokenizer.bosId());
        assertEquals(false, tokenizer.addsBosByDefault());
    }

    @Test
    void reads_the_chat_template_from_chat_template_jinja_when_the_config_has_none() {
        Path dir = edited("j", root -> { });
        TokenizerFixtures.writeJson(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<|begin_of_text|>\"}");
        TokenizerFixtures.writeJson(dir.resolve("chat_template.jinja"), "{{ messages[0]['content'] }}");
        assertEquals(Optional.of("{{ messages[0]['content'] }}"), Tokenizers.load(dir).chatTemplate());
    }

    @Test
    void chat_template_jinja_wins_over_the_configs_chat_template_as_in_transformers() {
        Path dir = edited("w", root -> { });
        TokenizerFixtures.writeJson(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"from config\"}");
        TokenizerFixtures.writeJson(dir.resolve("chat_template.jinja"), "from jinja file");
        Tokenizer tokenizer = Tokenizers.load(dir);
        assertEquals(Optional.of("from jinja file"), tokenizer.chatTemplate());
        assertEquals(java.util.Map.of("default", "from jinja file"), tokenizer.chatTemplates());
    }

    @Test
    void a_list_of_named_chat_templates_gives_default_and_tool_use_by_name() {
        Path dir = edited("n", root -> { });
        TokenizerFixtures.writeJson(dir.resolve("tokenizer_config.json"), "{\"chat_template\": ["
                + "{\"name\": \"tool_use\", \"template\": \"T\"}, {\"name\": \"default\", \"template\": \"D\"},"
                + "{\"name\": \"rag\", \"template\": \"R\"}]}");
        Tokenizer tokenizer = Tokenizers.load(dir);
        assertEquals(Optional.of("D"), tokenizer.chatTemplate());
        assertEquals(java.util.Map.of("default", "D", "tool_use", "T", "rag", "R"), tokenizer.chatTemplates());
    }

    @Test
    void special_tokens_are_the_configs_strings_not_the_generation_configs_eos_ids() {
        Path dir = edited("s", root -> { });
        TokenizerFixtures.writeJson(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<|begin_of_text|>\","
                + " \"eos_token\": {\"content\": \"<|eot_id|>\"}, \"pad_token\": null, \"unk_token\": \"<unk>\","
                + " \"additional_special_tokens\": [\"<a>\", {\"content\": \"<b>\"}]}");
        TokenizerFixtures.writeJson(dir.resolve("generation_config.json"), "{\"eos_token_id\": [24]}");
        Tokenizer tokenizer = Tokenizers.load(dir);
        assertEquals(java.util.Map.of("bos_token", "<|begin_of_text|>", "eos_token", "<|eot_id|>", "unk_token", "<unk>",
                "additional_special_tokens", java.util.List.of("<a>", "<b>")), tokenizer.specialTokens());
    }

    /** A copy of the byte-level fixture with an edit to its tokenizer.json. */
    private Path edited(String name, Consumer<ObjectNode> edit) {
        return TokenizerFixtures.editedCopy("bytelevel-tiny", temp.resolve(name), edit);
    }

    private static void assertMessageNames(TokenizerException e, Path file, String problem) {
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(problem), e.getMessage());
    }
}
