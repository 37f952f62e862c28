package dev.quiver.gpu.constraint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The trie walk finds exactly the tokens a token-by-token check finds, in every state it is asked about. */
class TokenIndexTest {

    static byte[][] vocabulary(int size, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        String alphabet = "{}[]\",:0123456789-.eE abtrufnl\\é日";
        byte[][] out = new byte[size][];
        for (int i = 0; i < 256; i++) {
            out[i] = new byte[] {(byte) i};
        }
        for (int i = 256; i < size; i++) {
            if (i % 97 == 0) {
                out[i] = null; // a special token: never indexed
                continue;
            }
            // every fifth token shares its first five bytes with many others, and is a longer one
            StringBuilder sb = new StringBuilder(i % 5 == 0 ? "{\"b\":" : "");
            int len = 1 + rnd.nextInt(6);
            for (int k = 0; k < len; k++) {
                sb.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
            }
            out[i] = sb.toString().getBytes(StandardCharsets.UTF_8);
            if (i % 11 == 0) {
                out[i] = out[i - 1]; // duplicates happen in real vocabularies (added tokens)
            }
        }
        return out;
    }

    @Test
    void trie_walk_allows_exactly_the_tokens_that_fit_whole() {
        byte[][] vocab = vocabulary(6000, 3);
        TokenIndex index = TokenIndex.of(vocab);
        Dfa dfa = Constraints.compile(new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA,
                "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
                        + "\"b\":{\"type\":\"string\",\"maxLength\":3},\"c\":{\"enum\":[true,null,\"日\"]}}}"));
        int checked = 0;
        for (String prefix : new String[] {"", "{", "{\"a\":[", "{\"a\":[1", "{\"a\":[1.5e",
                "{\"b\":\"é", "{\"b\":", "{\"b\":\"",
                "{\"b\":\"\\", "{\"c\":", "{\"c\":\"\u65e5", "{\"a\":[],\"b\":\"xy\"}"}) {
            int state = dfa.walk(0, prefix.getBytes(StandardCharsets.UTF_8));
            assertTrue(state != Dfa.DEAD, prefix);
            long[] fromTrie = new long[(vocab.length + 63) / 64];
            index.allowed(dfa, state, fromTrie);
            long[] bruteForce = new long[fromTrie.length];
            for (int id = 0; id < vocab.length; id++) {
                if (vocab[id] != null && dfa.walk(state, vocab[id]) != Dfa.DEAD) {
                    bruteForce[id >>> 6] |= 1L << id;
                }
            }
            assertArrayEquals(bruteForce, fromTrie, "after " + prefix);
            checked++;
        }
        assertTrue(checked == 12);
    }
}
