package dev.quiver.gpu.cli;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelMaker;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code quiver model make DIR [--size tiny|small] [--adapters N] [--dtype f32|bf16] [--seed S]}: writes a random
 * Llama-architecture model in Hugging Face layout (config.json, model.safetensors, tokenizer.json,
 * tokenizer_config.json, generation_config.json) and N PEFT adapters under DIR/adapters/.
 */
final class ModelMakeCommand {
    private ModelMakeCommand() {
    }

    static int run(List<String> args, PrintStream out) {
        Args a = new Args(args);
        Path dir = Path.of(a.positional(0, "DIR"));
        String size = a.option("--size", "tiny");
        int adapters = Integer.parseInt(a.option("--adapters", "4"));
        DType dtype = switch (a.option("--dtype", "f32")) {
            case "f32" -> DType.F32;
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            default -> throw new CliException("--dtype must be f32, bf16 or f16");
        };
        long seed = Long.parseLong(a.option("--seed", "1"));
        a.rejectUnknown();
        int targetVocab = switch (size) {
            case "tiny" -> 512;
            case "small" -> 8192;
            default -> throw new CliException("--size must be tiny or small");
        };
        long t0 = System.nanoTime();
        ModelConfig cfg = ModelMaker.writeDemo(dir, targetVocab, vocab -> size.equals("tiny")
                ? ModelMaker.Shape.tiny(vocab) : ModelMaker.Shape.small(vocab), dtype, seed, adapters);
        List<ModelMaker.AdapterSpec> specs = ModelMaker.demoAdapters(adapters);
        out.printf("wrote %s model to %s: %,d parameters, %d layers, hidden %d, vocab %d, %s; %d adapters in %.1f s%n",
                size, dir, cfg.parameterCount(), cfg.numLayers(), cfg.hiddenSize(), cfg.vocabSize(), dtype,
                specs.size(), (System.nanoTime() - t0) / 1e9);
        for (ModelMaker.AdapterSpec s : specs) {
            out.printf("  adapters/%s: rank %d, alpha %d%s, targets %s%n", s.name(), s.rank(), s.alpha(),
                    s.rsLora() ? " (rsLoRA)" : "", s.targets().stream().map(m -> m.peftName).toList());
        }
        return 0;
    }
}
