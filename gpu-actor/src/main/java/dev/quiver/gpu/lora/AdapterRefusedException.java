package dev.quiver.gpu.lora;

/**
 * An adapter that cannot be served over this base model. The message names the adapter, the file or tensor and
 * the problem, and is meant to reach the operator unchanged (the HTTP edge returns it in the error body).
 */
public final class AdapterRefusedException extends RuntimeException {
    public AdapterRefusedException(String message) {
        super(message);
    }

    public AdapterRefusedException(String message, Throwable cause) {
        super(message, cause);
    }
}
