package dev.quiver.gpu.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class StopMatcherTest {

    @Test
    void stop_string_split_across_many_appends_is_cut_and_never_emitted() {
        StopMatcher m = new StopMatcher(List.of("</s>"));
        assertEquals("Hello ", m.append("Hello <"));
        assertEquals("", m.append("/"));
        assertEquals("", m.append("s"));
        assertFalse(m.stopped());
        assertEquals("", m.append("> world"));
        assertTrue(m.stopped());
        assertEquals("</s>", m.matchedStop());
    }

    @Test
    void text_before_a_stop_in_the_same_append_is_emitted_and_nothing_after_it() {
        StopMatcher m = new StopMatcher(List.of("STOP"));
        assertEquals("abc ", m.append("abc STOP def"));
        assertTrue(m.stopped());
        assertEquals("", m.append("more text"));
        assertEquals("", m.flush());
    }

    @Test
    void a_stop_that_is_a_prefix_of_another_stops_as_soon_as_it_appears() {
        StopMatcher m = new StopMatcher(List.of("abc", "ab"));
        assertEquals("x", m.append("xa"));
        assertEquals("", m.append("bc"));
        assertEquals("ab", m.matchedStop());

        StopMatcher whole = new StopMatcher(List.of("abc", "ab"));
        assertEquals("x", whole.append("xabcd"));
        assertEquals("ab", whole.matchedStop());
    }

    @Test
    void the_occurrence_that_completes_first_wins_even_if_another_starts_earlier() {
        // Fed char by char, "bcd" completes at the 4th char, before "abcdef" could.
        StopMatcher m = new StopMatcher(List.of("abcdef", "bcd"));
        assertEquals("a", m.append("abcdef"));
        assertEquals("bcd", m.matchedStop());
    }

    @Test
    void of_stops_ending_at_the_same_place_the_longest_is_cut() {
        StopMatcher m = new StopMatcher(List.of("c", "abc"));
        assertEquals("x", m.append("xabc"));
        assertEquals("abc", m.matchedStop());
    }

    @Test
    void text_that_looks_like_a_stop_prefix_then_diverges_is_released() {
        StopMatcher m = new StopMatcher(List.of("STOP"));
        assertEquals("go ", m.append("go ST"));
        assertEquals("STORE", m.append("ORE"));
        assertFalse(m.stopped());
        assertEquals("", m.flush());
    }

    @Test
    void only_the_part_that_can_still_start_a_stop_is_held() {
        StopMatcher m = new StopMatcher(List.of("STOP"));
        assertEquals("S", m.append("SSTO")); // "STO" may still become STOP
        assertEquals("", m.append("P"));
        assertTrue(m.stopped());
    }

    @Test
    void flush_returns_the_held_back_text() {
        StopMatcher m = new StopMatcher(List.of("\n\nUser:"));
        assertEquals("answer.", m.append("answer.\n\nUs"));
        assertFalse(m.stopped());
        assertEquals("\n\nUs", m.flush());
        assertEquals("", m.flush());
    }

    @Test
    void without_stops_text_passes_straight_through() {
        StopMatcher m = new StopMatcher(List.of());
        assertEquals("anything", m.append("anything"));
        assertEquals("", m.flush());
        assertEquals("x", new StopMatcher(null).append("x"));
    }

    @Test
    void a_surrogate_pair_split_across_appends_is_emitted_whole() {
        StopMatcher m = new StopMatcher(List.of());
        assertEquals("a", m.append("a\uD83D"));
        assertEquals("\uD83D\uDE00b", m.append("\uDE00b"));
    }

    @Test
    void an_emoji_that_starts_a_stop_is_held_whole_and_released_whole() {
        StopMatcher m = new StopMatcher(List.of("\uD83D\uDE00!"));
        assertEquals("hi ", m.append("hi \uD83D\uDE00"));
        assertEquals("\uD83D\uDE00?", m.append("?"));
        assertEquals("", m.append("\uD83D"));
        assertEquals("", m.append("\uDE00!"));
        assertTrue(m.stopped());
    }

    @Test
    void a_lone_high_surrogate_at_the_end_is_flushed() {
        StopMatcher m = new StopMatcher(List.of());
        assertEquals("a", m.append("a\uD83D"));
        assertEquals("\uD83D", m.flush());
    }

    @Test
    void empty_stop_strings_are_rejected() {
        assertThrows(IllegalArgumentException.class, () -> new StopMatcher(List.of("a", "")));
    }

    @Test
    void emitted_text_never_gets_cut_and_does_not_depend_on_how_text_is_split() {
        Random random = new Random(11);
        String[] alphabet = {"a", "b", "c", "\uD83D\uDE00"};
        for (int trial = 0; trial < 2_000; trial++) {
            List<String> stops = new ArrayList<>();
            int stopCount = random.nextInt(4);
            for (int i = 0; i < stopCount; i++) {
                stops.add(randomText(random, alphabet, 1 + random.nextInt(3)));
            }
            String text = randomText(random, alphabet, random.nextInt(25));
            String expected = reference(text, stops);

            StopMatcher m = new StopMatcher(stops);
            StringBuilder emitted = new StringBuilder();
            int at = 0;
            while (at < text.length() && !m.stopped()) {
                int end = Math.min(text.length(), at + 1 + random.nextInt(5)); // may split a pair
                String piece = m.append(text.substring(at, end));
                if (!piece.isEmpty()) {
                    assertFalse(Character.isLowSurrogate(piece.charAt(0)), "split pair: " + piece);
                    assertFalse(Character.isHighSurrogate(piece.charAt(piece.length() - 1)), "split pair");
                }
                emitted.append(piece);
                assertTrue(expected.startsWith(emitted.toString()),
                        "emitted " + emitted + " but final is " + expected + " stops " + stops);
                at = end;
            }
            if (!m.stopped()) {
                emitted.append(m.flush());
            }
            assertEquals(expected, emitted.toString(), "text " + text + " stops " + stops);
            assertEquals(!expected.equals(text), m.stopped());
        }
    }

    private static String randomText(Random random, String[] alphabet, int symbols) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < symbols; i++) {
            sb.append(alphabet[random.nextInt(alphabet.length)]);
        }
        return sb.toString();
    }

    /**
     * Char-by-char definition: stop at the first prefix of the text that ends with a stop string and
     * cut before the longest stop it ends with.
     */
    private static String reference(String text, List<String> stops) {
        for (int end = 1; end <= text.length(); end++) {
            String prefix = text.substring(0, end);
            int longest = 0;
            for (String stop : stops) {
                if (prefix.endsWith(stop)) {
                    longest = Math.max(longest, stop.length());
                }
            }
            if (longest > 0) {
                return prefix.substring(0, end - longest);
            }
        }
        return text;
    }

    @Test
    void matched_stop_is_null_until_a_stop() {
        StopMatcher m = new StopMatcher(List.of("x"));
        m.append("abc");
        assertNull(m.matchedStop());
    }
}
