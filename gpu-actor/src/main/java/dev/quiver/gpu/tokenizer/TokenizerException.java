package dev.quiver.gpu.tokenizer;

/**
 * Raised when a model directory's tokenizer files cannot be used: a file is missing or is not
 * JSON, a field has the wrong shape, or the file asks for a construct this package does not
 * implement (WordPiece, Unigram, an unknown pre-tokenizer...). The message always starts with
 * the offending file's path so that an operator can see which download is broken.
 */
public final class TokenizerException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
