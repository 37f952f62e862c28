package dev.quiver.gpu.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads the parsed JSON of a model directory's tokenizer files into an {@link HfTokenizer}.
 * tokenizer.json gives the pipeline (normalizer, pre-tokenizer, BPE model, added tokens,
 * decoder); tokenizer_config.json gives BOS, EOS and the chat template; generation_config.json,
 * when present, has the final say on EOS. Every construct outside what Llama-family BPE
 * tokenizers use is refused with a {@link TokenizerException} naming the file and the construct,
 * rather than silently tokenizing differently from the model's training.
 */
final class TokenizerJsonReader {

    // Real vocabularies stay far below this (Llama 3: 128,256; Gemma: 256,000).
    private static final int MAX_ID = 1 << 24;

    private final Path tokenizerFile;
    private final Path configFile;
    private final Path generationFile;

    private TokenizerJsonReader(Path tokenizerFile, Path configFile, Path generationFile) {
        this.tokenizerFile = tokenizerFile;
        this.configFile = configFile;
        this.generationFile = generationFile;
    }

    /**
     * @param config tokenizer_config.json's content, or null when the file is absent
     * @param generation generation_config.json's content, or null when the file is absent
     * @param jinjaTemplate chat_template.jinja's content, or null when the file is absent
     */
    static HfTokenizer read(Path tokenizerFile, JsonNode tokenizer, Path configFile, JsonNode config,
                            Path generationFile, JsonNode generation, String jinjaTemplate) {
        return new TokenizerJsonReader(tokenizerFile, configFile, generationFile)
                .build(tokenizer, config, generation, jinjaTemplate);
    }

    private HfTokenizer build(JsonNode root, JsonNode config, JsonNode generation, String jinjaTemplate) {
        JsonNode modelNode = root.get("model");
        if (modelNode == null || !modelNode.isObject()) {
            throw fail(tokenizerFile, "has no \"model\" object");
        }
        requireBpe(modelNode);
        Map<String, Integer> vocab = readVocab(modelNode);
        BpeModel model = readModel(modelNode, vocab);

        TextNormalizer normalizer = readNormalizer(root.get("normalizer"), "normalizer");
        PreTokenizer preTokenizer = readPreTokenizer(root.get("pre_tokenizer"), "pre_tokenizer");
        TokenDecoding.Rules decoderRules = readDecoder(root.get("decoder"));

        List<AddedTokenMatcher.Token> rawAdded = new ArrayList<>();
        List<AddedTokenMatcher.Token> normalizedAdded = new ArrayList<>();
        Map<Integer, String> addedById = new LinkedHashMap<>();
        Set<Integer> specialIds = new LinkedHashSet<>();
        readAddedTokens(root.get("added_tokens"), normalizer, rawAdded, normalizedAdded, addedById, specialIds);

        int maxId = -1;
        for (int id : vocab.values()) {
            maxId = Math.max(maxId, id);
        }
        for (int id : addedById.keySet()) {
            maxId = Math.max(maxId, id);
        }
        if (maxId >= MAX_ID) {
            throw fail(tokenizerFile, "token id " + maxId + " is implausibly large (ids index dense tables here)");
        }
        String[] tokenStrings = new String[maxId + 1];
        Map<String, Integer> tokenIds = new HashMap<>(vocab);
        vocab.forEach((token, id) -> tokenStrings[id] = token);
        addedById.forEach((id, content) -> {
            tokenStrings[id] = content;
            tokenIds.put(content, id);
        });
        boolean[] special = new boolean[tokenStrings.length];
        for (int id : specialIds) {
            special[id] = true;
        }
        TokenDecoding decoding = new TokenDecoding(tokenStrings, special, decoderRules);

        String bosToken = config == null ? null : tokenName(config, "bos_token");
        OptionalInt bosId = bosToken == null ? OptionalInt.empty() : OptionalInt.of(idOf(bosToken, "bos_token", tokenIds));
        boolean addsBos;
        JsonNode addBosFlag = config == null ? null : config.get("add_bos_token");
        if (addBosFlag != null && addBosFlag.isBoolean()) {
            addsBos = addBosFlag.booleanValue();
        } else {
            addsBos = bosToken != null && templateStartsWith(root.get("post_processor"), bosToken);
        }
        Set<Integer> eosIds = readEosIds(config, generation, tokenIds);
        Map<String, String> chatTemplates = readChatTemplates(config, jinjaTemplate);
        Optional<String> chatTemplate = Optional.ofNullable(chatTemplates.get("default"));
        Map<String, Object> specialTokens = readSpecialTokens(config);

        return new HfTokenizer(new HfTokenizer.Parts(
                new AddedTokenMatcher(rawAdded), new AddedTokenMatcher(normalizedAdded),
                normalizer, preTokenizer, model, decoding, tokenStrings, tokenIds,
                bosId, addsBos, eosIds, chatTemplate, chatTemplates, specialTokens));
    }

    // ---- model ---------------------------------------------------------------------------

    private void requireBpe(JsonNode modelNode) {
        String type = modelNode.path("type").isTextual() ? modelNode.get("type").textValue() : null;
        // Files written by early versions of the library leave the type out; merges mean BPE.
        if (type == null && modelNode.has("merges")) {
            type = "BPE";
        }
        if (!"BPE".equals(type)) {
            throw fail(tokenizerFile, "model type " + quote(type) + " is not supported; only BPE models are");
        }
    }

    private Map<String, Integer> readVocab(JsonNode modelNode) {
        JsonNode vocabNode = modelNode.get("vocab");
        if (vocabNode == null || !vocabNode.isObject()) {
            throw fail(tokenizerFile, "model.vocab is not an object of token to id");
        }
        Map<String, Integer> vocab = new LinkedHashMap<>(vocabNode.size() * 2);
        var fields = vocabNode.fields();
        while (fields.hasNext()) {
            var entry = fields.next();
            if (!entry.getValue().canConvertToInt() || !entry.getValue().isIntegralNumber() || entry.getValue().intValue() < 0) {
                throw fail(tokenizerFile, "model.vocab has a bad id for " + quote(entry.getKey()) + ": " + entry.getValue());
            }
            vocab.put(entry.getKey(), entry.getValue().intValue());
        }
        return vocab;
    }

    private BpeModel readModel(JsonNode modelNode, Map<String, Integer> vocab) {
        for (String unsupported : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            JsonNode value = modelNode.get(unsupported);
            if (value != null && !value.isNull() && !(value.isTextual() && value.textValue().isEmpty())) {
                throw fail(tokenizerFile, "model." + unsupported + " " + value + " is not supported");
            }
        }
        // NOTE: "dropout" is ignored on purpose: it only randomizes merges for training, and a
        // serving tokenizer must be deterministic.
        JsonNode mergesNode = modelNode.path("merges");
        if (!mergesNode.isArray() && !mergesNode.isMissingNode()) {
            throw fail(tokenizerFile, "model.merges is not a list");
        }
        String[][] merges = new String[mergesNode.size()][];
        for (int i = 0; i < merges.length; i++) {
            JsonNode merge = mergesNode.get(i);
            String[] pair = null;
            if (merge.isTextual()) {
                pair = merge.textValue().split(" ", -1);
            } else if (merge.isArray() && merge.size() == 2 && merge.get(0).isTextual() && merge.get(1).isTextual()) {
                pair = new String[] {merge.get(0).textValue(), merge.get(1).textValue()};
            }
            if (pair == null || pair.length != 2) {
                throw fail(tokenizerFile, "model.merges[" + i + "] is neither \"a b\" nor [\"a\", \"b\"]: " + merge);
            }
            merges[i] = pair;
        }
        String unk = modelNode.path("unk_token").isTextual() ? modelNode.get("unk_token").textValue() : null;
        try {
            return new BpeModel(vocab, merges, unk,
                    modelNode.path("fuse_unk").asBoolean(false),
                    modelNode.path("byte_fallback").asBoolean(false),
                    modelNode.path("ignore_merges").asBoolean(false));
        } catch (IllegalArgumentException e) {
            throw fail(tokenizerFile, "model: " + e.getMessage());
        }
    }

    private void readAddedTokens(JsonNode list, TextNormalizer normalizer,
                                 List<AddedTokenMatcher.Token> raw, List<AddedTokenMatcher.Token> normalized,
                                 Map<Integer, String> addedById, Set<Integer> specialIds) {
        if (list == null || list.isNull()) {
            return;
        }
        if (!list.isArray()) {
            throw fail(tokenizerFile, "added_tokens is not a list");
        }
        for (int i = 0; i < list.size(); i++) {
            JsonNode t = list.get(i);
            if (!t.path("id").isIntegralNumber() || t.get("id").intValue() < 0 || !t.path("content").isTextual()) {
                throw fail(tokenizerFile, "added_tokens[" + i + "] needs an integer \"id\" and a string \"content\": " + t);
            }
            int id = t.get("id").intValue();
            String content = t.get("content").textValue();
            boolean special = t.path("special").asBoolean(false);
            boolean isNormalized = t.path("normalized").asBoolean(!special);
            // A token marked "normalized" is matched in normalized text, so it is stored in
            // normalized form ("ab" becomes "▁ab" under Llama 2's normalizer), as the Hugging Face
            // library does; it then also decodes as that form.
            String stored = isNormalized && normalizer != null ? normalizer.apply(content) : content;
            AddedTokenMatcher.Token token = new AddedTokenMatcher.Token(stored, id,
                    t.path("single_word").asBoolean(false), t.path("lstrip").asBoolean(false),
                    t.path("rstrip").asBoolean(false));
            (isNormalized ? normalized : raw).add(token);
            addedById.put(id, stored);
            if (special) {
                specialIds.add(id);
            }
        }
    }

    // ---- normalizer ----------------------------------------------------------------------

    private TextNormalizer readNormalizer(JsonNode node, String where) {
        if (node == null || node.isNull()) {
            return null;
        }
        String type = typeOf(node, where);
        switch (type) {
            case "Sequence": {
                List<TextNormalizer> steps = new ArrayList<>();
                JsonNode list = node.path("normalizers");
                for (int i = 0; i < list.size(); i++) {
                    TextNormalizer step = readNormalizer(list.get(i), where + ".normalizers[" + i + "]");
                    if (step != null) {
                        steps.add(step);
                    }
                }
                return TextNormalizer.sequence(steps);
            }
            case "Prepend":
                return TextNormalizer.prepend(requiredText(node, "prepend", where));
            case "Replace": {
                String content = requiredText(node, "content", where);
                JsonNode pattern = node.path("pattern");
                if (pattern.path("String").isTextual()) {
                    return TextNormalizer.replaceLiteral(pattern.get("String").textValue(), content);
                }
                return TextNormalizer.replaceRegex(regex(pattern, where), content);
            }
            case "NFC":
                return TextNormalizer.unicode(Normalizer.Form.NFC);
            case "NFD":
                return TextNormalizer.unicode(Normalizer.Form.NFD);
            case "NFKC":
                return TextNormalizer.unicode(Normalizer.Form.NFKC);
            case "NFKD":
                return TextNormalizer.unicode(Normalizer.Form.NFKD);
            case "Lowercase":
                return TextNormalizer.lowercase();
            case "Strip":
                return TextNormalizer.strip(node.path("strip_left").asBoolean(true), node.path("strip_right").asBoolean(true));
            default:
                throw fail(tokenizerFile, where + " type " + quote(type) + " is not supported");
        }
    }

    // ---- pre-tokenizer -------------------------------------------------------------------

    private PreTokenizer readPreTokenizer(JsonNode node, String where) {
        if (node == null || node.isNull()) {
            return null;
        }
        String type = typeOf(node, where);
        switch (type) {
            case "Sequence": {
                List<PreTokenizer> steps = new ArrayList<>();
                JsonNode list = node.path("pretokenizers");
                for (int i = 0; i < list.size(); i++) {
                    PreTokenizer step = readPreTokenizer(list.get(i), where + ".pretokenizers[" + i + "]");
                    if (step != null) {
                        steps.add(step);
                    }
                }
                return PreTokenizer.sequence(steps);
            }
            case "Split": {
                if (node.path("invert").asBoolean(false)) {
                    throw fail(tokenizerFile, where + " Split with invert=true is not supported");
                }
                String behaviorName = node.path("behavior").asText("");
                PreTokenizer.Behavior behavior = PreTokenizer.Behavior.fromJson(behaviorName);
                if (behavior == null) {
                    throw fail(tokenizerFile, where + " Split behavior " + quote(behaviorName) + " is not supported");
                }
                JsonNode pattern = node.path("pattern");
                Pattern compiled = pattern.path("String").isTextual()
                        ? Pattern.compile(Pattern.quote(pattern.get("String").textValue()))
                        : regex(pattern, where);
                return PreTokenizer.split(compiled, behavior);
            }
            case "ByteLevel":
                return PreTokenizer.byteLevel(node.path("add_prefix_space").asBoolean(true),
                        node.path("use_regex").asBoolean(true));
            case "Metaspace":
                return PreTokenizer.metaspace(replacementChar(node, where), prependScheme(node, where),
                        node.path("split").asBoolean(true));
            case "Digits":
                return PreTokenizer.digits(node.path("individual_digits").asBoolean(false));
            default:
                throw fail(tokenizerFile, where + " type " + quote(type) + " is not supported");
        }
    }

    private char replacementChar(JsonNode node, String where) {
        String replacement = node.path("replacement").asText("\u2581");
        if (replacement.length() != 1) {
            throw fail(tokenizerFile, where + " Metaspace replacement " + quote(replacement) + " is not one character");
        }
        return replacement.charAt(0);
    }

    private PreTokenizer.PrependScheme prependScheme(JsonNode node, String where) {
        JsonNode scheme = node.get("prepend_scheme");
        if (scheme == null || scheme.isNull()) {
            // Files from before prepend_scheme existed say add_prefix_space instead.
            return node.path("add_prefix_space").asBoolean(true) ? PreTokenizer.PrependScheme.ALWAYS : PreTokenizer.PrependScheme.NEVER;
        }
        switch (scheme.asText()) {
            case "always": return PreTokenizer.PrependScheme.ALWAYS;
            case "first": return PreTokenizer.PrependScheme.FIRST;
            case "never": return PreTokenizer.PrependScheme.NEVER;
            default: throw fail(tokenizerFile, where + " prepend_scheme " + quote(scheme.asText()) + " is not supported");
        }
    }

    // ---- decoder -------------------------------------------------------------------------

    private TokenDecoding.Rules readDecoder(JsonNode node) {
        if (node == null || node.isNull()) {
            throw fail(tokenizerFile, "has no decoder; a ByteLevel, Metaspace or ByteFallback decoder is required");
        }
        List<JsonNode> steps = new ArrayList<>();
        if ("Sequence".equals(typeOf(node, "decoder"))) {
            node.path("decoders").forEach(steps::add);
        } else {
            steps.add(node);
        }
        List<UnaryOperator<String>> replacements = new ArrayList<>();
        // The same rewrites for the first token, which Metaspace treats differently.
        List<UnaryOperator<String>> firstTokenReplacements = new ArrayList<>();
        boolean byteFallback = false;
        boolean byteLevel = false;
        boolean fused = false;
        char stripChar = ' ';
        int stripCount = 0;
        for (int i = 0; i < steps.size(); i++) {
            JsonNode step = steps.get(i);
            String where = node == step ? "decoder" : "decoder.decoders[" + i + "]";
            String type = typeOf(step, where);
            // The steps compile to: text rewrites, then text-to-bytes, then a strip of the joined
            // output. Orders that do not fit that shape are refused rather than approximated.
            boolean textStage = !byteFallback && !byteLevel && !fused && stripCount == 0;
            switch (type) {
                case "Replace": {
                    if (!textStage) {
                        throw fail(tokenizerFile, where + " Replace after a byte or fuse step is not supported");
                    }
                    String content = requiredText(step, "content", where);
                    JsonNode pattern = step.path("pattern");
                    UnaryOperator<String> replacement;
                    if (pattern.path("String").isTextual()) {
                        String target = pattern.get("String").textValue();
                        replacement = s -> s.replace(target, content);
                    } else {
                        Pattern p = regex(pattern, where);
                        String literal = Matcher.quoteReplacement(content);
                        replacement = s -> p.matcher(s).replaceAll(literal);
                    }
                    replacements.add(replacement);
                    firstTokenReplacements.add(replacement);
                    break;
                }
                case "Metaspace": {
                    if (!textStage) {
                        throw fail(tokenizerFile, where + " Metaspace after a byte or fuse step is not supported");
                    }
                    String rep = String.valueOf(replacementChar(step, where));
                    replacements.add(s -> s.replace(rep, " "));
                    // The first token loses its ▁ altogether (all of them, as in Hugging Face)
                    // unless nothing was ever prepended.
                    boolean dropsFirst = prependScheme(step, where) != PreTokenizer.PrependScheme.NEVER;
                    firstTokenReplacements.add(s -> s.replace(rep, dropsFirst ? "" : " "));
                    break;
                }
                case "ByteFallback":
                    byteFallback = true;
                    break;
                case "ByteLevel":
                    byteLevel = true;
                    break;
                case "Fuse":
                    fused = true;
                    break;
                case "Strip": {
                    if (!fused) {
                        throw fail(tokenizerFile, where + " Strip before Fuse (a per-token strip) is not supported");
                    }
                    if (step.path("stop").asInt(0) != 0) {
                        throw fail(tokenizerFile, where + " Strip with stop > 0 is not supported");
                    }
                    String content = requiredText(step, "content", where);
                    if (content.length() != 1) {
                        throw fail(tokenizerFile, where + " Strip content " + quote(content) + " is not one character");
                    }
                    stripChar = content.charAt(0);
                    stripCount = step.path("start").asInt(0);
                    break;
                }
                default:
                    throw fail(tokenizerFile, where + " type " + quote(type) + " is not supported");
            }
        }
        if (byteFallback && byteLevel) {
            throw fail(tokenizerFile, "decoder combines ByteFallback and ByteLevel, which is not supported");
        }
        return new TokenDecoding.Rules(replacements, firstTokenReplacements, byteFallback, byteLevel,
                stripChar, stripCount);
    }

    // ---- post-processor (read only to learn whether BOS is added by default) -------------

    private static boolean templateStartsWith(JsonNode processor, String bosToken) {
        if (processor == null || processor.isNull()) {
            return false;
        }
        String type = processor.path("type").asText("");
        if ("Sequence".equals(type)) {
            for (JsonNode inner : processor.path("processors")) {
                if (templateStartsWith(inner, bosToken)) {
                    return true;
                }
            }
            return false;
        }
        if ("TemplateProcessing".equals(type)) {
            JsonNode first = processor.path("single").path(0);
            return bosToken.equals(first.path("SpecialToken").path("id").asText(null));
        }
        return false;
    }

    // ---- tokenizer_config.json and generation_config.json --------------------------------

    private String tokenName(JsonNode config, String field) {
        JsonNode node = config.get(field);
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return node.textValue();
        }
        if (node.isObject() && node.path("content").isTextual()) {
            return node.get("content").textValue();
        }
        throw fail(configFile, field + " must be a string or an object with \"content\": " + node);
    }

    private int idOf(String token, String field, Map<String, Integer> tokenIds) {
        Integer id = tokenIds.get(token);
        if (id == null) {
            throw fail(configFile, field + " " + quote(token) + " is not a token of " + tokenizerFile.getFileName());
        }
        return id;
    }

    private Set<Integer> readEosIds(JsonNode config, JsonNode generation, Map<String, Integer> tokenIds) {
        JsonNode ids = generation == null ? null : generation.get("eos_token_id");
        if (ids != null && !ids.isNull()) {
            Set<Integer> out = new LinkedHashSet<>();
            if (ids.isIntegralNumber()) {
                out.add(ids.intValue());
            } else if (ids.isArray()) {
                for (JsonNode id : ids) {
                    if (!id.isIntegralNumber()) {
                        throw fail(generationFile, "eos_token_id list holds a non-integer: " + id);
                    }
                    out.add(id.intValue());
                }
            } else {
                throw fail(generationFile, "eos_token_id must be an integer or a list of integers: " + ids);
            }
            return out;
        }
        String eosToken = config == null ? null : tokenName(config, "eos_token");
        return eosToken == null ? Set.of() : Set.of(idOf(eosToken, "eos_token", tokenIds));
    }

    /**
     * Named chat templates: chat_template.jinja is "default" and wins over tokenizer_config.json (as in
     * transformers); a {@code chat_template} string is "default"; a list of {@code {name, template}} gives each by
     * name, its first entry standing in for a missing "default".
     */
    private Map<String, String> readChatTemplates(JsonNode config, String jinjaTemplate) {
        Map<String, String> out = new java.util.LinkedHashMap<>();
        JsonNode template = config == null ? null : config.get("chat_template");
        if (template != null && template.isTextual()) {
            out.put("default", template.textValue());
        } else if (template != null && template.isArray()) {
            for (JsonNode named : template) {
                if (named.path("name").isTextual() && named.path("template").isTextual()) {
                    out.putIfAbsent(named.get("name").textValue(), named.get("template").textValue());
                }
            }
            if (!out.containsKey("default") && template.size() > 0 && template.get(0).path("template").isTextual()) {
                out.put("default", template.get(0).get("template").textValue());
            }
        }
        if (jinjaTemplate != null) {
            out.put("default", jinjaTemplate);
        }
        return out;
    }

    private static final List<String> SPECIAL_TOKEN_FIELDS = List.of("bos_token", "eos_token", "unk_token",
            "sep_token", "pad_token", "cls_token", "mask_token");

    /** tokenizer_config.json's named special tokens, as strings (an object's "content"); others are skipped. */
    private Map<String, Object> readSpecialTokens(JsonNode config) {
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        if (config == null) {
            return out;
        }
        for (String field : SPECIAL_TOKEN_FIELDS) {
            // NOTE: lenient on purpose: a token that is neither a string nor {content} is not a template variable,
            // and only bos_token/eos_token (checked above) matter for encoding.
            JsonNode node = config.get(field);
            if (node != null && node.isTextual()) {
                out.put(field, node.textValue());
            } else if (node != null && node.path("content").isTextual()) {
                out.put(field, node.get("content").textValue());
            }
        }
        JsonNode extra = config.get("additional_special_tokens");
        if (extra != null && extra.isArray()) {
            List<String> tokens = new ArrayList<>();
            for (JsonNode t : extra) {
                if (t.isTextual()) {
                    tokens.add(t.textValue());
                } else if (t.path("content").isTextual()) {
                    tokens.add(t.get("content").textValue());
                }
            }
            out.put("additional_special_tokens", tokens);
        }
        return out;
    }

    // ---- helpers -------------------------------------------------------------------------

    private String typeOf(JsonNode node, String where) {
        if (!node.isObject() || !node.path("type").isTextual()) {
            throw fail(tokenizerFile, where + " has no \"type\": " + node);
        }
        return node.get("type").textValue();
    }

    private String requiredText(JsonNode node, String field, String where) {
        if (!node.path(field).isTextual()) {
            throw fail(tokenizerFile, where + " needs a string \"" + field + "\": " + node);
        }
        return node.get(field).textValue();
    }

    private Pattern regex(JsonNode pattern, String where) {
        if (!pattern.path("Regex").isTextual()) {
            throw fail(tokenizerFile, where + " pattern must be {\"String\": ...} or {\"Regex\": ...}: " + pattern);
        }
        String source = pattern.get("Regex").textValue();
        try {
            return OnigRegex.compile(source);
        } catch (PatternSyntaxException e) {
            throw fail(tokenizerFile, where + " regex " + quote(source) + " cannot be used: " + e.getDescription());
        }
    }

    static TokenizerException fail(Path file, String problem) {
        return new TokenizerException(file + ": " + problem);
    }

    private static String quote(String s) {
        return s == null ? "(none)" : '"' + s + '"';
    }
}
