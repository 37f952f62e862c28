package dev.quiver.gpu.sampling;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SamplingParamsTest {

    private static SamplingParams params(
            int maxTokens, float temperature, float topP, int topK, List<String> stop, int logprobs) {
        return new SamplingParams(maxTokens, temperature, topP, topK, 7L, stop, logprobs, false);
    }

    static Stream<Arguments> violations() {
        return Stream.of(
                Arguments.of("max_tokens", (Executable) () -> params(0, 1f, 1f, -1, List.of(), -1)),
                Arguments.of("max_tokens", (Executable) () -> params(-5, 1f, 1f, -1, List.of(), -1)),
                Arguments.of("temperature", (Executable) () -> params(1, -0.01f, 1f, -1, List.of(), -1)),
                Arguments.of("temperature", (Executable) () -> params(1, 2.01f, 1f, -1, List.of(), -1)),
                Arguments.of("temperature", (Executable) () -> params(1, Float.NaN, 1f, -1, List.of(), -1)),
                Arguments.of("top_p", (Executable) () -> params(1, 1f, 0f, -1, List.of(), -1)),
                Arguments.of("top_p", (Executable) () -> params(1, 1f, 1.01f, -1, List.of(), -1)),
                Arguments.of("top_p", (Executable) () -> params(1, 1f, Float.NaN, -1, List.of(), -1)),
                Arguments.of("top_k", (Executable) () -> params(1, 1f, 1f, 0, List.of(), -1)),
                Arguments.of("top_k", (Executable) () -> params(1, 1f, 1f, -2, List.of(), -1)),
                Arguments.of(
                        "stop", (Executable) () -> params(1, 1f, 1f, -1, List.of("a", "b", "c", "d", "e"), -1)),
                Arguments.of("stop", (Executable) () -> params(1, 1f, 1f, -1, List.of("a", ""), -1)),
                Arguments.of(
                        "stop", (Executable) () -> params(1, 1f, 1f, -1, Arrays.asList("a", null), -1)),
                Arguments.of("logprobs", (Executable) () -> params(1, 1f, 1f, -1, List.of(), -2)),
                Arguments.of("logprobs", (Executable) () -> params(1, 1f, 1f, -1, List.of(), 21)));
    }

    @ParameterizedTest(name = "{0} #{index}")
    @MethodSource("violations")
    void every_violation_names_its_field(String field, Executable construction) {
        InvalidSamplingParamsException e =
                assertThrows(InvalidSamplingParamsException.class, construction);
        assertEquals(field, e.param());
        assertTrue(e.getMessage().startsWith(field + " must "), e.getMessage());
    }

    @Test
    void range_messages_state_the_allowed_range_and_the_rejected_value() {
        InvalidSamplingParamsException e =
                assertThrows(InvalidSamplingParamsException.class, () -> params(1, 3f, 1f, -1, null, -1));
        assertEquals("temperature must be in [0, 2] (0 = greedy), got 3.0", e.getMessage());
        e = assertThrows(InvalidSamplingParamsException.class, () -> params(1, 1f, 1.5f, -1, null, -1));
        assertEquals("top_p must be in (0, 1], got 1.5", e.getMessage());
        e = assertThrows(InvalidSamplingParamsException.class, () -> params(1, 1f, 1f, -1, null, 25));
        assertEquals("logprobs must be in [-1, 20] (-1 = none), got 25", e.getMessage());
    }

    @Test
    void invalid_params_are_an_unchecked_illegal_argument() {
        assertThrows(IllegalArgumentException.class, () -> params(0, 1f, 1f, -1, null, -1));
    }

    @Test
    void boundary_values_are_accepted() {
        assertAll(
                () -> assertDoesNotThrow(() -> params(1, 0f, 1f, -1, List.of(), -1)),
                () -> assertDoesNotThrow(() -> params(1, 2f, Float.MIN_VALUE, 1, List.of(), 0)),
                () -> assertDoesNotThrow(() -> params(1, 1f, 1f, 1, List.of("a", "b", "c", "d"), 20)));
    }

    @Test
    void greedy_has_zero_temperature_no_truncation_no_stops_and_no_logprobs() {
        SamplingParams p = SamplingParams.greedy(16);
        assertEquals(16, p.maxTokens());
        assertEquals(0f, p.temperature());
        assertTrue(p.isGreedy());
        assertEquals(1f, p.topP());
        assertEquals(-1, p.topK());
        assertEquals(List.of(), p.stop());
        assertEquals(-1, p.logprobs());
        assertFalse(p.ignoreEos());
        assertThrows(InvalidSamplingParamsException.class, () -> SamplingParams.greedy(0));
    }

    @Test
    void stop_list_is_copied_and_unmodifiable() {
        List<String> stops = new ArrayList<>(List.of("\n\n"));
        SamplingParams p = params(4, 1f, 1f, -1, stops, -1);
        stops.add("END");
        assertEquals(List.of("\n\n"), p.stop());
        assertThrows(UnsupportedOperationException.class, () -> p.stop().add("x"));
    }

    @Test
    void null_stop_reads_as_no_stops() {
        assertEquals(List.of(), params(4, 1f, 1f, -1, null, -1).stop());
    }

    @Test
    void only_zero_temperature_is_greedy() {
        assertFalse(params(4, 0.01f, 1f, -1, null, -1).isGreedy());
    }
}
