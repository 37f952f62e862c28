package dev.quiver.gpu.bench.peer;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.SafeTensorsFile;
import dev.quiver.gpu.model.SafeTensorsWriter;
import dev.quiver.gpu.model.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.stream.Stream;

/**
 * A model directory in another weight dtype, for the formats the given model is not stored in: the same files,
 * with every tensor of model.safetensors re-encoded (BF16 from F32 rounds to nearest even; widening is exact).
 */
final class ModelVariants {
    private ModelVariants() {
    }

    /** The dtype of the model's matrices (its first layer's q_proj). */
    static DType matrixDType(Path modelDir) {
        try (SafeTensorsFile st = SafeTensorsFile.open(modelDir.resolve("model.safetensors"))) {
            return st.info("model.layers.0.self_attn.q_proj.weight").dtype();
        }
    }

    /** {@code modelDir} itself when it is stored in {@code dtype}, else a copy in {@code dtype} under {@code cache}. */
    static Path ensure(Path modelDir, DType dtype, Path cache) {
        if (matrixDType(modelDir) == dtype) {
            return modelDir;
        }
        // named after the source's path too, so that two models called "small" do not share a copy
        Path dir = cache.resolve(modelDir.getFileName() + "-" + Integer.toHexString(
                modelDir.toAbsolutePath().normalize().toString().hashCode()) + "-" + dtype.name().toLowerCase());
        Path weights = dir.resolve("model.safetensors");
        Path source = modelDir.resolve("model.safetensors");
        try {
            if (Files.exists(weights) && Files.getLastModifiedTime(weights).compareTo(
                    Files.getLastModifiedTime(source)) > 0) {
                return dir;
            }
            Files.createDirectories(dir);
            try (Stream<Path> files = Files.list(modelDir)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    if (!f.getFileName().toString().endsWith(".safetensors")) {
                        Files.copy(f, dir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir + ": " + e.getMessage(), e);
        }
        try (SafeTensorsFile st = SafeTensorsFile.open(source)) {
            SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
            List<TensorInfo> tensors = List.copyOf(st.tensors().values());
            for (TensorInfo t : tensors) {
                w.add(new SafeTensorsWriter.Entry(t.name(), dtype, t.shape(), () -> st.readFloats(t.name())));
            }
            w.write(weights);
        }
        return dir;
    }
}
