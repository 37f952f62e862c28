package dev.quiver.gpu.tokenizer;

/**
 * UTF-8 to text with invalid input replaced by U+FFFD, one replacement per "maximal subpart" of
 * an ill-formed sequence (Unicode chapter 3, U+FFFD substitution). That is the rule of Rust's
 * {@code String::from_utf8_lossy}, which the Hugging Face ByteLevel decoder uses; the JDK's own
 * decoder groups some ill-formed bytes differently (for example {@code ED B3}, a UTF-8-encoded
 * surrogate, becomes one U+FFFD instead of two), hence this class.
 *
 * <p>Decoding can stop before an incomplete character at the end of the input and resume when
 * its remaining bytes arrive, which is how {@link IncrementalDecoder} streams; the bytes held
 * back are always a valid prefix, so the pieces add up to exactly the one-shot result.
 */
final class Utf8 {

    static final char REPLACEMENT = '\uFFFD';

    private Utf8() {
    }

    /**
     * Decodes {@code bytes[0..length)} into {@code out}.
     *
     * @param endOfInput when false, an incomplete but so far valid character at the end is left
     *     undecoded; when true, it becomes U+FFFD
     * @return the number of bytes consumed: {@code length}, or the start of the held-back tail
     */
    static int decode(byte[] bytes, int length, boolean endOfInput, StringBuilder out) {
        int i = 0;
        while (i < length) {
            int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                out.append((char) b0);
                i++;
                continue;
            }
            int continuations;
            int cp;
            // Allowed range of the second byte; it is narrower than 80..BF after E0, ED, F0 and F4,
            // which excludes overlong forms, surrogates and code points above U+10FFFF.
            int lo = 0x80;
            int hi = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                continuations = 1;
                cp = b0 & 0x1F;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                continuations = 2;
                cp = b0 & 0x0F;
                lo = b0 == 0xE0 ? 0xA0 : 0x80;
                hi = b0 == 0xED ? 0x9F : 0xBF;
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                continuations = 3;
                cp = b0 & 0x07;
                lo = b0 == 0xF0 ? 0x90 : 0x80;
                hi = b0 == 0xF4 ? 0x8F : 0xBF;
            } else {
                out.append(REPLACEMENT);
                i++;
                continue;
            }
            int j = i + 1;
            boolean complete = true;
            for (int k = 0; k < continuations; k++, j++) {
                if (j >= length) {
                    if (!endOfInput) {
                        return i;
                    }
                    complete = false;
                    break;
                }
                int b = bytes[j] & 0xFF;
                if (b < lo || b > hi) {
                    complete = false;
                    break;
                }
                cp = (cp << 6) | (b & 0x3F);
                lo = 0x80;
                hi = 0xBF;
            }
            if (complete) {
                out.appendCodePoint(cp);
            } else {
                // The lead byte and the valid continuations after it are one maximal subpart.
                out.append(REPLACEMENT);
            }
            i = j;
        }
        return length;
    }
}
