package dev.quiver.gpu.tokenizer;

import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes the tokenizer files of the demo model, which has no download to take them from: a
 * Llama-3-style byte-level BPE whose merges are learned by {@link BpeTrainer} from a small
 * English corpus shipped with this package ({@code demo-corpus.txt}: prose, numbers and a little
 * code). The files have the layout of a real Llama 3 export, so the demo model exercises exactly
 * the loading path real models take.
 */
public final class TokenizerMaker {

    /** The Llama 3 pre-tokenizer split pattern (Oniguruma syntax, as written in tokenizer.json). */
    static final String LLAMA3_SPLIT_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
            + "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** The added special tokens, in id order after the learned vocabulary. */
    static final List<String> SPECIAL_TOKENS = List.of("<|begin_of_text|>", "<|end_of_text|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>");

    static final String BOS = "<|begin_of_text|>";
    static final String EOS = "<|eot_id|>";

    /**
     * A Llama-3-style chat template: each message is framed by header tokens and closed by
     * {@code <|eot_id|>}; the generation prompt opens an assistant header.
     */
    static final String CHAT_TEMPLATE = "{{- bos_token }}"
            + "{%- for message in messages %}"
            + "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}"
            + "{%- endfor %}"
            + "{%- if add_generation_prompt %}"
            + "{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
            + "{%- endif %}";

    private static final int BYTE_ALPHABET = 256;

    private TokenizerMaker() {
    }

    /**
     * Writes tokenizer.json and tokenizer_config.json for a demo model into {@code dir}
     * (created if missing): byte-level BPE with the Llama 3 split regex, merges learned from the
     * embedded corpus up to {@code targetVocab} ids in total (fewer when the corpus has no pair
     * left that occurs twice), and the five Llama 3 special tokens as added tokens. Deterministic
     * for given arguments.
     *
     * @return the resulting vocabulary size (learned tokens plus special tokens)
     * @throws IllegalArgumentException when {@code targetVocab} cannot hold the byte alphabet and
     *     the special tokens
     * @throws UncheckedIOException when the files cannot be written
     */
    public static int writeByteLevel(Path dir, int targetVocab) {
        int minimum = BYTE_ALPHABET + SPECIAL_TOKENS.size();
        if (targetVocab < minimum) {
            throw new IllegalArgumentException("targetVocab " + targetVocab + " is below " + minimum
                    + " (256 byte tokens and " + SPECIAL_TOKENS.size() + " special tokens)");
        }
        BpeTrainer.Result learned = BpeTrainer.train(corpus(), OnigRegex.compile(LLAMA3_SPLIT_REGEX),
                targetVocab - SPECIAL_TOKENS.size());
        int modelVocab = learned.tokens().size();
        ObjectMapper json = new ObjectMapper();
        ObjectNode tokenizer = tokenizerJson(json, learned);
        ObjectNode config = json.createObjectNode();
        config.put("add_bos_token", true);
        config.put("add_eos_token", false);
        config.put("bos_token", BOS);
        config.put("eos_token", EOS);
        config.put("clean_up_tokenization_spaces", false);
        config.put("tokenizer_class", "PreTrainedTokenizerFast");
        config.put("chat_template", CHAT_TEMPLATE);
        try {
            Files.createDirectories(dir);
            ObjectWriter writer = json.writer(prettyPrinter());
            Files.writeString(dir.resolve("tokenizer.json"), writer.writeValueAsString(tokenizer) + "\n", StandardCharsets.UTF_8);
            Files.writeString(dir.resolve("tokenizer_config.json"), writer.writeValueAsString(config) + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the demo tokenizer into " + dir, e);
        }
        return modelVocab + SPECIAL_TOKENS.size();
    }

    private static ObjectNode tokenizerJson(ObjectMapper json, BpeTrainer.Result learned) {
        int modelVocab = learned.tokens().size();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int i = 0; i < SPECIAL_TOKENS.size(); i++) {
            ObjectNode token = added.addObject();
            token.put("id", modelVocab + i);
            token.put("content", SPECIAL_TOKENS.get(i));
            token.put("single_word", false);
            token.put("lstrip", false);
            token.put("rstrip", false);
            token.put("normalized", false);
            token.put("special", true);
        }
        root.putNull("normalizer");

        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode steps = pre.putArray("pretokenizers");
        ObjectNode split = steps.addObject();
        split.put("type", "Split");
        split.putObject("pattern").put("Regex", LLAMA3_SPLIT_REGEX);
        split.put("behavior", "Isolated");
        split.put("invert", false);
        ObjectNode byteLevel = steps.addObject();
        byteLevel.put("type", "ByteLevel");
        byteLevel.put("add_prefix_space", false);
        byteLevel.put("trim_offsets", true);
        byteLevel.put("use_regex", false);

        // Written for Hugging Face tools that apply it; this package only reads BOS from it.
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode bos = post.putObject("special_tokens").putObject(BOS);
        bos.put("id", BOS);
        bos.putArray("ids").add(modelVocab);
        bos.putArray("tokens").add(BOS);

        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "ByteLevel");
        decoder.put("add_prefix_space", true);
        decoder.put("trim_offsets", true);
        decoder.put("use_regex", true);

        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", true);
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < modelVocab; id++) {
            vocab.put(learned.tokens().get(id), id);
        }
        ArrayNode merges = model.putArray("merges");
        // "a b" strings are safe: byte-level tokens spell a space as Ġ, never as ' '.
        for (String[] merge : learned.merges()) {
            merges.add(merge[0] + " " + merge[1]);
        }
        return root;
    }

    private static DefaultPrettyPrinter prettyPrinter() {
        // A fixed "\n" rather than the platform line separator keeps the files byte-identical everywhere.
        DefaultIndenter indenter = new DefaultIndenter("  ", "\n");
        return new DefaultPrettyPrinter()
                .withSeparators(Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER))
                .withObjectIndenter(indenter)
                .withArrayIndenter(indenter);
    }

    private static String corpus() {
        try (InputStream in = TokenizerMaker.class.getResourceAsStream("demo-corpus.txt")) {
            if (in == null) {
                throw new IllegalStateException("demo-corpus.txt is missing from the classpath beside " + TokenizerMaker.class.getName());
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read demo-corpus.txt", e);
        }
    }
}
