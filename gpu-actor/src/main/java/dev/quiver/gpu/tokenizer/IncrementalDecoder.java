package dev.quiver.gpu.tokenizer;

import java.util.Arrays;

/**
 * Turns generated token ids into text as they are sampled, for streaming responses. A token may
 * end in the middle of a UTF-8 character (byte-level BPE splits rare characters over several
 * tokens, SentencePiece models spell them as {@code <0xF0>} byte tokens), so the bytes of an
 * incomplete character are held back until the token that completes it arrives: every string
 * returned is whole characters. The concatenation of all {@link #push} results and
 * {@link #flush()} equals {@link Tokenizer#decode} of the same ids, including the removal of the
 * leading space SentencePiece-style models prepend.
 *
 * <p>One decoder follows one sequence; not thread-safe. Obtain it from
 * {@link Tokenizer#newDecoder(boolean)}.
 */
public final class IncrementalDecoder {

    private final TokenDecoding decoding;
    private final boolean skipSpecial;
    private final TokenDecoding.LeadingStrip leadingStrip;
    // Bytes not yet turned into text: between calls, at most an incomplete character.
    private byte[] pending = new byte[16];
    private int pendingLength;
    private boolean started;

    IncrementalDecoder(TokenDecoding decoding, boolean skipSpecial) {
        this.decoding = decoding;
        this.skipSpecial = skipSpecial;
        this.leadingStrip = decoding.newLeadingStrip();
    }

    /**
     * Feeds one token; returns the newly completed text (possibly ""), never splitting a UTF-8
     * character or a byte-fallback sequence. Unknown ids, and special ids when skipping them,
     * add nothing.
     */
    public String push(int tokenId) {
        byte[] bytes = decoding.bytes(tokenId, skipSpecial, !started);
        if (bytes == null) {
            return "";
        }
        started = true;
        if (pendingLength + bytes.length > pending.length) {
            pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + bytes.length));
        }
        System.arraycopy(bytes, 0, pending, pendingLength, bytes.length);
        pendingLength += bytes.length;
        return read(false);
    }

    /**
     * Returns any text still held back (incomplete bytes become U+FFFD). Pushing may continue
     * afterwards; the text then simply goes on.
     */
    public String flush() {
        return read(true);
    }

    private String read(boolean endOfInput) {
        StringBuilder text = new StringBuilder(pendingLength);
        int consumed = Utf8.decode(pending, pendingLength, endOfInput, text);
        System.arraycopy(pending, consumed, pending, 0, pendingLength - consumed);
        pendingLength -= consumed;
        return leadingStrip.apply(text.toString());
    }
}
