package dev.quiver.edge.jinja;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Templates that jinja2 rejects, or that use what this engine does not support, fail with a message naming the
 * construct instead of rendering something else; functions given by the caller see their arguments and their
 * exceptions pass through unchanged.
 */
class JinjaErrorsTest {
    private static TemplateException compileFails(String template) {
        return assertThrows(TemplateException.class, () -> Template.compile(template));
    }

    private static TemplateException renderFails(String template, Map<String, ?> vars) {
        Template t = Template.compile(template);
        return assertThrows(TemplateException.class, () -> t.render(vars));
    }

    private static void assertMentions(TemplateException e, String text) {
        assertTrue(e.getMessage().contains(text), e.getMessage());
    }

    @Test
    void refuses_unsupported_statements_naming_them() {
        assertMentions(compileFails("{% include 'other.jinja' %}"), "unsupported template statement 'include'");
        assertMentions(compileFails("{% extends 'base' %}"), "unsupported template statement 'extends'");
        assertMentions(compileFails("{% for x in y recursive %}{% endfor %}"), "recursive for loops");
        assertMentions(compileFails("{% frobnicate %}"), "unknown template statement 'frobnicate'");
    }

    @Test
    void refuses_unknown_filters_and_tests_naming_them() {
        assertMentions(compileFails("{{ x | shout }}"), "no filter named 'shout'");
        assertMentions(compileFails("{{ x is shouting }}"), "no test named 'shouting'");
    }

    @Test
    void reports_syntax_errors_with_the_template_line() {
        assertMentions(compileFails("line one\n{% if x %}\nunclosed"), "expected one of [elif, else, endif]");
        assertMentions(compileFails("{{ 'unterminated }}"), "unterminated string");
        assertMentions(compileFails("a\n{{ x + }}"), "template line 2");
    }

    @Test
    void using_an_attribute_of_something_undefined_is_an_error_as_in_jinja2() {
        assertMentions(renderFails("{{ missing.attr }}", Map.of()), "'missing' is undefined");
        assertMentions(renderFails("{{ m.a.b }}", Map.of("m", Map.of())), "'dict object' has no attribute 'a'");
        assertMentions(renderFails("{{ missing + 1 }}", Map.of()), "'missing' is undefined");
    }

    @Test
    void python_type_errors_surface_with_pythons_message() {
        assertMentions(renderFails("{{ 'a' + 1 }}", Map.of()), "can only concatenate str (not \"int\") to str");
        assertMentions(renderFails("{{ 1 / 0 }}", Map.of()), "division by zero");
        assertMentions(renderFails("{{ x|tojson }}", Map.of()), "Object of type Undefined is not JSON serializable");
        assertMentions(renderFails("{% for x in 5 %}{% endfor %}", Map.of()), "'int' object is not iterable");
    }

    @Test
    void mutating_methods_are_refused_like_the_immutable_sandbox() {
        assertMentions(renderFails("{{ l.append(1) }}", Map.of("l", List.of())),
                "access to attribute 'append' of 'list' object is unsafe");
        assertMentions(renderFails("{{ d.update({}) }}", Map.of("d", Map.of())),
                "access to attribute 'update' of 'dict' object is unsafe");
    }

    @Test
    void range_and_macro_recursion_are_bounded() {
        assertMentions(renderFails("{{ range(1000000)|length }}", Map.of()), "range too big");
        assertMentions(renderFails("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", Map.of()),
                "macro calls nested deeper than");
    }

    @Test
    void caller_functions_get_their_arguments_and_their_exceptions_pass_through() {
        JinjaFunction echo = (args, kwargs) -> args.get(0) + "/" + kwargs.get("k");
        assertEquals("a/b", Template.compile("{{ f('a', k='b') }}").render(Map.of("f", echo)));
        IllegalStateException boom = new IllegalStateException("boom");
        JinjaFunction raising = (args, kwargs) -> {
            throw boom;
        };
        Template t = Template.compile("{{ raise_it() }}");
        assertEquals(boom, assertThrows(IllegalStateException.class, () -> t.render(Map.of("raise_it", raising))));
    }
}
