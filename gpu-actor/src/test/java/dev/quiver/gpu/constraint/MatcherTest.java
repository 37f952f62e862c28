package dev.quiver.gpu.constraint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The matcher over a hand-made vocabulary whose tokens cut across JSON structure: one token spanning several JSON
 * tokens, a multi-byte character split over two byte tokens, escapes, a special token and EOS.
 */
class MatcherTest {
    // ids: the strings below; BYTE_C3/BYTE_A9 are the two bytes of 'é'; SPECIAL is never indexed; EOS last
    static final List<String> TEXT = List.of("{", "}", "\"", "\"a\":", "a", "\":", "1", "12", "\\", "\\\"", "\\u00",
            "e9", "é", "\"}", ",", "x", " ");
    static final int BYTE_C3 = TEXT.size();
    static final int BYTE_A9 = TEXT.size() + 1;
    static final int SPECIAL = TEXT.size() + 2;
    static final int EOS = TEXT.size() + 3;
    static final int VOCAB = TEXT.size() + 4;

    static TokenIndex index() {
        byte[][] b = new byte[VOCAB][];
        for (int i = 0; i < TEXT.size(); i++) {
            b[i] = TEXT.get(i).getBytes(StandardCharsets.UTF_8);
        }
        b[BYTE_C3] = new byte[] {(byte) 0xC3};
        b[BYTE_A9] = new byte[] {(byte) 0xA9};
        return TokenIndex.of(b); // SPECIAL and EOS stay null: never part of the text
    }

    static Matcher matcher(ConstraintSpec spec) {
        return new TokenConstraint(Constraints.compile(spec), index(), Set.of(EOS)).newMatcher();
    }

    static int id(String text) {
        return TEXT.indexOf(text);
    }

    static List<Integer> allowed(Matcher m) {
        float[] logits = new float[VOCAB];
        m.maskLogits(logits, 0, VOCAB);
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < VOCAB; i++) {
            if (logits[i] == 0f) {
                out.add(i);
            }
        }
        return out;
    }

    static final ConstraintSpec OBJ_A_STRING = new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA,
            "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"]}");

    @Test
    void a_token_spanning_several_json_tokens_is_allowed_where_all_its_bytes_fit() {
        Matcher m = matcher(OBJ_A_STRING);
        assertEquals(List.of(id("{")), allowed(m));
        assertTrue(m.advance(id("{")));
        assertTrue(allowed(m).contains(id("\"a\":")), "the key, its quotes and the colon in one token");
        assertTrue(allowed(m).contains(id("\"")));
        assertFalse(allowed(m).contains(id("}")), "a is required");
        assertTrue(m.advance(id("\"a\":")));
        assertTrue(m.advance(id("\"")));
        assertTrue(allowed(m).contains(id("\"}")), "closing the string and the object in one token");
        assertTrue(m.advance(id("\"}")));
        assertTrue(m.canTerminate());
        assertEquals(List.of(EOS), allowed(m), "complete and nothing can follow: only EOS");
    }

    @Test
    void a_multibyte_character_may_be_split_over_byte_tokens_but_not_broken() {
        Matcher m = matcher(OBJ_A_STRING);
        for (String t : List.of("{", "\"a\":", "\"")) {
            assertTrue(m.advance(id(t)));
        }
        assertTrue(allowed(m).containsAll(List.of(id("é"), BYTE_C3)));
        assertFalse(allowed(m).contains(BYTE_A9), "a continuation byte cannot start a character");
        assertTrue(m.advance(BYTE_C3));
        assertEquals(List.of(BYTE_A9), allowed(m), "only the continuation byte completes the character");
        assertFalse(m.advance(id("\"")), "a string cannot end inside a character");
        assertTrue(m.advance(BYTE_A9));
        assertTrue(allowed(m).contains(id("\"")));
    }

    @Test
    void escapes_are_whole_and_raw_quotes_end_the_string() {
        Matcher m = matcher(OBJ_A_STRING);
        for (String t : List.of("{", "\"a\":", "\"", "\\\"", "\\u00")) {
            assertTrue(m.advance(id(t)), t);
        }
        assertTrue(allowed(m).containsAll(List.of(id("12"), id("e9"), id("1"))), "hex digits complete it");
        assertFalse(allowed(m).contains(id("x")));
        assertFalse(allowed(m).contains(id("\"")), "inside a \\u escape");
        assertTrue(m.advance(id("e9")));
        assertTrue(m.advance(id("\\")));
        assertFalse(allowed(m).contains(id("x")), "\\x is not a JSON escape");
        assertTrue(allowed(m).contains(id("\\")), "\\\\ is");
    }

    @Test
    void special_tokens_and_eos_are_never_allowed_inside_the_value() {
        Matcher m = matcher(new ConstraintSpec(ConstraintSpec.Kind.JSON_OBJECT, ""));
        assertTrue(m.advance(id("{")));
        List<Integer> a = allowed(m);
        assertFalse(a.contains(SPECIAL));
        assertFalse(a.contains(EOS));
        assertFalse(a.contains(id(" ")), "no whitespace between JSON tokens");
        assertFalse(m.canTerminate());
        assertFalse(m.advance(EOS));
    }

    @Test
    void eos_joins_where_the_output_is_complete_but_may_continue() {
        Matcher m = matcher(new ConstraintSpec(ConstraintSpec.Kind.REGEX, "1+"));
        assertFalse(allowed(m).contains(EOS));
        assertTrue(m.advance(id("12")) == false && m.advance(id("1")));
        assertTrue(m.canTerminate());
        assertFalse(m.isComplete());
        assertTrue(allowed(m).containsAll(List.of(id("1"), EOS)));
    }

    @Test
    void replaying_the_same_tokens_reaches_the_same_state() {
        int[] tokens = {id("{"), id("\"a\":"), id("\""), BYTE_C3, BYTE_A9, id("\\\"")};
        Matcher a = matcher(OBJ_A_STRING);
        Matcher b = matcher(OBJ_A_STRING);
        for (int t : tokens) {
            assertTrue(a.advance(t));
        }
        for (int t : tokens) {
            assertTrue(b.advance(t));
        }
        assertArrayEquals(allowed(a).stream().mapToInt(Integer::intValue).toArray(),
                allowed(b).stream().mapToInt(Integer::intValue).toArray());
        assertEquals(Arrays.asList(true, true), List.of(a.advance(id("\"}")), b.advance(id("\"}"))));
    }
}
