package dev.quiver.gpu.constraint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;

/**
 * Compiles a {@link ConstraintSpec} into a byte-level {@link Dfa}: the one entry point the edge (to validate)
 * and the engine (to decode) share.
 *
 * <p>What each kind compiles to:
 * <ul>
 *   <li>{@code JSON_OBJECT}: any JSON object, compact (no whitespace outside strings), nested at most
 *       {@value JsonSchemaCompiler#ANY_DEPTH} levels.</li>
 *   <li>{@code JSON_SCHEMA}: compact JSON valid against the schema; keywords {@code type} (incl. arrays of
 *       types), {@code properties}, {@code required}, {@code additionalProperties}, {@code enum}, {@code const},
 *       {@code items}, {@code minItems}, {@code maxItems}, {@code anyOf}, single-schema {@code oneOf}/{@code allOf},
 *       {@code minLength}, {@code maxLength}, {@code pattern}, {@code uniqueItems: false}, non-recursive
 *       {@code $ref} to {@code #/$defs/...} or {@code #/definitions/...}; annotations are ignored; any other
 *       keyword is a {@link ConstraintException} naming it.</li>
 *   <li>{@code REGEX}: the whole output matches the pattern ({@link RegexCompiler} lists the subset).</li>
 *   <li>{@code CHOICE}: the output is exactly one of the strings.</li>
 * </ul>
 */
public final class Constraints {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Constraints() {
    }

    /**
     * The automaton of {@code spec}.
     *
     * @throws ConstraintException when the spec is malformed or uses something unsupported (the message names it)
     */
    public static Dfa compile(ConstraintSpec spec) {
        Nfa nfa = new Nfa();
        Nfa.Frag frag = switch (spec.kind()) {
            case JSON_OBJECT -> JsonSchemaCompiler.anyObject(nfa);
            case JSON_SCHEMA -> JsonSchemaCompiler.compileSchema(nfa, spec.source());
            case REGEX -> RegexCompiler.build(nfa, RegexCompiler.parse(spec.source()), false);
            case CHOICE -> choice(nfa, spec.source());
        };
        return new Dfa(nfa.freeze(frag));
    }

    private static Nfa.Frag choice(Nfa nfa, String source) {
        JsonNode arr;
        try {
            arr = JSON.readTree(source);
        } catch (JsonProcessingException e) {
            throw new ConstraintException("the choices are not a JSON array: " + e.getOriginalMessage());
        }
        if (arr == null || !arr.isArray() || arr.isEmpty()) {
            throw new ConstraintException("the choices must be a non-empty array of strings");
        }
        List<Nfa.Frag> alts = new ArrayList<>();
        for (JsonNode c : arr) {
            if (!c.isTextual() || c.asText().isEmpty()) {
                throw new ConstraintException("the choices must be non-empty strings, got " + c);
            }
            alts.add(nfa.literal(c.asText()));
        }
        return nfa.alt(alts);
    }
}
