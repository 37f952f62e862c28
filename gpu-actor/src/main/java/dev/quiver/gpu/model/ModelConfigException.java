package dev.quiver.gpu.model;

/** A model directory or config.json that Quiver cannot serve; the message names the file and the problem. */
public final class ModelConfigException extends RuntimeException {
    public ModelConfigException(String message) {
        super(message);
    }

    public ModelConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
