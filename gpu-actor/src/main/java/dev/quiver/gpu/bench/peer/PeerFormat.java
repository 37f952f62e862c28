package dev.quiver.gpu.bench.peer;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.model.WeightFormat;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Function;

/**
 * A weight format the peer benchmark compares: the GGUF type llama.cpp gets, the safetensors dtype Quiver's copy
 * of the model is stored in, and how Quiver loads it ({@code null}: this build of Quiver cannot run the format, and
 * its rows say so while llama.cpp is still measured). The greedy check allows {@code logprobTolerance} between
 * the two engines' log-probabilities (the tokens must be identical).
 */
enum PeerFormat {
    // NOTE: measured on the small test model, 32 greedy steps after a 128-token prompt: F32 differs by up to ~5e-3
    // (llama.cpp's vectorised exp/silu and another summation order, over 12 layers); BF16 by up to ~2e-2, since
    // llama.cpp's BF16 matmul also rounds the activations to BF16 while Quiver keeps them F32.
    F32(GgmlType.F32, DType.F32, ModelWeights::load, WeightFormat.NATIVE, 1e-2),
    BF16(GgmlType.BF16, DType.BF16, ModelWeights::load, WeightFormat.NATIVE, 5e-2),
    // NOTE: Quiver quantises the F32 base at load (quiver.engine.weight-format = q8_0) into the same blocks and
    // scales as the GGUF llama.cpp gets; llama.cpp also rounds the activations to 8 bits in its dot products, Quiver
    // keeps them F32, so the two differ more than the weights alone would make them.
    Q8_0(GgmlType.Q8_0, DType.F32, ModelWeights::load, WeightFormat.Q8_0, 1e-1);

    final GgmlType gguf;
    final DType quiverDType;
    final Function<Path, ModelWeights> quiverLoader;
    /** How Quiver's CPU backend holds the loaded weights. */
    final WeightFormat quiverWeightFormat;
    final double logprobTolerance;

    PeerFormat(GgmlType gguf, DType quiverDType, Function<Path, ModelWeights> quiverLoader,
               WeightFormat quiverWeightFormat, double logprobTolerance) {
        this.gguf = gguf;
        this.quiverDType = quiverDType;
        this.quiverLoader = quiverLoader;
        this.quiverWeightFormat = quiverWeightFormat;
        this.logprobTolerance = logprobTolerance;
    }

    boolean quiverSupports() {
        return quiverLoader != null;
    }

    String label() {
        return name();
    }

    static PeerFormat parse(String s) {
        for (PeerFormat f : values()) {
            if (f.name().equalsIgnoreCase(s.trim()) || f.name().replace("_", "").equalsIgnoreCase(s.trim())) {
                return f;
            }
        }
        throw new IllegalArgumentException("--formats: '" + s + "' is not one of f32, bf16, q8_0");
    }

    String flag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
