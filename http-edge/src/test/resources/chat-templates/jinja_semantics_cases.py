#!/usr/bin/python3
"""The rows of JinjaSemanticsTest: each template is rendered here by Python's jinja2 with transformers' settings and
the script prints the Java table methods (template, variables as JSON, jinja2's output) to paste into the test.

    /usr/bin/python3 http-edge/src/test/resources/chat-templates/jinja_semantics_cases.py > /tmp/rows.java

Java keywords are renamed in the test (for -> for_loops, set -> set_and_namespace, macro -> macros_and_blocks,
misc -> literals_and_generation, str -> printing).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import environment  # noqa: E402  (transformers' jinja2 settings)
env = environment()
# (group, template, vars)
C = [
 # whitespace control
 ("whitespace", "a  {{- 'b' -}}  c", {}),
 ("whitespace", "<ul>\n  {% for x in [1,2] %}\n  <li>{{ x }}</li>\n  {% endfor %}\n</ul>\n", {}),
 ("whitespace", "  {%+ if true %}x{% endif %}\n", {}),
 ("whitespace", "{% if true +%}\nx{% endif %}", {}),
 ("whitespace", "a {# comment #}\nb  {#- c -#}  d", {}),
 ("whitespace", "{% raw %}{{ not rendered }}{% endraw %}", {}),
 ("whitespace", "x\n", {}),
 ("whitespace", "line1\r\nline2", {}),
 ("whitespace", "x  {% raw %}\n  {{ y }}\n  {% endraw %}\nz", {}),
 ("whitespace", "a\n  {%- if true %}\n  b\n  {%- endif %}\nc|\t{% if true %}\n\tx\n\t{% endif %}\n", {}),
 # str() of values
 ("str", "{{ true }} {{ none }} {{ 1.0 }} {{ 1e-05 }} {{ 1e16 }} {{ 0.1 + 0.2 }} {{ 10 / 4 }} {{ 2.5e-3 }}", {}),
 ("str", "{{ ['a', \"it's\", 1, none, true] }} {{ {'a': 1, 'b': [1.5]} }} {{ (1,) }} {{ (1, 'x') }}", {}),
 ("str", "{{ x }}", {"x": {"k": "line\nbreak", "q": "a\"b'c"}}),
 ("str", "{{ 'ü' ~ 1 ~ none ~ undefined_name }}", {}),
 ("str", "{{ big }} {{ big|tojson }} {{ [{'x': {'y': 1}}] }}", {"big": 12345678901234567890}),
 # arithmetic
 ("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 % 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1 + 2.0 }} {{ 3 * 'ab' }} {{ [1] * 2 }} {{ [1] + [2] }} {{ -(3) }} {{ true + 1 }}", {}),
 # comparisons and logic
 ("logic", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'b' in 'abc' }} {{ 2 not in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 1 == 1.0 }} {{ true == 1 }} {{ [1, 2] == [1, 2] }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }}", {}),
 ("logic", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ none or none }} {{ not [] }} {{ 'y' if 1 else 'n' }} [{{ 'y' if 0 }}]", {}),
 # subscripts and attributes
 ("lookup", "{{ m.content }} {{ m['content'] }} {{ m.missing }} {{ l[-1] }} {{ l[1:] }} {{ l[::-1] }} {{ l[::2] }} {{ s[1:3] }} {{ s[::-1] }} {{ l[10] }} {{ l.0 }}", {"m": {"content": "hi"}, "l": [1, 2, 3], "s": "héllo"}),
 ("lookup", "{{ m.items()|list }} {{ m['items'] }} {{ m.keys()|list }} {{ m.get('a') }} {{ m.get('z', 5) }} {{ m.get('z') }}", {"m": {"a": 1, "items": "own"}}),
 ("lookup", "{{ none.x }}|{{ (none).x is defined }}", {}),
 # undefined
 ("undefined", "[{{ u }}] {{ u is defined }} {{ u is undefined }} {{ u|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ u|length }} {% for x in u %}x{% else %}empty{% endfor %} {{ not u }} {{ u == u }}", {}),
 # for loops
 ("for", "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}", {"l": ["a", "b"]}),
 ("for", "{% for x in l %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('o', 'e') }};{% endfor %}", {"l": [1, 2, 3]}),
 ("for", "{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}", {"d": {"x": 1, "y": 2}}),
 ("for", "{% for x in l if x is odd %}{{ x }}{{ loop.length }}{% endfor %}|{% for x in [] %}{% else %}none{% endfor %}|{% for c in 'ab' %}{{ c }}.{% endfor %}{% for k in {'p': 1, 'q': 2} %}{{ k }}{% endfor %}", {"l": [1, 2, 3, 4, 5]}),
 ("for", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %} {{ range(3)|list }} {{ range(1, 10, 3)|list }}", {}),
 ("for", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = i * 10 %}{{ x }},{% endfor %}{{ x }}", {}),
 # set, namespace
 ("set", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set ns = namespace(found=false, n=0) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}{{ ns.n }}", {}),
 ("set", "{% set block %}  inner {{ 1 + 1 }}  {% endset %}[{{ block }}]{% set up | upper %}shout{% endset %}{{ up }}", {}),
 ("set", "{% if true %}{% set inside = 'kept' %}{% endif %}{{ inside }}", {}),
 # macros, call, filter blocks
 ("macro", "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', greeting='Hi') }} {{ greet(name='Cy') }}", {}),
 ("macro", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}", {}),
 ("macro", "{% filter upper %}quiet {{ 'words' }}{% endfilter %}", {}),
 # filters
 ("filters", "[{{ '  x  '|trim }}] {{ 'xxhixx'|trim('x') }} {{ [1, 2]|length }} {{ 'abc'|count }} {{ [3, 4]|first }} {{ [3, 4]|last }} {{ [1, 2]|join('-') }} {{ ['a', 'b']|join }}", {}),
 ("filters", "{{ 3|string }} {{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int(7) }} {{ '2.5'|float }} {{ 3|float }} {{ 'hELLo wOrld'|lower }} {{ 'hi'|upper }} {{ 'hello big-world (x)'|title }} {{ 'hELLO'|capitalize }} {{ 'a-b-c'|replace('-', '+') }} {{ 'aaa'|replace('a', 'b', 2) }}", {}),
 ("filters", "{{ users|selectattr('active')|map(attribute='name')|list }} {{ users|rejectattr('active')|map(attribute='name')|join(',') }} {{ users|selectattr('role', 'equalto', 'admin')|list|length }} {{ [1, 2, 3, 4]|select('even')|list }} {{ [0, 1, '']|reject|list }} {{ [1, 2]|map('string')|list }}", {"users": [{"name": "a", "active": True, "role": "admin"}, {"name": "b", "active": False, "role": "user"}]}),
 ("filters", "{{ {'b': 1, 'A': 2}|dictsort }} {{ {'x': 1}|items|list }} {{ [1, 2, 1, 3]|unique|list }} {{ [1, 2]|reverse|list }} {{ 'abc'|reverse }} {{ ['b', 'A', 'c']|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ users|sort(attribute='age')|map(attribute='n')|join }}", {"users": [{"n": "x", "age": 30}, {"n": "y", "age": 20}]}),
 ("filters", "{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, true) }}|{{ 2.5|round }} {{ 2.675|round(2) }} {{ 3.14159|round(2, 'floor') }} {{ -3|abs }} {{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }} {{ [1, 2, 3]|sum }} {{ 'one two  three'|wordcount }} [{{ 'ab'|center(6) }}] {{ 'hello world foo bar'|truncate(9, leeway=0) }} {{ '%s is %d'|format('x', 3) }} {{ x|safe }}", {"x": "<b>"}),
 ("filters", "{{ '0x1A'|int(0, 16) }} {{ '0b101'|int(0, 0) }} {{ '-7'|int }} {{ [{'x': {'y': 1}}]|map(attribute='x.y')|list }} {{ [{}]|map(attribute='z', default='dz')|list }}", {}),
 ("tojson", "{{ d|tojson }} {{ d|tojson(indent=2) }} {{ d|tojson(sort_keys=true) }} {{ d|tojson(separators=(',', ':')) }} {{ 'ü\"\\\\\n'|tojson }} {{ [] |tojson(indent=2) }} {{ 1.0|tojson }} {{ none|tojson }}", {"d": {"b": [1, 2.5, None, True], "a": "é", "c": {}}}),
 # tests
 ("tests", "{{ none is none }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ [] is sequence }} {{ 1 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ false is boolean }} {{ true is true }} {{ 1 is true }} {{ 0 is false }}", {}),
 ("tests", "{{ 1 is eq 1 }} {{ 1 is equalto 2 }} {{ 2 is ne 3 }} {{ 1 is lt 2 }} {{ 3 is gt 2 }} {{ 2 is le 2 }} {{ 2 is ge 3 }} {{ 1 is in [1] }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ none is sameas none }} {{ range is callable }} {{ x is not defined }}", {}),
 ("tests", "{{ 'a' is sameas 'a' }} {{ 1 is sameas 1 }} {{ [] is sameas [] }} {{ 'abc' is in 'xabcx' }}", {}),
 # python methods
 ("methods", "{{ 'a b  c'.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ '  x  '.strip() }}|{{ 'xyx'.strip('x') }} {{ '\n\nx\n'.lstrip('\n') }}|{{ 'x  '.rstrip() }}| {{ 'hello'.startswith('he') }} {{ 'hello'.endswith(('x', 'lo')) }}", {}),
 ("methods", "{{ 'Hi'.upper() }} {{ 'Hi'.lower() }} {{ \"they're 1st\".title() }} {{ 'hELLO'.capitalize() }} {{ 'aXbX'.replace('X', '-') }} {{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'hello'.index('e') }} {{ 'hello'.count('l') }} {{ '-'.join(['a', 'b']) }} {{ '{} and {}'.format('x', 'y') }} {{ '{0}{name}'.format('a', name='b') }} {{ '123'.isdigit() }} {{ ' '.isspace() }} {{ 'ab'.isalpha() }}", {}),
 ("methods", "{{ d.items()|list }} {{ d.keys()|list }} {{ d.values()|list }} {{ l.index(2) }} {{ l.count(1) }}", {"d": {"a": 1, "b": 2}, "l": [1, 2, 1]}),
 # generation block and literals
 ("misc", "{% generation %}kept {{ 1 }}{% endgeneration %} {{ 'con' 'cat' }} {{ 1_000 }} {{ [1, 2,] }} {{ {'a': 1,}['a'] }} {{ dict(a=1) }} {{ \"\\u00e9\\t|\" }}", {}),
]

cases = []
for g, t, v in C:
    cases.append({"group": g, "template": t, "vars": v, "expected": env.from_string(t).render(**v)})
def jstr(s):
    out = '"'
    for ch in s:
        o = ord(ch)
        if ch == '"': out += '\\"'
        elif ch == '\\': out += '\\\\'
        elif ch == '\n': out += '\\n'
        elif ch == '\r': out += '\\r'
        elif ch == '\t': out += '\\t'
        elif o < 0x20 or o > 0x7e:
            if o > 0xffff:
                hi = 0xd800 + ((o - 0x10000) >> 10); lo = 0xdc00 + ((o - 0x10000) & 0x3ff)
                out += '\\u%04x\\u%04x' % (hi, lo)
            else:
                out += '\\u%04x' % o
        else: out += ch
    return out + '"'
groups = {}
for c in cases:
    groups.setdefault(c['group'], []).append(c)
desc = {
 "whitespace": "whitespace control: '-' on either side, trim_blocks, lstrip_blocks, '+' opt-outs, comments, raw, the dropped trailing newline, \\r\\n",
 "str": "{{ }} prints Python's str(): True/None, float repr, list/dict/tuple repr with quoting",
 "arith": "arithmetic with Python semantics: // and % floor, ** , int/float promotion, str and list repetition",
 "logic": "chained comparisons, in / not in, == across int/float/bool, and/or returning operands, inline if",
 "lookup": "attribute vs item lookup, negative indices, slices with steps on lists and strings (by code point)",
 "undefined": "Undefined prints empty, is falsy, iterates empty, has length 0 and takes defaults",
 "for": "for loops: loop.* variables, tuple unpacking, filtering, else, break/continue, range, per-iteration scope",
 "set": "set with tuple targets, namespace attributes across loop iterations, block set with filters, if shares scope",
 "macro": "macros with defaults and keyword arguments, call blocks with caller(), filter blocks",
 "filters": "built-in filters with jinja2's arguments and defaults",
 "tojson": "tojson is transformers' json.dumps(ensure_ascii=False) with indent, sort_keys and separators",
 "tests": "built-in tests",
 "methods": "Python str, dict and list methods",
 "misc": "generation blocks render their body; string literal concatenation, numeric underscores, trailing commas, dict(), escapes",
}
lines = []
for g, cs in groups.items():
    m = g.replace('whitespace', 'whitespace_control')
    lines.append(f"    /** {desc[g]}. */")
    lines.append(f"    static Stream<Arguments> {m}() {{")
    lines.append("        return Stream.of(")
    rows = []
    for c in cs:
        rows.append(f"                row({jstr(c['template'])},\n                        {jstr(json.dumps(c['vars'], ensure_ascii=False))},\n                        {jstr(c['expected'])})")
    lines.append(",\n".join(rows) + ");")
    lines.append("    }")
    lines.append("")
    lines.append(f"    @ParameterizedTest(name = \"{{0}}\")")
    lines.append(f"    @MethodSource")
    lines.append(f"    void {m}(String template, String vars, String expected) throws Exception {{")
    lines.append(f"        assertRendersLikeJinja2(template, vars, expected);")
    lines.append("    }")
    lines.append("")
print("\n".join(lines))
