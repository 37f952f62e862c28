package dev.quiver.gpu.tokenizer;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;

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
    private final CharsetDecoder utf8 = TokenDecoding.newUtf8Decoder();
    private final TokenDecoding.LeadingStrip leadingStrip;
    // Bytes not yet read as text: at most an incomplete character between calls. Write mode.
    private ByteBuffer pending = ByteBuffer.allocate(64);

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
        byte[] bytes = decoding.bytes(tokenId, skipSpecial);
        if (bytes == null || bytes.length == 0) {
            return "";
        }
        if (pending.remaining() < bytes.length) {
            ByteBuffer bigger = ByteBuffer.allocate(Math.max(pending.capacity() * 2, pending.position() + bytes.length));
            pending.flip();
            bigger.put(pending);
            pending = bigger;
        }
        pending.put(bytes);
        return read(false);
    }

    /**
     * Returns any text still held back (incomplete bytes become U+FFFD). Pushing may continue
     * afterwards; the text then simply goes on.
     */
    public String flush() {
        String rest = read(true);
        utf8.reset();
        return rest;
    }

    private String read(boolean endOfInput) {
        pending.flip();
        // UTF-8 never yields more chars than bytes; the extra one is headroom for a surrogate pair.
        CharBuffer out = CharBuffer.allocate(pending.remaining() + 1);
        utf8.decode(pending, out, endOfInput);
        if (endOfInput) {
            utf8.flush(out);
        }
        pending.compact();
        return leadingStrip.apply(out.flip().toString());
    }
}
