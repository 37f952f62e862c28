package dev.quiver.gpu.sampling;

/**
 * Thrown when a request's sampling parameters are out of range.
 *
 * <p>Raised by {@link SamplingParams}'s constructor; the HTTP edge maps it to a 400 whose OpenAI error
 * carries {@link #param()} as its {@code param} field. The message names the field, the allowed range
 * and the rejected value.
 */
public final class InvalidSamplingParamsException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final String param;

    public InvalidSamplingParamsException(String param, String message) {
        super(message);
        this.param = param;
    }

    /** The offending field, spelled as in the OpenAI request (e.g. {@code top_p}). */
    public String param() {
        return param;
    }
}
