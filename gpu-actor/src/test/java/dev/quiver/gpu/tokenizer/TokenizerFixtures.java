package dev.quiver.gpu.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The hand-made model directories under {@code src/test/resources/tokenizer/} and helpers to
 * derive variants of them. {@code spm-tiny} is laid out like Llama 2's tokenizer.json (ids 3..258
 * are {@code <0x00>..<0xFF>}, then ▁ h e l o w r d a b c and a dozen merges); {@code bytelevel-tiny}
 * like Llama 3's (a 24-token GPT-2-alphabet vocabulary, merges as pairs, ignore_merges). Every
 * expected id in the tests was also checked against the Hugging Face tokenizers library.
 */
final class TokenizerFixtures {

    static final ObjectMapper JSON = new ObjectMapper();

    /** Text that exercises every UTF-8 length, combining marks and whitespace handling. */
    static final List<String> AWKWARD_TEXTS = List.of(
            "hello world",
            "Crème brûlée à la française, naïve coöperation",
            "e\u0301 n\u0303 a\u0308\u0304 (combining marks)",
            "日本語のテキスト、漢字と仮名。 中文 한국어",
            "emoji 😀👍🏽👨‍👩‍👧 🦀 and flags 🇫🇷",
            "tabs\tand\nnewlines\r\n\n\nend",
            "  two leading spaces and three trailing   ",
            " ",
            "\u00a0non-breaking\u3000ideographic space",
            "math: ∑ x² ≤ ∞, 3.14159, −42, 1e10",
            "Ελληνικά, русский, עברית, العربية");

    private TokenizerFixtures() {
    }

    /** The directory of a model fixture in the test resources. */
    static Path resourceDir(String name) {
        try {
            return Path.of(TokenizerFixtures.class.getResource("/tokenizer/" + name + "/tokenizer.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Tokenizer load(String name) {
        return Tokenizers.load(resourceDir(name));
    }

    /** Copies a fixture's files into {@code target} and lets {@code edit} change its tokenizer.json. */
    static Path editedCopy(String name, Path target, Consumer<ObjectNode> edit) {
        try {
            Files.createDirectories(target);
            try (Stream<Path> files = Files.list(resourceDir(name))) {
                for (Path file : (Iterable<Path>) files::iterator) {
                    Files.copy(file, target.resolve(file.getFileName()));
                }
            }
            Path tokenizerJson = target.resolve("tokenizer.json");
            ObjectNode root = (ObjectNode) JSON.readTree(tokenizerJson.toFile());
            edit.accept(root);
            JSON.writeValue(tokenizerJson.toFile(), root);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void writeJson(Path file, String json) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
