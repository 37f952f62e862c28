package dev.quiver.sources;

import java.util.Set;

/**
 * Which files of a source serving needs; nothing else is fetched. Only files at the top of the repo (or of its
 * SUBDIR) count: a model's {@code original/} folder of other formats is never fetched. Pickle formats
 * ({@code *.bin}, {@code *.pt}, {@code *.pth}, {@code *.pkl}, {@code *.ckpt}) are never on a list.
 */
public enum FileSet {
    /** A base model: its config, tokenizer, generation config, chat template and safetensors weights (+ index). */
    MODEL(Set.of("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "added_tokens.json", "chat_template.jinja", "chat_template.json",
            "model.safetensors.index.json"), true, Set.of("config.json")),
    /** A PEFT LoRA adapter: its config and safetensors weights. */
    ADAPTER(Set.of("adapter_config.json", "adapter_model.safetensors"), false,
            Set.of("adapter_config.json", "adapter_model.safetensors"));

    private final Set<String> names;
    private final boolean anySafetensors;
    private final Set<String> required;

    FileSet(Set<String> names, boolean anySafetensors, Set<String> required) {
        this.names = names;
        this.anySafetensors = anySafetensors;
        this.required = required;
    }

    /** Whether {@code name} (relative to the source's root, '/'-separated) is fetched. */
    public boolean wants(String name) {
        if (name.contains("/")) {
            return false;
        }
        return names.contains(name) || anySafetensors && name.endsWith(".safetensors");
    }

    /** The files a source must have for this set to be usable. */
    public Set<String> required() {
        return required;
    }
}
