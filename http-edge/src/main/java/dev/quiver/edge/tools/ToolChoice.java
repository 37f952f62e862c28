package dev.quiver.edge.tools;

/** OpenAI's {@code tool_choice}: none, auto, required, or one named function. */
public sealed interface ToolChoice {
    /** Tools are not rendered and the reply is plain content. */
    record None() implements ToolChoice {
    }

    /** The model may answer with text or with calls (the default when tools are given). */
    record Auto() implements ToolChoice {
    }

    /** The model must call one or more of the declared tools (enforced by an output constraint). */
    record Required() implements ToolChoice {
    }

    /** The model must call this function (enforced by an output constraint). */
    record Named(String name) implements ToolChoice {
    }

    ToolChoice NONE = new None();
    ToolChoice AUTO = new Auto();
    ToolChoice REQUIRED = new Required();
}
