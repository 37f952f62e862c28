package dev.quiver.edge.jinja;

/**
 * jinja2's default {@code Undefined}: what a missing variable, key, attribute or index evaluates to. It prints as "",
 * is falsy, iterates as empty and has length 0, but using it any further (attribute, item, call, arithmetic,
 * ordering) raises an error carrying {@link #hint()}, as jinja2 does.
 */
public final class Undefined {
    private final String hint;

    Undefined(String hint) {
        this.hint = hint;
    }

    /** For a missing variable: "'name' is undefined". */
    static Undefined name(String name) {
        return new Undefined("'" + name + "' is undefined");
    }

    /** The message of the error raised when this value is used. */
    public String hint() {
        return hint;
    }

    TemplateException fail() {
        return new TemplateException(hint);
    }

    @Override
    public String toString() {
        return "";
    }
}
