package dev.quiver.edge.jinja;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The interpreter's semantics, table by table: each row is a template, its variables (JSON) and the output Python's
 * jinja2 3.1 gives with transformers' settings (trim_blocks, lstrip_blocks, loopcontrols, {% generation %},
 * tojson = json.dumps(ensure_ascii=False)); the expected strings were produced by running jinja2 on each row.
 */
class JinjaSemanticsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Arguments row(String template, String varsJson, String expected) {
        return Arguments.of(template, varsJson, expected);
    }

    @SuppressWarnings("unchecked")
    private static void assertRendersLikeJinja2(String template, String varsJson, String expected) throws Exception {
        Map<String, Object> vars = JSON.readValue(varsJson, Map.class);
        assertEquals(expected, Template.compile(template).render(vars));
    }

    /** whitespace control: '-' on either side, trim_blocks, lstrip_blocks, '+' opt-outs, comments, raw, the dropped trailing newline, \r\n. */
    static Stream<Arguments> whitespace_control() {
        return Stream.of(
                row("a  {{- 'b' -}}  c",
                        "{}",
                        "abc"),
                row("<ul>\n  {% for x in [1,2] %}\n  <li>{{ x }}</li>\n  {% endfor %}\n</ul>\n",
                        "{}",
                        "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>"),
                row("  {%+ if true %}x{% endif %}\n",
                        "{}",
                        "  x"),
                row("{% if true +%}\nx{% endif %}",
                        "{}",
                        "\nx"),
                row("a {# comment #}\nb  {#- c -#}  d",
                        "{}",
                        "a bd"),
                row("{% raw %}{{ not rendered }}{% endraw %}",
                        "{}",
                        "{{ not rendered }}"),
                row("x\n",
                        "{}",
                        "x"),
                row("line1\r\nline2",
                        "{}",
                        "line1\nline2"),
                row("x  {% raw %}\n  {{ y }}\n  {% endraw %}\nz",
                        "{}",
                        "x  \n  {{ y }}\nz"),
                row("a\n  {%- if true %}\n  b\n  {%- endif %}\nc|\t{% if true %}\n\tx\n\t{% endif %}\n",
                        "{}",
                        "a  bc|\t\tx\n"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void whitespace_control(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** {{ }} prints Python's str(): True/None, float repr, list/dict/tuple repr with quoting. */
    static Stream<Arguments> printing() {
        return Stream.of(
                row("{{ true }} {{ none }} {{ 1.0 }} {{ 1e-05 }} {{ 1e16 }} {{ 0.1 + 0.2 }} {{ 10 / 4 }} {{ 2.5e-3 }}",
                        "{}",
                        "True None 1.0 1e-05 1e+16 0.30000000000000004 2.5 0.0025"),
                row("{{ ['a', \"it's\", 1, none, true] }} {{ {'a': 1, 'b': [1.5]} }} {{ (1,) }} {{ (1, 'x') }}",
                        "{}",
                        "['a', \"it's\", 1, None, True] {'a': 1, 'b': [1.5]} (1,) (1, 'x')"),
                row("{{ x }}",
                        "{\"x\": {\"k\": \"line\\nbreak\", \"q\": \"a\\\"b'c\"}}",
                        "{'k': 'line\\nbreak', 'q': 'a\"b\\'c'}"),
                row("{{ '\u00fc' ~ 1 ~ none ~ undefined_name }}",
                        "{}",
                        "\u00fc1None"),
                row("{{ big }} {{ big|tojson }} {{ [{'x': {'y': 1}}] }}",
                        "{\"big\": 12345678901234567890}",
                        "12345678901234567890 12345678901234567890 [{'x': {'y': 1}}]"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void printing(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** arithmetic with Python semantics: // and % floor, ** , int/float promotion, str and list repetition. */
    static Stream<Arguments> arith() {
        return Stream.of(
                row("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 % 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1 + 2.0 }} {{ 3 * 'ab' }} {{ [1] * 2 }} {{ [1] + [2] }} {{ -(3) }} {{ true + 1 }}",
                        "{}",
                        "3 -4 1 2 1.5 1024 0.5 3.0 ababab [1, 1] [1, 2] -3 2"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void arith(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** chained comparisons, in / not in, == across int/float/bool, and/or returning operands, inline if. */
    static Stream<Arguments> logic() {
        return Stream.of(
                row("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'b' in 'abc' }} {{ 2 not in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 1 == 1.0 }} {{ true == 1 }} {{ [1, 2] == [1, 2] }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }}",
                        "{}",
                        "True False True False True True True True True True"),
                row("{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ none or none }} {{ not [] }} {{ 'y' if 1 else 'n' }} [{{ 'y' if 0 }}]",
                        "{}",
                        "x b  None True y []"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void logic(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** attribute vs item lookup, negative indices, slices with steps on lists and strings (by code point). */
    static Stream<Arguments> lookup() {
        return Stream.of(
                row("{{ m.content }} {{ m['content'] }} {{ m.missing }} {{ l[-1] }} {{ l[1:] }} {{ l[::-1] }} {{ l[::2] }} {{ s[1:3] }} {{ s[::-1] }} {{ l[10] }} {{ l.0 }}",
                        "{\"m\": {\"content\": \"hi\"}, \"l\": [1, 2, 3], \"s\": \"h\u00e9llo\"}",
                        "hi hi  3 [2, 3] [3, 2, 1] [1, 3] \u00e9l oll\u00e9h  1"),
                row("{{ m.items()|list }} {{ m['items'] }} {{ m.keys()|list }} {{ m.get('a') }} {{ m.get('z', 5) }} {{ m.get('z') }}",
                        "{\"m\": {\"a\": 1, \"items\": \"own\"}}",
                        "[('a', 1), ('items', 'own')] own ['a', 'items'] 1 5 None"),
                row("{{ none.x }}|{{ (none).x is defined }}",
                        "{}",
                        "|False"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void lookup(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** Undefined prints empty, is falsy, iterates empty, has length 0 and takes defaults. */
    static Stream<Arguments> undefined() {
        return Stream.of(
                row("[{{ u }}] {{ u is defined }} {{ u is undefined }} {{ u|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ u|length }} {% for x in u %}x{% else %}empty{% endfor %} {{ not u }} {{ u == u }}",
                        "{}",
                        "[] False True d  d 0 empty True True"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void undefined(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** for loops: loop.* variables, tuple unpacking, filtering, else, break/continue, range, per-iteration scope. */
    static Stream<Arguments> for_loops() {
        return Stream.of(
                row("{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}",
                        "{\"l\": [\"a\", \"b\"]}",
                        "10TrueFalse221|21FalseTrue210|"),
                row("{% for x in l %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('o', 'e') }};{% endfor %}",
                        "{\"l\": [1, 2, 3]}",
                        "-2-o;1-3-e;2--o;"),
                row("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}",
                        "{\"d\": {\"x\": 1, \"y\": 2}}",
                        "x=1,y=2,37"),
                row("{% for x in l if x is odd %}{{ x }}{{ loop.length }}{% endfor %}|{% for x in [] %}{% else %}none{% endfor %}|{% for c in 'ab' %}{{ c }}.{% endfor %}{% for k in {'p': 1, 'q': 2} %}{{ k }}{% endfor %}",
                        "{\"l\": [1, 2, 3, 4, 5]}",
                        "133353|none|a.b.pq"),
                row("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %} {{ range(3)|list }} {{ range(1, 10, 3)|list }}",
                        "{}",
                        "0134 [0, 1, 2] [1, 4, 7]"),
                row("{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = i * 10 %}{{ x }},{% endfor %}{{ x }}",
                        "{}",
                        "110,120,1"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void for_loops(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** set with tuple targets, namespace attributes across loop iterations, block set with filters, if shares scope. */
    static Stream<Arguments> set_and_namespace() {
        return Stream.of(
                row("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set ns = namespace(found=false, n=0) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}{{ ns.n }}",
                        "{}",
                        "12True6"),
                row("{% set block %}  inner {{ 1 + 1 }}  {% endset %}[{{ block }}]{% set up | upper %}shout{% endset %}{{ up }}",
                        "{}",
                        "[  inner 2  ]SHOUT"),
                row("{% if true %}{% set inside = 'kept' %}{% endif %}{{ inside }}",
                        "{}",
                        "kept"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void set_and_namespace(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** macros with defaults and keyword arguments, call blocks with caller(), filter blocks. */
    static Stream<Arguments> macros_and_blocks() {
        return Stream.of(
                row("{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', greeting='Hi') }} {{ greet(name='Cy') }}",
                        "{}",
                        "Hello, Ann! Hi, Bo! Hello, Cy!"),
                row("{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}",
                        "{}",
                        "<b>bold</b>"),
                row("{% filter upper %}quiet {{ 'words' }}{% endfilter %}",
                        "{}",
                        "QUIET WORDS"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void macros_and_blocks(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** built-in filters with jinja2's arguments and defaults. */
    static Stream<Arguments> filters() {
        return Stream.of(
                row("[{{ '  x  '|trim }}] {{ 'xxhixx'|trim('x') }} {{ [1, 2]|length }} {{ 'abc'|count }} {{ [3, 4]|first }} {{ [3, 4]|last }} {{ [1, 2]|join('-') }} {{ ['a', 'b']|join }}",
                        "{}",
                        "[x] hi 2 3 3 4 1-2 ab"),
                row("{{ 3|string }} {{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int(7) }} {{ '2.5'|float }} {{ 3|float }} {{ 'hELLo wOrld'|lower }} {{ 'hi'|upper }} {{ 'hello big-world (x)'|title }} {{ 'hELLO'|capitalize }} {{ 'a-b-c'|replace('-', '+') }} {{ 'aaa'|replace('a', 'b', 2) }}",
                        "{}",
                        "3 42 4 7 2.5 3.0 hello world HI Hello Big-World (X) Hello a+b+c bba"),
                row("{{ users|selectattr('active')|map(attribute='name')|list }} {{ users|rejectattr('active')|map(attribute='name')|join(',') }} {{ users|selectattr('role', 'equalto', 'admin')|list|length }} {{ [1, 2, 3, 4]|select('even')|list }} {{ [0, 1, '']|reject|list }} {{ [1, 2]|map('string')|list }}",
                        "{\"users\": [{\"name\": \"a\", \"active\": true, \"role\": \"admin\"}, {\"name\": \"b\", \"active\": false, \"role\": \"user\"}]}",
                        "['a'] b 1 [2, 4] [0, ''] ['1', '2']"),
                row("{{ {'b': 1, 'A': 2}|dictsort }} {{ {'x': 1}|items|list }} {{ [1, 2, 1, 3]|unique|list }} {{ [1, 2]|reverse|list }} {{ 'abc'|reverse }} {{ ['b', 'A', 'c']|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ users|sort(attribute='age')|map(attribute='n')|join }}",
                        "{\"users\": [{\"n\": \"x\", \"age\": 30}, {\"n\": \"y\", \"age\": 20}]}",
                        "[('A', 2), ('b', 1)] [('x', 1)] [1, 2, 3] [2, 1] cba ['A', 'b', 'c'] [3, 2, 1] yx"),
                row("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, true) }}|{{ 2.5|round }} {{ 2.675|round(2) }} {{ 3.14159|round(2, 'floor') }} {{ -3|abs }} {{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }} {{ [1, 2, 3]|sum }} {{ 'one two  three'|wordcount }} [{{ 'ab'|center(6) }}] {{ 'hello world foo bar'|truncate(9, leeway=0) }} {{ '%s is %d'|format('x', 3) }} {{ x|safe }}",
                        "{\"x\": \"<b>\"}",
                        "a\n  b\n\n  c|  a\n  b|2.0 2.67 3.14 3 1 3 6 3 [  ab  ] hello... x is 3 <b>"),
                row("{{ '0x1A'|int(0, 16) }} {{ '0b101'|int(0, 0) }} {{ '-7'|int }} {{ [{'x': {'y': 1}}]|map(attribute='x.y')|list }} {{ [{}]|map(attribute='z', default='dz')|list }}",
                        "{}",
                        "26 5 -7 [1] ['dz']"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void filters(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** tojson is transformers' json.dumps(ensure_ascii=False) with indent, sort_keys and separators. */
    static Stream<Arguments> tojson() {
        return Stream.of(
                row("{{ d|tojson }} {{ d|tojson(indent=2) }} {{ d|tojson(sort_keys=true) }} {{ d|tojson(separators=(',', ':')) }} {{ '\u00fc\"\\\\\n'|tojson }} {{ [] |tojson(indent=2) }} {{ 1.0|tojson }} {{ none|tojson }}",
                        "{\"d\": {\"b\": [1, 2.5, null, true], \"a\": \"\u00e9\", \"c\": {}}}",
                        "{\"b\": [1, 2.5, null, true], \"a\": \"\u00e9\", \"c\": {}} {\n  \"b\": [\n    1,\n    2.5,\n    null,\n    true\n  ],\n  \"a\": \"\u00e9\",\n  \"c\": {}\n} {\"a\": \"\u00e9\", \"b\": [1, 2.5, null, true], \"c\": {}} {\"b\":[1,2.5,null,true],\"a\":\"\u00e9\",\"c\":{}} \"\u00fc\\\"\\\\\\n\" [] 1.0 null"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void tojson(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** built-in tests. */
    static Stream<Arguments> tests() {
        return Stream.of(
                row("{{ none is none }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ [] is sequence }} {{ 1 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ false is boolean }} {{ true is true }} {{ 1 is true }} {{ 0 is false }}",
                        "{}",
                        "True True True True True False True True True True False True True True False False"),
                row("{{ 1 is eq 1 }} {{ 1 is equalto 2 }} {{ 2 is ne 3 }} {{ 1 is lt 2 }} {{ 3 is gt 2 }} {{ 2 is le 2 }} {{ 2 is ge 3 }} {{ 1 is in [1] }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ none is sameas none }} {{ range is callable }} {{ x is not defined }}",
                        "{}",
                        "True False True True True True False True True True True True True True True True"),
                row("{{ 'a' is sameas 'a' }} {{ 1 is sameas 1 }} {{ [] is sameas [] }} {{ 'abc' is in 'xabcx' }}",
                        "{}",
                        "True True False True"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void tests(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** Python str, dict and list methods. */
    static Stream<Arguments> methods() {
        return Stream.of(
                row("{{ 'a b  c'.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ '  x  '.strip() }}|{{ 'xyx'.strip('x') }} {{ '\n\nx\n'.lstrip('\n') }}|{{ 'x  '.rstrip() }}| {{ 'hello'.startswith('he') }} {{ 'hello'.endswith(('x', 'lo')) }}",
                        "{}",
                        "['a', 'b', 'c'] ['a', 'b', '', 'c'] ['a', 'b,c'] ['a,b', 'c'] x|y x\n|x| True True"),
                row("{{ 'Hi'.upper() }} {{ 'Hi'.lower() }} {{ \"they're 1st\".title() }} {{ 'hELLO'.capitalize() }} {{ 'aXbX'.replace('X', '-') }} {{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'hello'.index('e') }} {{ 'hello'.count('l') }} {{ '-'.join(['a', 'b']) }} {{ '{} and {}'.format('x', 'y') }} {{ '{0}{name}'.format('a', name='b') }} {{ '123'.isdigit() }} {{ ' '.isspace() }} {{ 'ab'.isalpha() }}",
                        "{}",
                        "HI hi They'Re 1St Hello a-b- 2 3 -1 1 2 a-b x and y ab True True True"),
                row("{{ d.items()|list }} {{ d.keys()|list }} {{ d.values()|list }} {{ l.index(2) }} {{ l.count(1) }}",
                        "{\"d\": {\"a\": 1, \"b\": 2}, \"l\": [1, 2, 1]}",
                        "[('a', 1), ('b', 2)] ['a', 'b'] [1, 2] 1 2"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void methods(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

    /** generation blocks render their body; string literal concatenation, numeric underscores, trailing commas, dict(), escapes. */
    static Stream<Arguments> literals_and_generation() {
        return Stream.of(
                row("{% generation %}kept {{ 1 }}{% endgeneration %} {{ 'con' 'cat' }} {{ 1_000 }} {{ [1, 2,] }} {{ {'a': 1,}['a'] }} {{ dict(a=1) }} {{ \"\\u00e9\\t|\" }}",
                        "{}",
                        "kept 1 concat 1000 [1, 2] 1 {'a': 1} \u00e9\t|"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource
    void literals_and_generation(String template, String vars, String expected) throws Exception {
        assertRendersLikeJinja2(template, vars, expected);
    }

}
