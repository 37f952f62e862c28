package dev.quiver.gpu.cli;

/** A command-line usage error: printed without a stack trace, exit status 2. */
final class CliException extends RuntimeException {
    CliException(String message) {
        super(message);
    }
}
