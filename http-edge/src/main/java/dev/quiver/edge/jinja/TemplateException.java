package dev.quiver.edge.jinja;

/**
 * A template that cannot be parsed or cannot render its variables: a syntax error, an unsupported construct, or a
 * Python-level error at render time (undefined attribute, type mismatch). The message names the construct and, where
 * known, the template line; it is meant to reach the API caller as is.
 */
public class TemplateException extends RuntimeException {
    public TemplateException(String message) {
        super(message);
    }

    public TemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
