package dev.quiver.edge.tools;

/** One piece of a streamed reply, in the order the client gets them. */
public sealed interface ToolDelta {
    /** Text outside calls. */
    record Content(String text) implements ToolDelta {
    }

    /** The first delta of call {@code index}: its id and function name (arguments follow). */
    record CallStart(int index, String id, String name) implements ToolDelta {
    }

    /** A piece of call {@code index}'s arguments JSON text. */
    record CallArguments(int index, String arguments) implements ToolDelta {
    }
}
