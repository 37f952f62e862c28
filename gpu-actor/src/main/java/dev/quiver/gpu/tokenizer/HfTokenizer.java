package dev.quiver.gpu.tokenizer;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * The {@link Tokenizer} assembled by {@link TokenizerJsonReader} from a tokenizer.json and the
 * model's configuration files. Encoding follows the Hugging Face pipeline: added tokens written
 * as-is in the text are cut out first, the text between them is normalized (where added tokens
 * marked {@code normalized} are then cut out too), pre-tokenized into words, and each word is
 * encoded by BPE. Padding, truncation and the post-processor are deliberately not applied.
 */
final class HfTokenizer implements Tokenizer {

    /** Everything read from the files, ready to use. */
    record Parts(AddedTokenMatcher rawAddedTokens, AddedTokenMatcher normalizedAddedTokens,
                 TextNormalizer normalizer, PreTokenizer preTokenizer, BpeModel model,
                 TokenDecoding decoding, String[] tokenStrings, Map<String, Integer> tokenIds,
                 OptionalInt bosId, boolean addsBosByDefault, Set<Integer> eosIds,
                 Optional<String> chatTemplate, Map<String, String> chatTemplates,
                 Map<String, Object> specialTokens) {
    }

    private final AddedTokenMatcher rawAddedTokens;
    private final AddedTokenMatcher normalizedAddedTokens;
    private final TextNormalizer normalizer;     // null: text goes to pre-tokenization unchanged
    private final PreTokenizer preTokenizer;     // null: each stretch of text is one word
    private final BpeModel model;
    private final TokenDecoding decoding;
    private final String[] tokenStrings;         // [vocabSize], null where no token has the id
    private final Map<String, Integer> tokenIds;
    private final OptionalInt bosId;
    private final boolean addsBosByDefault;
    private final Set<Integer> eosIds;
    private final Optional<String> chatTemplate;
    private final Map<String, String> chatTemplates;
    private final Map<String, Object> specialTokens;

    HfTokenizer(Parts parts) {
        this.rawAddedTokens = parts.rawAddedTokens();
        this.normalizedAddedTokens = parts.normalizedAddedTokens();
        this.normalizer = parts.normalizer();
        this.preTokenizer = parts.preTokenizer();
        this.model = parts.model();
        this.decoding = parts.decoding();
        this.tokenStrings = parts.tokenStrings().clone();
        this.tokenIds = Map.copyOf(parts.tokenIds());
        this.bosId = parts.bosId();
        this.addsBosByDefault = parts.addsBosByDefault() && parts.bosId().isPresent();
        this.eosIds = Set.copyOf(parts.eosIds());
        this.chatTemplate = parts.chatTemplate();
        this.chatTemplates = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(parts.chatTemplates()));
        this.specialTokens = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(parts.specialTokens()));
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        IntList out = new IntList(text.length() / 3 + 4);
        if (addBos && bosId.isPresent()) {
            out.add(bosId.getAsInt());
        }
        for (AddedTokenMatcher.Segment raw : rawAddedTokens.split(text)) {
            if (raw.isAdded()) {
                out.add(raw.addedId());
                continue;
            }
            String normalized = normalizer == null ? raw.text() : normalizer.apply(raw.text());
            for (AddedTokenMatcher.Segment segment : normalizedAddedTokens.split(normalized)) {
                if (segment.isAdded()) {
                    out.add(segment.addedId());
                    continue;
                }
                PreTokenizer.Piece piece = new PreTokenizer.Piece(segment.text(), raw.start() == 0 && segment.start() == 0);
                List<PreTokenizer.Piece> words = preTokenizer == null ? List.of(piece) : preTokenizer.apply(List.of(piece));
                for (PreTokenizer.Piece word : words) {
                    model.encodeWord(word.text(), out);
                }
            }
        }
        return out.toArray();
    }

    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        return decoding.decode(ids, skipSpecial);
    }

    @Override
    public int vocabSize() {
        return tokenStrings.length;
    }

    @Override
    public OptionalInt bosId() {
        return bosId;
    }

    @Override
    public boolean addsBosByDefault() {
        return addsBosByDefault;
    }

    @Override
    public Set<Integer> eosIds() {
        return eosIds;
    }

    @Override
    public boolean isSpecial(int id) {
        return decoding.isSpecial(id);
    }

    @Override
    public String tokenString(int id) {
        if (id < 0 || id >= tokenStrings.length || tokenStrings[id] == null) {
            throw new IllegalArgumentException("no token has id " + id + " (vocabulary size " + tokenStrings.length + ")");
        }
        return tokenStrings[id];
    }

    @Override
    public byte[] tokenBytes(int id) {
        byte[] b = decoding.bytes(id, false, false);
        return b == null ? null : b.clone();
    }

    @Override
    public OptionalInt tokenId(String token) {
        Integer id = tokenIds.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public IncrementalDecoder newDecoder(boolean skipSpecial) {
        return new IncrementalDecoder(decoding, skipSpecial);
    }

    @Override
    public Optional<String> chatTemplate() {
        return chatTemplate;
    }

    @Override
    public Map<String, String> chatTemplates() {
        return chatTemplates;
    }

    @Override
    public Map<String, Object> specialTokens() {
        return specialTokens;
    }

    @Override
    public String toString() {
        return "HfTokenizer[vocabSize=" + tokenStrings.length + ", " + model + "]";
    }
}
