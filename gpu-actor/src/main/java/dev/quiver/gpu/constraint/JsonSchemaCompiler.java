package dev.quiver.gpu.constraint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.TextNode;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Compiles a JSON Schema (the supported subset, see {@link Constraints}) into {@link Nfa} fragments over the
 * UTF-8 bytes of compact JSON: no whitespace anywhere outside strings, object properties in schema order.
 *
 * <p>Soundness comes first: every output the automaton accepts validates against the schema; some valid JSON
 * (other property orders, whitespace, huge numbers) is simply never generated. Hence additional properties are
 * never generated next to declared ones, and keywords whose meaning cannot be kept exactly are refused.
 *
 * <p>NOTE: the nesting of values the schema leaves open ({@code json_object}, {@code {}}, an object without
 * properties) is bounded at {@link #ANY_DEPTH} levels, which keeps the language regular and the automaton
 * small; numbers have at most {@value #MAX_INT_DIGITS} integer and {@value #MAX_FRAC_DIGITS} fraction digits
 * and a {@value #MAX_EXP_DIGITS}-digit exponent.
 */
final class JsonSchemaCompiler {
    static final int ANY_DEPTH = 5;
    static final int MAX_INT_DIGITS = 15;
    static final int MAX_FRAC_DIGITS = 15;
    static final int MAX_EXP_DIGITS = 3;

    /** Keywords that annotate and do not constrain: accepted and ignored. */
    static final Set<String> ANNOTATIONS = Set.of("title", "description", "default", "examples", "$schema", "$id",
            "$comment", "strict", "readOnly", "writeOnly", "deprecated", "$defs", "definitions");
    /** Keywords that constrain and are compiled. */
    static final Set<String> SUPPORTED = Set.of("type", "properties", "required", "additionalProperties", "enum",
            "const", "items", "minItems", "maxItems", "anyOf", "oneOf", "allOf", "minLength", "maxLength", "pattern",
            "$ref", "uniqueItems");
    private static final Set<String> TYPES = Set.of("object", "array", "string", "number", "integer", "boolean",
            "null");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Nfa nfa;
    private final JsonNode root;
    private final Deque<String> refs = new ArrayDeque<>();

    private JsonSchemaCompiler(Nfa nfa, JsonNode root) {
        this.nfa = nfa;
        this.root = root;
    }

    static Nfa.Frag compileSchema(Nfa nfa, String schemaText) {
        JsonNode root;
        try {
            root = JSON.readTree(schemaText);
        } catch (JsonProcessingException e) {
            throw new ConstraintException("the JSON schema is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !(root.isObject() || root.isBoolean())) {
            throw new ConstraintException("the JSON schema must be an object");
        }
        return new JsonSchemaCompiler(nfa, root).value(root, "#");
    }

    /** Any JSON object, nested at most {@link #ANY_DEPTH} levels. */
    static Nfa.Frag anyObject(Nfa nfa) {
        JsonSchemaCompiler c = new JsonSchemaCompiler(nfa, null);
        return c.mapObject(() -> c.any(ANY_DEPTH - 1));
    }

    // ---- schemas ----

    private Nfa.Frag value(JsonNode schema, String path) {
        if (schema.isBoolean()) {
            if (!schema.booleanValue()) {
                throw new ConstraintException("the schema at " + path + " is false: no value satisfies it");
            }
            return any(ANY_DEPTH);
        }
        if (!schema.isObject()) {
            throw new ConstraintException("the schema at " + path + " must be an object or a boolean");
        }
        Set<String> constraining = new LinkedHashSet<>();
        for (Iterator<String> it = schema.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (ANNOTATIONS.contains(k)) {
                continue;
            }
            if (!SUPPORTED.contains(k)) {
                throw new ConstraintException("unsupported JSON Schema keyword '" + k + "' at " + path);
            }
            constraining.add(k);
        }
        if (schema.has("uniqueItems")) {
            if (!schema.get("uniqueItems").isBoolean() || schema.get("uniqueItems").booleanValue()) {
                throw new ConstraintException("unsupported JSON Schema keyword 'uniqueItems' (true) at " + path);
            }
            constraining.remove("uniqueItems");
        }
        if (constraining.contains("$ref")) {
            only(constraining, Set.of("$ref"), "$ref", path);
            return ref(schema.get("$ref"), path);
        }
        for (String comb : List.of("anyOf", "oneOf", "allOf")) {
            if (constraining.contains(comb)) {
                only(constraining, Set.of(comb), comb, path);
                return combinator(comb, schema.get(comb), path);
            }
        }
        if (constraining.contains("enum") || constraining.contains("const")) {
            String k = constraining.contains("enum") ? "enum" : "const";
            only(constraining, Set.of(k, "type"), k, path);
            return enumeration(schema, k, types(schema, path), path);
        }
        Set<String> types = types(schema, path);
        if (types == null) {
            types = inferTypes(constraining);
        }
        List<Nfa.Frag> alts = new ArrayList<>();
        for (String t : types) {
            alts.add(switch (t) {
                case "object" -> object(schema, path);
                case "array" -> array(schema, path);
                case "string" -> string(schema, path);
                case "number" -> number(false);
                case "integer" -> number(true);
                case "boolean" -> nfa.alt(List.of(nfa.literal("true"), nfa.literal("false")));
                default -> nfa.literal("null");
            });
        }
        return alts.size() == 1 ? alts.get(0) : nfa.alt(alts);
    }

    private static void only(Set<String> present, Set<String> allowed, String keyword, String path) {
        for (String k : present) {
            if (!allowed.contains(k)) {
                throw new ConstraintException("unsupported JSON Schema keyword '" + k + "' next to '" + keyword
                        + "' at " + path + " (combine them inside its branches instead)");
            }
        }
    }

    /** The declared types, or null when there is no {@code type}. */
    private static Set<String> types(JsonNode schema, String path) {
        JsonNode t = schema.get("type");
        if (t == null) {
            return null;
        }
        Set<String> out = new LinkedHashSet<>();
        if (t.isTextual()) {
            out.add(t.asText());
        } else if (t.isArray() && !t.isEmpty()) {
            for (JsonNode x : t) {
                if (!x.isTextual()) {
                    throw new ConstraintException("'type' at " + path + " must be a string or an array of strings");
                }
                out.add(x.asText());
            }
        } else {
            throw new ConstraintException("'type' at " + path + " must be a string or a non-empty array of strings");
        }
        for (String x : out) {
            if (!TYPES.contains(x)) {
                throw new ConstraintException("unsupported type '" + x + "' at " + path);
            }
        }
        if (out.contains("number")) {
            out.remove("integer"); // NOTE: every integer is a number; generating number covers both.
        }
        return out;
    }

    private static Set<String> inferTypes(Set<String> keywords) {
        // NOTE: without 'type' a schema admits every type; generating only the type its keywords describe is a
        // subset of what it admits, so still sound.
        if (keywords.contains("properties") || keywords.contains("required")
                || keywords.contains("additionalProperties")) {
            return Set.of("object");
        }
        if (keywords.contains("items") || keywords.contains("minItems") || keywords.contains("maxItems")) {
            return Set.of("array");
        }
        if (keywords.contains("minLength") || keywords.contains("maxLength") || keywords.contains("pattern")) {
            return Set.of("string");
        }
        return new LinkedHashSet<>(List.of("object", "array", "string", "number", "boolean", "null"));
    }

    private Nfa.Frag ref(JsonNode ref, String path) {
        if (!ref.isTextual()) {
            throw new ConstraintException("'$ref' at " + path + " must be a string");
        }
        String r = ref.asText();
        String[] prefixes = {"#/$defs/", "#/definitions/"};
        JsonNode target = null;
        for (String p : prefixes) {
            if (r.startsWith(p) && root != null) {
                String name = r.substring(p.length()).replace("~1", "/").replace("~0", "~");
                JsonNode defs = root.get(p.substring(2, p.length() - 1));
                target = defs == null ? null : defs.get(name);
                if (target == null) {
                    throw new ConstraintException("'$ref' " + r + " at " + path + " points to nothing");
                }
            }
        }
        if (target == null) {
            throw new ConstraintException("unsupported '$ref' " + r + " at " + path + ": only #/$defs/NAME and "
                    + "#/definitions/NAME are supported");
        }
        if (refs.contains(r)) {
            throw new ConstraintException("unsupported recursive '$ref' " + r + " at " + path);
        }
        refs.push(r);
        try {
            return value(target, r);
        } finally {
            refs.pop();
        }
    }

    private Nfa.Frag combinator(String kind, JsonNode branches, String path) {
        if (!branches.isArray() || branches.isEmpty()) {
            throw new ConstraintException("'" + kind + "' at " + path + " must be a non-empty array of schemas");
        }
        if (!kind.equals("anyOf") && branches.size() > 1) {
            // NOTE: oneOf needs the branches to exclude each other and allOf their intersection; neither can be
            // kept sound in general, so only the single-branch forms are accepted.
            throw new ConstraintException("unsupported JSON Schema keyword '" + kind + "' with more than one schema at "
                    + path + " (use anyOf)");
        }
        List<Nfa.Frag> alts = new ArrayList<>();
        for (int i = 0; i < branches.size(); i++) {
            alts.add(value(branches.get(i), path + "/" + kind + "/" + i));
        }
        return alts.size() == 1 ? alts.get(0) : nfa.alt(alts);
    }

    private Nfa.Frag enumeration(JsonNode schema, String k, Set<String> types, String path) {
        List<JsonNode> values = new ArrayList<>();
        if (k.equals("const")) {
            values.add(schema.get("const"));
        } else {
            JsonNode e = schema.get("enum");
            if (!e.isArray() || e.isEmpty()) {
                throw new ConstraintException("'enum' at " + path + " must be a non-empty array");
            }
            e.forEach(values::add);
        }
        List<Nfa.Frag> alts = new ArrayList<>();
        for (JsonNode v : values) {
            if (types == null || types.contains(typeOf(v)) || (typeOf(v).equals("integer") && types.contains("number"))) {
                try {
                    alts.add(nfa.literal(JSON.writeValueAsString(v)));
                } catch (JsonProcessingException ex) {
                    throw new ConstraintException("'" + k + "' value at " + path + " cannot be written as JSON");
                }
            }
        }
        if (alts.isEmpty()) {
            throw new ConstraintException("no '" + k + "' value at " + path + " has the declared type");
        }
        return alts.size() == 1 ? alts.get(0) : nfa.alt(alts);
    }

    private static String typeOf(JsonNode v) {
        if (v.isObject()) {
            return "object";
        }
        if (v.isArray()) {
            return "array";
        }
        if (v.isTextual()) {
            return "string";
        }
        if (v.isIntegralNumber() || (v.isNumber() && v.asDouble() == Math.rint(v.asDouble()))) {
            return "integer";
        }
        if (v.isNumber()) {
            return "number";
        }
        if (v.isBoolean()) {
            return "boolean";
        }
        return "null";
    }

    // ---- objects ----

    private Nfa.Frag object(JsonNode schema, String path) {
        JsonNode props = schema.get("properties");
        if (props != null && !props.isObject()) {
            throw new ConstraintException("'properties' at " + path + " must be an object");
        }
        Set<String> required = new LinkedHashSet<>();
        JsonNode req = schema.get("required");
        if (req != null) {
            if (!req.isArray()) {
                throw new ConstraintException("'required' at " + path + " must be an array of strings");
            }
            for (JsonNode r : req) {
                if (!r.isTextual()) {
                    throw new ConstraintException("'required' at " + path + " must be an array of strings");
                }
                required.add(r.asText());
            }
        }
        Map<String, JsonNode> declared = new LinkedHashMap<>();
        if (props != null) {
            props.fields().forEachRemaining(e -> declared.put(e.getKey(), e.getValue()));
        }
        for (String r : required) {
            declared.putIfAbsent(r, com.fasterxml.jackson.databind.node.BooleanNode.TRUE);
        }
        JsonNode additional = schema.get("additionalProperties");
        if (additional != null && !additional.isBoolean() && !additional.isObject()) {
            throw new ConstraintException("'additionalProperties' at " + path + " must be a boolean or a schema");
        }
        if (declared.isEmpty()) {
            if (additional != null && additional.isBoolean() && !additional.booleanValue()) {
                return nfa.literal("{}");
            }
            if (additional != null && additional.isObject()) {
                return mapObject(() -> value(additional, path + "/additionalProperties"));
            }
            return mapObject(() -> any(ANY_DEPTH - 1));
        }
        // NOTE: states a[i] (no property written yet) and b[i] (some written) before property i; the comma is
        // written when leaving b, so each property's value is built once however many are optional.
        int open = nfa.newState();
        int a = nfa.newState();
        nfa.edge(open, '{', '{', a);
        int b = nfa.newState();
        for (Map.Entry<String, JsonNode> p : declared.entrySet()) {
            int m = nfa.newState();
            nfa.epsilon(a, m);
            Nfa.Frag comma = nfa.literal(",");
            nfa.epsilon(b, comma.start());
            nfa.epsilon(comma.end(), m);
            Nfa.Frag entry = nfa.seq(nfa.literal(TextNode.valueOf(p.getKey()).toString() + ":"),
                    value(p.getValue(), path + "/properties/" + p.getKey()));
            nfa.epsilon(m, entry.start());
            int a2 = nfa.newState();
            int b2 = nfa.newState();
            nfa.epsilon(entry.end(), b2);
            if (!required.contains(p.getKey())) {
                nfa.epsilon(a, a2);
                nfa.epsilon(b, b2);
            }
            a = a2;
            b = b2;
        }
        int end = nfa.newState();
        nfa.edge(b, '}', '}', end);
        if (required.isEmpty()) {
            nfa.edge(a, '}', '}', end);
        }
        return new Nfa.Frag(open, end);
    }

    /** {@code {}} or {@code {"k":v,...}} with any keys and values built by {@code value}. */
    private Nfa.Frag mapObject(java.util.function.Supplier<Nfa.Frag> value) {
        int open = nfa.newState();
        int a = nfa.newState();
        nfa.edge(open, '{', '{', a);
        int b = nfa.newState();
        int m = nfa.newState();
        nfa.epsilon(a, m);
        Nfa.Frag comma = nfa.literal(",");
        nfa.epsilon(b, comma.start());
        nfa.epsilon(comma.end(), m);
        Nfa.Frag entry = nfa.seq(anyString(), nfa.literal(":"), value.get());
        nfa.epsilon(m, entry.start());
        nfa.epsilon(entry.end(), b);
        int end = nfa.newState();
        nfa.edge(a, '}', '}', end);
        nfa.edge(b, '}', '}', end);
        return new Nfa.Frag(open, end);
    }

    // ---- arrays ----

    private Nfa.Frag array(JsonNode schema, String path) {
        JsonNode items = schema.get("items");
        if (items != null && items.isArray()) {
            throw new ConstraintException("unsupported JSON Schema keyword 'items' as an array (tuple form) at "
                    + path);
        }
        int min = count(schema, "minItems", path, 0);
        int max = count(schema, "maxItems", path, -1);
        if (max >= 0 && max < min) {
            throw new ConstraintException("maxItems < minItems at " + path + ": no array satisfies it");
        }
        java.util.function.Supplier<Nfa.Frag> item = items == null ? () -> any(ANY_DEPTH - 1)
                : () -> value(items, path + "/items");
        // states c[i] after i items; ']' may follow once i >= min; the loop (no maxItems) sits at c[max(min, 1)].
        int open = nfa.newState();
        int c = nfa.newState();
        nfa.edge(open, '[', '[', c);
        int end = nfa.newState();
        int loopAt = Math.max(min, 1);
        int limit = max < 0 ? loopAt : max;
        for (int i = 0; ; i++) {
            if (i >= min) {
                nfa.edge(c, ']', ']', end);
            }
            if (i == limit) {
                if (max < 0) {
                    Nfa.Frag again = nfa.seq(nfa.literal(","), item.get());
                    nfa.epsilon(c, again.start());
                    nfa.epsilon(again.end(), c);
                }
                break;
            }
            Nfa.Frag next = i == 0 ? item.get() : nfa.seq(nfa.literal(","), item.get());
            nfa.epsilon(c, next.start());
            c = next.end();
        }
        return new Nfa.Frag(open, end);
    }

    private static int count(JsonNode schema, String k, String path, int dflt) {
        JsonNode n = schema.get(k);
        if (n == null) {
            return dflt;
        }
        if (!n.canConvertToInt() || !(n.isIntegralNumber() || n.asDouble() == Math.rint(n.asDouble()))
                || n.asInt() < 0) {
            throw new ConstraintException("'" + k + "' at " + path + " must be a non-negative integer");
        }
        if (n.asInt() > RegexCompiler.MAX_REPEAT) {
            throw new ConstraintException("'" + k + "' at " + path + " is above the supported "
                    + RegexCompiler.MAX_REPEAT);
        }
        return n.asInt();
    }

    // ---- strings ----

    private Nfa.Frag string(JsonNode schema, String path) {
        JsonNode pattern = schema.get("pattern");
        int min = count(schema, "minLength", path, 0);
        int max = count(schema, "maxLength", path, -1);
        if (max >= 0 && max < min) {
            throw new ConstraintException("maxLength < minLength at " + path + ": no string satisfies it");
        }
        if (pattern != null) {
            if (!pattern.isTextual()) {
                throw new ConstraintException("'pattern' at " + path + " must be a string");
            }
            if (schema.has("minLength") || schema.has("maxLength")) {
                throw new ConstraintException("unsupported JSON Schema keyword 'pattern' together with "
                        + "minLength/maxLength at " + path);
            }
            return patternString(pattern.asText());
        }
        return nfa.seq(nfa.literal("\""), RegexCompiler.repeat(nfa, this::stringChar, min, max), nfa.literal("\""));
    }

    private Nfa.Frag patternString(String p) {
        // NOTE: a JSON Schema pattern matches anywhere in the string unless anchored with ^ and $.
        boolean anchoredStart = p.startsWith("^");
        boolean anchoredEnd = p.endsWith("$") && !escapedAt(p, p.length() - 1);
        RegexCompiler.Node node = RegexCompiler.parse(p);
        List<Nfa.Frag> parts = new ArrayList<>();
        parts.add(nfa.literal("\""));
        if (!anchoredStart) {
            parts.add(nfa.star(RegexCompiler.chars(nfa, CharSet.any(), true)));
        }
        parts.add(RegexCompiler.build(nfa, node, true));
        if (!anchoredEnd) {
            parts.add(nfa.star(RegexCompiler.chars(nfa, CharSet.any(), true)));
        }
        parts.add(nfa.literal("\""));
        return nfa.seq(parts.toArray(new Nfa.Frag[0]));
    }

    private static boolean escapedAt(String s, int i) {
        int n = 0;
        for (int j = i - 1; j >= 0 && s.charAt(j) == '\\'; j--) {
            n++;
        }
        return n % 2 == 1;
    }

    /** One character of a JSON string: an unescaped one, a short escape or a non-surrogate backslash-u escape. */
    private Nfa.Frag stringChar() {
        CharSet raw = CharSet.any().minus(CharSet.of(0, 0x1F)).minus(CharSet.single('"'))
                .minus(CharSet.single('\\'));
        List<Nfa.Frag> alts = new ArrayList<>();
        alts.add(raw.toFrag(nfa));
        int bs = nfa.newState();
        int after = nfa.newState();
        Nfa.Frag start = nfa.byteRange('\\', '\\');
        nfa.epsilon(start.end(), bs);
        for (char c : "\"\\/bfnrt".toCharArray()) {
            nfa.edge(bs, c, c, after);
        }
        int u = nfa.newState();
        nfa.edge(bs, 'u', 'u', u);
        // first hex digit: not d/D (surrogates); or d/D followed by 0-7 (D000..D7FF)
        int h1 = nfa.newState();
        for (int[] r : new int[][] {{'0', '9'}, {'a', 'c'}, {'A', 'C'}, {'e', 'f'}, {'E', 'F'}}) {
            nfa.edge(u, r[0], r[1], h1);
        }
        int d = nfa.newState();
        nfa.edge(u, 'd', 'd', d);
        nfa.edge(u, 'D', 'D', d);
        int h2 = nfa.newState();
        hexEdges(h1, h2);
        nfa.edge(d, '0', '7', h2);
        int h3 = nfa.newState();
        hexEdges(h2, h3);
        hexEdges(h3, after);
        alts.add(new Nfa.Frag(start.start(), after));
        return nfa.alt(alts);
    }

    private void hexEdges(int from, int to) {
        nfa.edge(from, '0', '9', to);
        nfa.edge(from, 'a', 'f', to);
        nfa.edge(from, 'A', 'F', to);
    }

    private Nfa.Frag anyString() {
        return nfa.seq(nfa.literal("\""), nfa.star(stringChar()), nfa.literal("\""));
    }

    // ---- numbers and any ----

    private Nfa.Frag number(boolean integer) {
        java.util.function.Supplier<Nfa.Frag> digit = () -> nfa.byteRange('0', '9');
        Nfa.Frag intPart = nfa.alt(List.of(nfa.literal("0"), nfa.seq(nfa.byteRange('1', '9'),
                RegexCompiler.repeat(nfa, digit, 0, MAX_INT_DIGITS - 1))));
        Nfa.Frag n = nfa.seq(nfa.optional(nfa.literal("-")), intPart);
        if (integer) {
            return n;
        }
        Nfa.Frag frac = nfa.optional(nfa.seq(nfa.literal("."), RegexCompiler.repeat(nfa, digit, 1, MAX_FRAC_DIGITS)));
        Nfa.Frag exp = nfa.optional(nfa.seq(nfa.alt(List.of(nfa.literal("e"), nfa.literal("E"))),
                nfa.optional(nfa.alt(List.of(nfa.literal("+"), nfa.literal("-")))),
                RegexCompiler.repeat(nfa, digit, 1, MAX_EXP_DIGITS)));
        return nfa.seq(n, frac, exp);
    }

    /** Any JSON value with at most {@code depth} more levels of nesting. */
    private Nfa.Frag any(int depth) {
        List<Nfa.Frag> alts = new ArrayList<>();
        alts.add(anyString());
        alts.add(number(false));
        alts.add(nfa.literal("true"));
        alts.add(nfa.literal("false"));
        alts.add(nfa.literal("null"));
        if (depth > 0) {
            alts.add(mapObject(() -> any(depth - 1)));
            int open = nfa.newState();
            int c = nfa.newState();
            nfa.edge(open, '[', '[', c);
            int end = nfa.newState();
            nfa.edge(c, ']', ']', end);
            int b = nfa.newState();
            int m = nfa.newState();
            nfa.epsilon(c, m);
            Nfa.Frag comma = nfa.literal(",");
            nfa.epsilon(b, comma.start());
            nfa.epsilon(comma.end(), m);
            Nfa.Frag item = any(depth - 1);
            nfa.epsilon(m, item.start());
            nfa.epsilon(item.end(), b);
            nfa.edge(b, ']', ']', end);
            alts.add(new Nfa.Frag(open, end));
        }
        return nfa.alt(alts);
    }
}
