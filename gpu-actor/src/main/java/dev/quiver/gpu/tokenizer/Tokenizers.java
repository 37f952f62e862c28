package dev.quiver.gpu.tokenizer;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Entry point of the package: builds a {@link Tokenizer} from a Hugging Face model directory, the
 * same directory the weights are loaded from. Reads only local files; nothing is downloaded.
 */
public final class Tokenizers {

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Tokenizers() {
    }

    /**
     * Loads dir/tokenizer.json plus dir/tokenizer_config.json and dir/generation_config.json when
     * present (and dir/chat_template.jinja, where newer exports keep the chat template). Throws
     * {@link TokenizerException} (unchecked, message names the file and the problem) on
     * unsupported or malformed input.
     */
    public static Tokenizer load(Path modelDir) {
        Path tokenizerFile = modelDir.resolve("tokenizer.json");
        Path configFile = modelDir.resolve("tokenizer_config.json");
        Path generationFile = modelDir.resolve("generation_config.json");
        Path jinjaFile = modelDir.resolve("chat_template.jinja");
        if (!Files.isRegularFile(tokenizerFile)) {
            throw TokenizerJsonReader.fail(tokenizerFile, "not found");
        }
        JsonNode tokenizer = readJson(tokenizerFile);
        JsonNode config = Files.isRegularFile(configFile) ? readJson(configFile) : null;
        JsonNode generation = Files.isRegularFile(generationFile) ? readJson(generationFile) : null;
        String jinja = null;
        if (Files.isRegularFile(jinjaFile)) {
            try {
                jinja = Files.readString(jinjaFile, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new TokenizerException(jinjaFile + ": cannot be read: " + e.getMessage(), e);
            }
        }
        return TokenizerJsonReader.read(tokenizerFile, tokenizer, configFile, config, generationFile, generation, jinja);
    }

    private static JsonNode readJson(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (JacksonException e) {
            throw new TokenizerException(file + ": is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new TokenizerException(file + ": cannot be read: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw TokenizerJsonReader.fail(file, "does not hold a JSON object");
        }
        return root;
    }
}
