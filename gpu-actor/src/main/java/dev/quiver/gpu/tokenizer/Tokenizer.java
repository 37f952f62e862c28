package dev.quiver.gpu.tokenizer;

import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Text to token ids and back for one base model, as described by its Hugging Face
 * {@code tokenizer.json} (see {@link Tokenizers#load}). The engine encodes prompts with it and
 * the worker turns sampled ids back into text, token by token, through
 * {@link #newDecoder(boolean)}.
 *
 * <p>Implementations are immutable and safe to share between threads; the
 * {@link IncrementalDecoder}s they hand out are not.
 */
public interface Tokenizer {

    /**
     * Encodes text; added/special tokens that appear literally in the text are matched as single
     * tokens. {@code addBos} prepends BOS when the model has one. The tokenizer's own
     * post-processor is never applied: BOS is the only thing ever added.
     */
    int[] encode(String text, boolean addBos);

    /**
     * Decodes ids to text; {@code skipSpecial} drops special (added, {@code special=true})
     * tokens. Invalid UTF-8 bytes become U+FFFD. Ids the tokenizer does not know are skipped.
     */
    String decode(int[] ids, boolean skipSpecial);

    /** Number of ids the tokenizer knows: model vocabulary plus added tokens (max id + 1). */
    int vocabSize();

    /** The BOS id named by {@code tokenizer_config.json}'s {@code bos_token}, if any. */
    OptionalInt bosId();

    /**
     * Whether the model expects BOS in front of every prompt: {@code add_bos_token} from
     * {@code tokenizer_config.json}, else whether the post-processor template starts with BOS.
     * Never true when {@link #bosId()} is empty.
     */
    boolean addsBosByDefault();

    /**
     * Ids that end generation: {@code eos_token_id} of {@code generation_config.json} (an int or
     * a list), else {@code eos_token} of {@code tokenizer_config.json}; empty when neither says.
     */
    Set<Integer> eosIds();

    /** Whether {@code id} is an added token marked {@code special}. */
    boolean isSpecial(int id);

    /**
     * The raw vocabulary string of {@code id} (for example {@code "Ġworld"} or
     * {@code "<0x0A>"}), for debugging and logprobs.
     *
     * @throws IllegalArgumentException when no token has this id
     */
    String tokenString(int id);

    /**
     * The bytes {@code id} stands for in decoded output (byte-level alphabet and {@code <0xNN>} byte fallback
     * resolved, ▁ read as a space), or null when no token has the id. Constrained decoding matches these bytes.
     * The default reads {@link #tokenString} as UTF-8, which is right only for vocabularies of plain text.
     */
    default byte[] tokenBytes(int id) {
        if (id < 0 || id >= vocabSize()) {
            return null;
        }
        try {
            return tokenString(id).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** The id whose raw vocabulary string is exactly {@code token}, if there is one. */
    OptionalInt tokenId(String token);

    /** A fresh streaming decoder; see {@link IncrementalDecoder}. */
    IncrementalDecoder newDecoder(boolean skipSpecial);

    /**
     * The default chat template: chat_template.jinja when the model directory has one (newer exports keep it
     * there and it wins, as in transformers), else tokenizer_config.json's {@code chat_template} (a string, or the
     * entry named "default" of a list of {@code {name, template}}).
     */
    Optional<String> chatTemplate();

    /**
     * Every chat template by name: "default" for {@link #chatTemplate()}, plus the other named entries of a
     * {@code chat_template} list (for example "tool_use", which transformers picks when tools are given).
     */
    default java.util.Map<String, String> chatTemplates() {
        return chatTemplate().map(t -> java.util.Map.of("default", t)).orElse(java.util.Map.of());
    }

    /**
     * The special tokens tokenizer_config.json names, as chat templates see them: {@code bos_token},
     * {@code eos_token}, {@code unk_token}, {@code pad_token}, {@code sep_token}, {@code cls_token},
     * {@code mask_token} (strings; absent when unset) and {@code additional_special_tokens} (a list of strings).
     */
    default java.util.Map<String, Object> specialTokens() {
        java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
        bosId().ifPresent(id -> out.put("bos_token", tokenString(id)));
        if (!eosIds().isEmpty()) {
            out.put("eos_token", tokenString(eosIds().iterator().next()));
        }
        return out;
    }
}
