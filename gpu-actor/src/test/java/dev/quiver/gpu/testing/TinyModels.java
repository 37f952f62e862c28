package dev.quiver.gpu.testing;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelMaker;
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
}
