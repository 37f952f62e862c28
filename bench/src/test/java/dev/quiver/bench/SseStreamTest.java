package dev.quiver.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class SseStreamTest {
    /**
     * Recorded from a node over the 4-adapter demo model: {@code curl -sN .../v1/completions} with
     * {@code "max_tokens":5, "ignore_eos":true, "stream":true, "stream_options":{"include_usage":true}}. Five tokens
     * arrive as four text chunks: one token completed no character and came with the next.
     */
    static final List<String> RECORDED = List.of(
            "data: {\"id\":\"cmpl-97753d06d6824a73b3cef863cce6ee7c\",\"object\":\"text_completion\",\"created\":1795436495,\"model\":\"adapter-02\",\"choices\":[{\"index\":0,\"text\":\"\uFFFDve\",\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
            "",
            "data: {\"id\":\"cmpl-97753d06d6824a73b3cef863cce6ee7c\",\"object\":\"text_completion\",\"created\":1795436495,\"model\":\"adapter-02\",\"choices\":[{\"index\":0,\"text\":\"j\",\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
            "",
            "data: {\"id\":\"cmpl-97753d06d6824a73b3cef863cce6ee7c\",\"object\":\"text_completion\",\"created\":1795436495,\"model\":\"adapter-02\",\"choices\":[{\"index\":0,\"text\":\"\uFFFD\",\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
            "",
            "data: {\"id\":\"cmpl-97753d06d6824a73b3cef863cce6ee7c\",\"object\":\"text_completion\",\"created\":1795436495,\"model\":\"adapter-02\",\"choices\":[{\"index\":0,\"text\":\"mb\",\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
            "",
            "data: {\"id\":\"cmpl-97753d06d6824a73b3cef863cce6ee7c\",\"object\":\"text_completion\",\"created\":1795436495,\"model\":\"adapter-02\",\"choices\":[{\"index\":0,\"text\":\"\",\"logprobs\":null,\"finish_reason\":\"length\"}],\"usage\":null}",
            "",
            "data: {\"id\":\"cmpl-97753d06d6824a73b3cef863cce6ee7c\",\"object\":\"text_completion\",\"created\":1795436495,\"model\":\"adapter-02\",\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":5,\"total_tokens\":9}}",
            "",
            "data: [DONE]",
            "",
            "");

    @Test
    void a_recorded_completion_stream_gives_chunk_times_usage_and_done() {
        SseStream s = new SseStream();
        long t = 1000;
        for (String line : RECORDED) {
            s.line(line, t);
            t += 10;
        }
        SseStream.Result r = s.finish();
        // every event's data line is read 20 ns after the previous one (data line + blank line)
        assertArrayEquals(new long[] {1000, 1020, 1040, 1060}, r.chunkNanos());
        assertEquals(1000, r.firstChunkNanos());
        assertEquals(4, r.chunks());
        assertEquals(5, r.outputTokens(), "tokens from the usage chunk, not the chunk count");
        assertEquals(4, r.promptTokens());
        assertEquals("length", r.finishReason());
        assertNull(r.error());
        assertTrue(r.done());
    }

    @Test
    void chat_deltas_multi_line_data_comments_and_in_stream_errors() {
        SseStream s = new SseStream();
        s.line(": keep-alive comment", 1);
        s.line("event: message", 2);
        s.line("data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
                + "\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}", 3);
        s.line("", 4);
        s.line("data: {\"object\":\"chat.completion.chunk\",", 5);
        s.line("data:\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}", 6);
        s.line("", 7);
        s.line("data: {\"error\":{\"message\":\"worker stopped\",\"type\":\"service_unavailable\"}}", 8);
        s.line("", 9);
        s.line("data: [DONE]", 10);
        SseStream.Result r = s.finish();
        assertArrayEquals(new long[] {6}, r.chunkNanos(), "the role delta is not output; joined data lines are");
        assertEquals(1, r.outputTokens(), "no usage chunk: one token per chunk");
        assertEquals("service_unavailable: worker stopped", r.error());
        assertTrue(r.done());
    }

    @Test
    void a_stream_cut_before_done_is_not_complete() {
        SseStream s = new SseStream();
        s.line(RECORDED.get(0), 5);
        SseStream.Result r = s.finish();
        assertEquals(1, r.chunks());
        assertFalse(r.done());
    }
}
