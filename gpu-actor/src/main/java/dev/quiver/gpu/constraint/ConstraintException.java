package dev.quiver.gpu.constraint;

/**
 * A constraint that cannot be compiled: an unsupported JSON Schema keyword or regex construct, a malformed
 * source, or one that would compile to an automaton over the size limits. The message names the keyword or
 * construct. The edge turns it into a 400 on the request field the spec came from ({@code response_format},
 * {@code guided_json}, ...); the engine into an {@code INVALID_REQUEST} failure of that request alone.
 */
public final class ConstraintException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public ConstraintException(String message) {
        super(message);
    }
}
