package dev.quiver.gpu.testing;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.gpu.tokenizer.Tokenizer;
import dev.quiver.gpu.tokenizer.TokenizerMaker;
import dev.quiver.gpu.tokenizer.Tokenizers;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Random tiny models and adapters written once per test JVM into a temp directory, keyed by their recipe. */
public final class TinyModels {
    private static final Map<String, Path> CACHE = new ConcurrentHashMap<>();

    private TinyModels() {
    }

    /** A tiny model with its adapters under dir/adapters/NAME. */
    public static synchronized Path model(DType dtype, ModelMaker.Shape shape, List<ModelMaker.AdapterSpec> adapters) {
        String key = dtype + "|" + shape + "|" + adapters;
        return CACHE.computeIfAbsent(key, k -> {
            try {
                Path dir = Files.createTempDirectory("quiver-tiny-");
                dir.toFile().deleteOnExit();
                ModelConfig cfg = ModelMaker.writeModel(dir, shape, dtype, 42, 1, 2);
                long seed = 100;
                for (ModelMaker.AdapterSpec a : adapters) {
                    ModelMaker.writeAdapter(dir.resolve("adapters").resolve(a.name()), cfg, a, dtype, seed++);
                }
                return dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    public static Path model(DType dtype) {
        return model(dtype, ModelMaker.Shape.tiny(96), ModelMaker.demoAdapters(4));
    }

    /**
     * A tiny model with the demo byte-level tokenizer (so the engine streams text and honours stop strings) and
     * {@code adapters} demo adapters, laid out as {@code quiver model make DIR --size tiny} writes it. Its
     * vocabulary holds single-byte tokens, so sampled text splits multi-byte characters over tokens.
     */
    public static synchronized Path textModel(int adapters) {
        return CACHE.computeIfAbsent("text|" + adapters, k -> {
            try {
                Path dir = Files.createTempDirectory("quiver-tiny-text-");
                dir.toFile().deleteOnExit();
                int vocab = Math.max(TokenizerMaker.writeByteLevel(dir, 512), 512);
                Tokenizer tok = Tokenizers.load(dir);
                ModelConfig cfg = ModelMaker.writeModel(dir, ModelMaker.Shape.tiny(vocab), DType.F32, 42,
                        tok.bosId().orElseThrow(), tok.eosIds().iterator().next());
                long seed = 100;
                for (ModelMaker.AdapterSpec a : ModelMaker.demoAdapters(adapters)) {
                    ModelMaker.writeAdapter(dir.resolve("adapters").resolve(a.name()), cfg, a, DType.F32, seed++);
                }
                return dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }
}
