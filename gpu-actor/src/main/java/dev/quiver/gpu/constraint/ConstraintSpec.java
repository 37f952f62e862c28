package dev.quiver.gpu.constraint;

import java.util.Objects;

/**
 * What a request's output must match, as it travels with the request (edge → worker, possibly across the
 * network): the kind and its source text. The worker compiles it into an automaton over bytes on its engine
 * thread; the edge compiles it too, once, so that an unsupported schema is a 400 before anything is queued.
 *
 * @param kind   what {@code source} is
 * @param source {@link Kind#JSON_SCHEMA}: the schema as JSON text; {@link Kind#REGEX}: the pattern;
 *               {@link Kind#CHOICE}: a JSON array of the allowed strings; {@link Kind#JSON_OBJECT}: ignored
 *               (any JSON object), conventionally {@code ""}
 */
public record ConstraintSpec(Kind kind, String source) {
    /** The kinds of constraint, after OpenAI's {@code response_format} and vLLM's {@code guided_*} fields. */
    public enum Kind {
        JSON_OBJECT,
        JSON_SCHEMA,
        REGEX,
        CHOICE
    }

    public ConstraintSpec {
        Objects.requireNonNull(kind, "kind");
        source = source == null ? "" : source;
    }
}
