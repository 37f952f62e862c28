package dev.quiver.gpu.constraint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** What each kind of spec compiles to, checked on whole outputs, and the errors for what is not supported. */
class ConstraintsTest {

    static boolean matches(ConstraintSpec spec, String text) {
        return Constraints.compile(spec).matches(text.getBytes(StandardCharsets.UTF_8));
    }

    static ConstraintSpec schema(String s) {
        return new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, s);
    }

    static ConstraintSpec regex(String s) {
        return new ConstraintSpec(ConstraintSpec.Kind.REGEX, s);
    }

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "[a-c]+\\d{2};abc12;true",
        "[a-c]+\\d{2};abc1;false",
        "[a-c]+\\d{2};12;false",
        "(cat|dog)s?;dogs;true",
        "(cat|dog)s?;cats!;false",
        "^\\w+@\\w+\\.com$;me@x.com;true",
        "[^0-9]{3};é!z;true",
        "[^0-9]{3};é1z;false",
        ".{2};\u65e5\u672c;true",
        "a{2,3};aaaa;false",
        "a{2,};aaaaaa;true",
        "(?:ab)*c;ababc;true",
        "(?<year>\\d{4})-\\d\\d;2024-05;true",
        "x*?y;xxy;true",
        "\\x41\\u00e9;Aé;true",
    })
    void regex_matches_exactly_the_whole_output(String pattern, String text, boolean expected) {
        assertEquals(expected, matches(regex(pattern), text));
    }

    @Test
    void regex_dot_excludes_newline_and_shorthands_cover_whitespace() {
        assertFalse(matches(regex("."), "\n"));
        assertTrue(matches(regex("\\s\\S"), "\t!"));
        assertFalse(matches(regex("\\S"), " "));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "a\\1|backreference",
        "(?=a)a|lookahead",
        "(?<!a)b|lookbehind",
        "\\bword|word boundary",
        "(?i)abc|inline flags",
        "a++|possessive",
        "\\p{L}|escape \\p",
        "a^b|'^' anchor",
        "[[:alpha:]]|POSIX class",
        "a{1001}|repetition count",
    })
    void regex_refuses_unsupported_constructs_naming_them(String pattern, String named) {
        ConstraintException e = assertThrows(ConstraintException.class, () -> Constraints.compile(regex(pattern)));
        assertTrue(e.getMessage().contains(named), e.getMessage());
    }

    @Test
    void choice_is_one_of_the_strings() {
        ConstraintSpec c = new ConstraintSpec(ConstraintSpec.Kind.CHOICE, "[\"yes\",\"no\",\"maybe so\"]");
        assertTrue(matches(c, "yes"));
        assertTrue(matches(c, "maybe so"));
        assertFalse(matches(c, "ye"));
        assertFalse(matches(c, "yesno"));
        assertThrows(ConstraintException.class,
                () -> Constraints.compile(new ConstraintSpec(ConstraintSpec.Kind.CHOICE, "[]")));
    }

    @Test
    void json_object_is_any_compact_object() {
        ConstraintSpec o = new ConstraintSpec(ConstraintSpec.Kind.JSON_OBJECT, "");
        assertTrue(matches(o, "{}"));
        assertTrue(matches(o, "{\"a\":[1,-2.5e3,\"x\\n\\u00e9\"],\"b\":{\"c\":null,\"d\":true}}"));
        assertFalse(matches(o, "[1]"));
        assertFalse(matches(o, "{\"a\": 1}"), "no whitespace outside strings");
        assertFalse(matches(o, "{\"a\":01}"));
        assertFalse(matches(o, "{\"a\":\"\u0001\"}"), "raw control characters are not JSON");
        assertFalse(matches(o, "{\"a\":\"\\ud800\"}"), "lone surrogate escape");
    }

    @Test
    void schema_object_has_required_properties_in_order_and_may_skip_optional_ones() {
        ConstraintSpec s = schema("""
                {"type":"object","properties":{"name":{"type":"string","maxLength":5},
                 "age":{"type":"integer"},"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2}},
                 "required":["age"],"additionalProperties":false}""");
        assertTrue(matches(s, "{\"age\":3}"));
        assertTrue(matches(s, "{\"name\":\"bob\",\"age\":-12}"));
        assertTrue(matches(s, "{\"age\":0,\"tags\":[\"a\",\"b\"]}"));
        assertFalse(matches(s, "{\"name\":\"bob\"}"), "age is required");
        assertFalse(matches(s, "{\"age\":1.5}"));
        assertFalse(matches(s, "{\"name\":\"toolong\",\"age\":1}"));
        assertFalse(matches(s, "{\"age\":1,\"tags\":[\"a\",\"b\",\"a\"]}"));
        assertFalse(matches(s, "{,\"age\":1}"));
        assertFalse(matches(s, "{\"age\":1,\"x\":1}"));
    }

    @Test
    void schema_supports_refs_anyof_type_arrays_const_and_patterns() {
        ConstraintSpec s = schema("""
                {"$defs":{"pt":{"type":"object","properties":{"x":{"type":"number"}},"required":["x"]}},
                 "type":"object","properties":{
                   "p":{"$ref":"#/$defs/pt"},
                   "v":{"anyOf":[{"type":"boolean"},{"const":"none"}]},
                   "n":{"type":["string","null"],"minLength":2},
                   "code":{"type":"string","pattern":"^[A-Z]{2}-\\\\d+$"},
                   "m":{"type":"object","additionalProperties":{"type":"integer"}}},
                 "required":["p","v","n","code","m"]}""");
        assertTrue(matches(s, "{\"p\":{\"x\":1.25},\"v\":true,\"n\":null,\"code\":\"AB-12\",\"m\":{}}"));
        assertTrue(matches(s, "{\"p\":{\"x\":0},\"v\":\"none\",\"n\":\"hi\",\"code\":\"ZZ-0\",\"m\":{\"k\":1,\"j\":2}}"));
        assertFalse(matches(s, "{\"p\":{\"x\":0},\"v\":\"no\",\"n\":null,\"code\":\"AB-1\",\"m\":{}}"));
        assertFalse(matches(s, "{\"p\":{\"x\":0},\"v\":true,\"n\":\"h\",\"code\":\"AB-1\",\"m\":{}}"));
        assertFalse(matches(s, "{\"p\":{\"x\":0},\"v\":true,\"n\":null,\"code\":\"ab-1\",\"m\":{}}"));
        assertFalse(matches(s, "{\"p\":{\"x\":0},\"v\":true,\"n\":null,\"code\":\"AB-1\",\"m\":{\"k\":\"s\"}}"));
    }

    @Test
    void unanchored_pattern_matches_anywhere_in_the_string_and_escapes_json() {
        ConstraintSpec s = schema("{\"type\":\"string\",\"pattern\":\"\\\"q\"}");
        assertTrue(matches(s, "\"say \\\"q\""));
        assertTrue(matches(s, "\"\\\"q and more\""));
        assertFalse(matches(s, "\"\"q\""), "the quote inside must be escaped");
        assertFalse(matches(s, "\"no quote\""));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "{\"type\":\"string\",\"format\":\"email\"}|'format'",
        "{\"type\":\"integer\",\"minimum\":3}|'minimum'",
        "{\"type\":\"object\",\"patternProperties\":{\"a\":{}}}|'patternProperties'",
        "{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}|'oneOf'",
        "{\"allOf\":[{\"type\":\"string\"},{\"maxLength\":3}]}|'allOf'",
        "{\"type\":\"array\",\"uniqueItems\":true}|'uniqueItems'",
        "{\"type\":\"array\",\"items\":[{\"type\":\"string\"}]}|'items' as an array",
        "{\"type\":\"date\"}|'date'",
        "{\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"c\":{\"$ref\":\"#/$defs/n\"}}}},\"$ref\":\"#/$defs/n\"}|recursive",
        "{\"$ref\":\"https://example.com/s.json\"}|unsupported '$ref'",
        "{\"type\":\"string\",\"pattern\":\"(?=x)\"}|lookahead",
        "{\"not\":{\"type\":\"string\"}}|'not'",
    })
    void schema_refuses_unsupported_keywords_naming_them(String schema, String named) {
        ConstraintException e = assertThrows(ConstraintException.class, () -> Constraints.compile(schema(schema)));
        assertTrue(e.getMessage().contains(named), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"title\":\"T\",\"description\":\"d\",\"$schema\":\"x\",\"type\":\"boolean\","
            + "\"default\":true,\"examples\":[false],\"$id\":\"i\",\"strict\":true}"})
    void schema_ignores_annotations(String schema) {
        assertTrue(matches(schema(schema), "false"));
    }

    @Test
    void single_branch_oneof_and_allof_are_that_branch() {
        assertTrue(matches(schema("{\"oneOf\":[{\"type\":\"null\"}]}"), "null"));
        assertTrue(matches(schema("{\"allOf\":[{\"type\":\"null\"}]}"), "null"));
    }

    @Test
    void numbers_follow_the_json_grammar() {
        ConstraintSpec n = schema("{\"type\":\"number\"}");
        for (String ok : new String[] {"0", "-0", "12", "1.5", "-3.25e+10", "7E2"}) {
            assertTrue(matches(n, ok), ok);
        }
        for (String bad : new String[] {"01", "1.", ".5", "+1", "1e", "--1", "NaN"}) {
            assertFalse(matches(n, bad), bad);
        }
    }
}
