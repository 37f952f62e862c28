package dev.quiver.edge.tools;

import java.util.List;

/**
 * A whole reply split into what the client sees: {@code content} (the text outside the calls, null when it is
 * empty or only whitespace) and the calls, in order.
 */
public record ToolParse(String content, List<ToolCall> calls) {
    public ToolParse {
        calls = List.copyOf(calls);
    }
}
