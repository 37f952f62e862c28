package dev.quiver.gpu.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The {@code "decoder"} of a tokenizer.json compiled into what it amounts to for the decoders
 * Llama-family models use: every id stands for a fixed byte string, the bytes of consecutive
 * tokens are joined and read as UTF-8, and the very start of the text may lose a few copies of
 * one character (the space SentencePiece prepended: {@code Strip}), or the first token may be
 * spelled without its ▁ ({@code Metaspace}). Seen that way, {@link Tokenizer#decode} and
 * {@link IncrementalDecoder} cannot disagree: they differ only in when bytes are read.
 *
 * <p>NOTE: for valid UTF-8 this is exactly the Hugging Face result. For invalid bytes it follows
 * {@link Utf8}'s per-subpart U+FFFD, also for ByteFallback models, where Hugging Face instead
 * blanks a whole run of byte tokens with one U+FFFD per byte when any of it is invalid; matching
 * that would mean holding back every run of byte tokens while streaming.
 *
 * <p>How a token string becomes bytes: the decoder's {@code Replace} steps in order (▁ to space),
 * then {@code ByteFallback} reads {@code <0xAB>} as the byte 0xAB, or {@code ByteLevel} maps the
 * GPT-2 alphabet back to bytes (a string with characters outside it, like an added {@code "\n"},
 * stays plain UTF-8, as in the Hugging Face implementation); anything else is its UTF-8.
 */
final class TokenDecoding {

    /**
     * The compiled decoder pipeline.
     *
     * @param replacements text rewrites of every token but the first, in order
     * @param firstTokenReplacements text rewrites of the first token decoded
     * @param stripCount how many leading {@code stripChar} the joined text loses
     */
    record Rules(List<UnaryOperator<String>> replacements, List<UnaryOperator<String>> firstTokenReplacements,
                 boolean byteFallback, boolean byteLevel, char stripChar, int stripCount) {
        Rules {
            replacements = List.copyOf(replacements);
            firstTokenReplacements = List.copyOf(firstTokenReplacements);
        }
    }

    // [vocabSize] bytes each id decodes to; null for ids no token has.
    private final byte[][] bytesById;
    // [vocabSize] the same when the id is the first token decoded; often the very same array.
    private final byte[][] firstBytesById;
    // [vocabSize] true for added tokens marked special.
    private final boolean[] special;
    private final char stripChar;
    private final int stripCount;

    TokenDecoding(String[] tokenStrings, boolean[] special, Rules rules) {
        this.special = special.clone();
        this.stripChar = rules.stripChar();
        this.stripCount = rules.stripCount();
        this.bytesById = new byte[tokenStrings.length][];
        boolean firstDiffers = !rules.firstTokenReplacements().equals(rules.replacements());
        this.firstBytesById = firstDiffers ? new byte[tokenStrings.length][] : bytesById;
        for (int id = 0; id < tokenStrings.length; id++) {
            if (tokenStrings[id] != null) {
                bytesById[id] = toBytes(tokenStrings[id], rules.replacements(), rules);
                if (firstDiffers) {
                    firstBytesById[id] = toBytes(tokenStrings[id], rules.firstTokenReplacements(), rules);
                }
            }
        }
    }

    private static byte[] toBytes(String token, List<UnaryOperator<String>> replacements, Rules rules) {
        String text = token;
        for (UnaryOperator<String> replacement : replacements) {
            text = replacement.apply(text);
        }
        if (rules.byteFallback() && isByteToken(text)) {
            return new byte[] {(byte) Integer.parseInt(text.substring(3, 5), 16)};
        }
        if (rules.byteLevel()) {
            byte[] bytes = ByteLevelAlphabet.decode(text);
            if (bytes != null) {
                return bytes;
            }
        }
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static boolean isByteToken(String text) {
        return text.length() == 6 && text.startsWith("<0x") && text.endsWith(">")
                && Character.digit(text.charAt(3), 16) >= 0 && Character.digit(text.charAt(4), 16) >= 0;
    }

    /**
     * The bytes of {@code id}, or null when the id is unknown or skipped as special (such ids do
     * not count as the first token).
     */
    byte[] bytes(int id, boolean skipSpecial, boolean first) {
        if (id < 0 || id >= bytesById.length || (skipSpecial && special[id])) {
            return null;
        }
        return first ? firstBytesById[id] : bytesById[id];
    }

    boolean isSpecial(int id) {
        return id >= 0 && id < special.length && special[id];
    }

    String decode(int[] ids, boolean skipSpecial) {
        byte[] all = new byte[totalLength(ids, skipSpecial)];
        int n = 0;
        boolean first = true;
        for (int id : ids) {
            byte[] b = bytes(id, skipSpecial, first);
            if (b != null) {
                System.arraycopy(b, 0, all, n, b.length);
                n += b.length;
                first = false;
            }
        }
        StringBuilder text = new StringBuilder(n);
        Utf8.decode(all, n, true, text);
        return newLeadingStrip().apply(text.toString());
    }

    private int totalLength(int[] ids, boolean skipSpecial) {
        int n = 0;
        for (int id : ids) {
            // The first token is never longer than its usual spelling.
            byte[] b = bytes(id, skipSpecial, false);
            n += b == null ? 0 : b.length;
        }
        return n;
    }

    /** A fresh remover for the leading characters the decoder strips from the whole output. */
    LeadingStrip newLeadingStrip() {
        return new LeadingStrip(stripChar, stripCount);
    }

    /**
     * Strips up to {@code count} leading {@code c} from text seen in consecutive chunks; once a
     * chunk has shown any other character, it passes everything through.
     */
    static final class LeadingStrip {
        private final char c;
        private int remaining;

        LeadingStrip(char c, int count) {
            this.c = c;
            this.remaining = count;
        }

        String apply(String chunk) {
            if (remaining == 0 || chunk.isEmpty()) {
                return chunk;
            }
            int k = 0;
            while (k < chunk.length() && remaining > 0 && chunk.charAt(k) == c) {
                k++;
                remaining--;
            }
            if (k < chunk.length()) {
                remaining = 0;
            }
            return chunk.substring(k);
        }
    }
}
