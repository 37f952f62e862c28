package dev.quiver.gpu.model;

import java.nio.file.Path;

/** A safetensors file that cannot be used; the message names the file and, where known, the tensor. */
public final class SafeTensorsException extends RuntimeException {
    public SafeTensorsException(Path file, String tensor, String problem) {
        super(file + (tensor == null ? "" : ", tensor '" + tensor + "'") + ": " + problem);
    }

    public SafeTensorsException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
