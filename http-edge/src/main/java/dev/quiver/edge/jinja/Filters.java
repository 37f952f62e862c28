package dev.quiver.edge.jinja;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * jinja2's built-in filters with jinja2's argument names and defaults, plus transformers' {@code tojson}
 * ({@code json.dumps} with {@code ensure_ascii=False}; see {@link JsonDumps}). Filters that return generators in
 * jinja2 ({@code select}, {@code map}, {@code reverse}, {@code items}, ...) return a {@link PyGenerator}.
 */
final class Filters {
    private static final Set<String> NAMES = Set.of("trim", "length", "count", "first", "last", "join", "tojson",
            "string", "int", "float", "lower", "upper", "title", "capitalize", "replace", "default", "d", "selectattr",
            "rejectattr", "select", "reject", "map", "list", "items", "dictsort", "unique", "reverse", "sort", "safe",
            "indent", "round", "abs", "min", "max", "sum", "wordcount", "center", "truncate", "format", "attr",
            "escape", "e", "forceescape", "batch", "striptags");
    private static final Pattern WORD_BEGINNING = Pattern.compile("([-\\s({\\[<]+)");
    private static final Pattern WORD = Pattern.compile("\\w+", Pattern.UNICODE_CHARACTER_CLASS);

    private Filters() {
    }

    static boolean exists(String name) {
        return NAMES.contains(name);
    }

    /** Positional argument {@code i}, else keyword {@code name}, else {@code dflt}. */
    private static Object opt(List<Object> a, Map<String, Object> k, int i, String name, Object dflt) {
        if (i < a.size()) {
            return a.get(i);
        }
        return k.containsKey(name) ? k.get(name) : dflt;
    }

    private static boolean flag(List<Object> a, Map<String, Object> k, int i, String name) {
        return PyValues.truthy(opt(a, k, i, name, false));
    }

    static Object apply(String name, Object v, List<Object> a, Map<String, Object> k, Interpreter interp) {
        switch (name) {
            case "trim":
                return PyMethods.strip(PyValues.str(v), (String) opt(a, k, 0, "chars", null), true, true);
            case "length", "count":
                return (long) PyValues.len(v);
            case "first": {
                List<Object> items = PyValues.iterate(v);
                return items.isEmpty() ? new Undefined("No first item, sequence was empty.") : items.get(0);
            }
            case "last": {
                List<Object> items = PyValues.iterate(v);
                return items.isEmpty() ? new Undefined("No last item, sequence was empty.")
                        : items.get(items.size() - 1);
            }
            case "join": {
                String sep = PyValues.str(opt(a, k, 0, "d", ""));
                Object attribute = opt(a, k, 1, "attribute", null);
                StringBuilder sb = new StringBuilder();
                List<Object> items = PyValues.iterate(v);
                for (int i = 0; i < items.size(); i++) {
                    Object item = attribute == null ? items.get(i) : attrPath(items.get(i), attribute);
                    sb.append(i > 0 ? sep : "").append(PyValues.str(item));
                }
                return sb.toString();
            }
            case "tojson":
                return new JsonDumps(flag(a, k, 0, "ensure_ascii"), opt(a, k, 1, "indent", null),
                        opt(a, k, 2, "separators", null), flag(a, k, 3, "sort_keys")).dumps(v);
            case "string", "safe":
                return PyValues.str(v);
            case "int":
                return toInt(v, opt(a, k, 0, "default", 0L), opt(a, k, 1, "base", 10L));
            case "float":
                return toFloat(v, opt(a, k, 0, "default", 0.0));
            case "lower":
                return PyValues.str(v).toLowerCase(Locale.ROOT);
            case "upper":
                return PyValues.str(v).toUpperCase(Locale.ROOT);
            case "title":
                return jinjaTitle(PyValues.str(v));
            case "capitalize":
                return PyMethods.capitalize(PyValues.str(v));
            case "replace": {
                Object count = opt(a, k, 2, "count", null);
                return PyMethods.replace(PyValues.str(v), PyValues.str(opt(a, k, 0, "old", "")),
                        PyValues.str(opt(a, k, 1, "new", "")), count == null ? -1 : PyValues.asLong(count));
            }
            case "default", "d": {
                Object dflt = opt(a, k, 0, "default_value", "");
                boolean bool = flag(a, k, 1, "boolean");
                return v instanceof Undefined || bool && !PyValues.truthy(v) ? dflt : v;
            }
            case "selectattr", "rejectattr": {
                boolean select = name.equals("selectattr");
                if (a.isEmpty()) {
                    throw new TemplateException(name + " needs an attribute name");
                }
                Object attribute = a.get(0);
                List<Object> out = new ArrayList<>();
                for (Object item : PyValues.iterate(v)) {
                    Object value = attrPath(item, attribute);
                    boolean ok = a.size() < 2 ? PyValues.truthy(value)
                            : interp.callTest(PyValues.str(a.get(1)), value, a.subList(2, a.size()));
                    if (ok == select) {
                        out.add(item);
                    }
                }
                return new PyGenerator(out, "select_or_reject");
            }
            case "select", "reject": {
                boolean select = name.equals("select");
                List<Object> out = new ArrayList<>();
                for (Object item : PyValues.iterate(v)) {
                    boolean ok = a.isEmpty() ? PyValues.truthy(item)
                            : interp.callTest(PyValues.str(a.get(0)), item, a.subList(1, a.size()));
                    if (ok == select) {
                        out.add(item);
                    }
                }
                return new PyGenerator(out, "select_or_reject");
            }
            case "map": {
                List<Object> out = new ArrayList<>();
                if (k.containsKey("attribute")) {
                    Object dflt = k.get("default");
                    for (Object item : PyValues.iterate(v)) {
                        Object value = attrPath(item, k.get("attribute"));
                        out.add(value instanceof Undefined && k.containsKey("default") ? dflt : value);
                    }
                } else {
                    if (a.isEmpty()) {
                        throw new TemplateException("map needs a filter name or attribute=");
                    }
                    String filter = PyValues.str(a.get(0));
                    for (Object item : PyValues.iterate(v)) {
                        out.add(interp.callFilter(filter, item, a.subList(1, a.size()), k));
                    }
                }
                return new PyGenerator(out, "sync_do_map");
            }
            case "list":
                return PyValues.iterate(v);
            case "items": {
                if (v instanceof Undefined) {
                    return new PyGenerator(List.of(), "do_items");
                }
                if (!(v instanceof Map<?, ?> m)) {
                    throw new TemplateException("Can only get item pairs from a mapping.");
                }
                List<Object> out = new ArrayList<>();
                m.forEach((key, val) -> out.add(PyTuple.of(key, val)));
                return new PyGenerator(out, "do_items");
            }
            case "dictsort": {
                if (!(v instanceof Map<?, ?> m)) {
                    throw new TemplateException("dictsort: value must be a dict");
                }
                boolean cs = flag(a, k, 0, "case_sensitive");
                String by = PyValues.str(opt(a, k, 1, "by", "key"));
                boolean reverse = flag(a, k, 2, "reverse");
                int pos = by.equals("key") ? 0 : 1;
                List<Object> out = new ArrayList<>();
                m.forEach((key, val) -> out.add(PyTuple.of(key, val)));
                Comparator<Object> cmp = (x, y) -> PyValues.compare(fold(((List<?>) x).get(pos), cs),
                        fold(((List<?>) y).get(pos), cs), "<");
                out.sort(reverse ? cmp.reversed() : cmp);
                return out;
            }
            case "unique": {
                boolean cs = flag(a, k, 0, "case_sensitive");
                Object attribute = opt(a, k, 1, "attribute", null);
                List<Object> seen = new ArrayList<>();
                List<Object> out = new ArrayList<>();
                for (Object item : PyValues.iterate(v)) {
                    Object key = fold(attribute == null ? item : attrPath(item, attribute), cs);
                    if (seen.stream().noneMatch(s -> PyValues.eq(s, key))) {
                        seen.add(key);
                        out.add(item);
                    }
                }
                return new PyGenerator(out, "do_unique");
            }
            case "reverse": {
                if (v instanceof String s) {
                    return new StringBuilder(s).reverse().toString();
                }
                List<Object> items = PyValues.iterate(v);
                Collections.reverse(items);
                return new PyGenerator(items, "reversed");
            }
            case "sort": {
                boolean reverse = flag(a, k, 0, "reverse");
                boolean cs = flag(a, k, 1, "case_sensitive");
                Object attribute = opt(a, k, 2, "attribute", null);
                List<Object> items = PyValues.iterate(v);
                Comparator<Object> cmp = (x, y) -> PyValues.compare(
                        fold(attribute == null ? x : attrPath(x, attribute), cs),
                        fold(attribute == null ? y : attrPath(y, attribute), cs), "<");
                items.sort(reverse ? cmp.reversed() : cmp);
                return items;
            }
            case "indent":
                return indent(PyValues.str(v), opt(a, k, 0, "width", 4L), flag(a, k, 1, "first"),
                        flag(a, k, 2, "blank"));
            case "round":
                return round(v, PyValues.asLong(opt(a, k, 0, "precision", 0L)),
                        PyValues.str(opt(a, k, 1, "method", "common")));
            case "abs":
                if (v instanceof Double d) {
                    return Math.abs(d);
                }
                if (PyValues.isInt(v)) {
                    return Math.abs(PyValues.asLong(v));
                }
                throw new TemplateException("bad operand type for abs(): '" + PyValues.typeName(v) + "'");
            case "min", "max": {
                boolean cs = flag(a, k, 0, "case_sensitive");
                Object attribute = opt(a, k, 1, "attribute", null);
                List<Object> items = PyValues.iterate(v);
                if (items.isEmpty()) {
                    return new Undefined("No aggregated item, sequence was empty.");
                }
                Object best = items.get(0);
                for (Object item : items.subList(1, items.size())) {
                    int c = PyValues.compare(fold(attribute == null ? item : attrPath(item, attribute), cs),
                            fold(attribute == null ? best : attrPath(best, attribute), cs), "<");
                    if (name.equals("min") ? c < 0 : c > 0) {
                        best = item;
                    }
                }
                return best;
            }
            case "sum": {
                Object attribute = opt(a, k, 0, "attribute", null);
                Object total = opt(a, k, 1, "start", 0L);
                for (Object item : PyValues.iterate(v)) {
                    total = PyValues.binary("+", total, attribute == null ? item : attrPath(item, attribute));
                }
                return total;
            }
            case "wordcount": {
                Matcher m = WORD.matcher(PyValues.str(v));
                long n = 0;
                while (m.find()) {
                    n++;
                }
                return n;
            }
            case "center":
                return PyMethods.center(PyValues.str(v), (int) PyValues.asLong(opt(a, k, 0, "width", 80L)));
            case "truncate":
                return truncate(PyValues.str(v), (int) PyValues.asLong(opt(a, k, 0, "length", 255L)),
                        flag(a, k, 1, "killwords"), PyValues.str(opt(a, k, 2, "end", "...")),
                        opt(a, k, 3, "leeway", null));
            case "format":
                if (!a.isEmpty() && !k.isEmpty()) {
                    throw new TemplateException("can't handle positional and keyword arguments at the same time");
                }
                return k.isEmpty() ? Formats.percent(PyValues.str(v), a, a.size() == 1 ? a.get(0) : null)
                        : Formats.percent(PyValues.str(v), List.of(), new LinkedHashMap<>(k));
            case "attr":
                return Lookup.attr(v, PyValues.str(opt(a, k, 0, "name", "")));
            case "escape", "e", "forceescape":
                return PyValues.str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                        .replace("'", "&#39;").replace("\"", "&#34;");
            case "striptags":
                return String.join(" ", PyMethods.split(PyValues.str(v).replaceAll("(?s)<!--.*?-->|<[^>]*>", ""),
                        null, -1, false).stream().map(Object::toString).toList());
            case "batch": {
                long size = PyValues.asLong(opt(a, k, 0, "linecount", 1L));
                Object fill = opt(a, k, 1, "fill_with", null);
                boolean hasFill = a.size() > 1 || k.containsKey("fill_with");
                List<Object> out = new ArrayList<>();
                List<Object> cur = new ArrayList<>();
                for (Object item : PyValues.iterate(v)) {
                    cur.add(item);
                    if (cur.size() == size) {
                        out.add(cur);
                        cur = new ArrayList<>();
                    }
                }
                if (!cur.isEmpty()) {
                    while (hasFill && cur.size() < size) {
                        cur.add(fill);
                    }
                    out.add(cur);
                }
                return new PyGenerator(out, "do_batch");
            }
            default:
                throw new TemplateException("no filter named '" + name + "'");
        }
    }

    /** jinja2's attribute getter: "a.b.0" walks items/attributes; an int attribute is an index. */
    private static Object attrPath(Object item, Object attribute) {
        if (PyValues.isInt(attribute)) {
            return Lookup.item(item, attribute);
        }
        Object cur = item;
        for (String part : PyValues.str(attribute).split("\\.")) {
            Object key = part.chars().allMatch(Character::isDigit) && !part.isEmpty() ? (Object) Long.parseLong(part)
                    : part;
            cur = Lookup.item(cur, key);
        }
        return cur;
    }

    private static Object fold(Object v, boolean caseSensitive) {
        return !caseSensitive && v instanceof String s ? s.toLowerCase(Locale.ROOT) : v;
    }

    private static Object toInt(Object v, Object dflt, Object base) {
        if (v instanceof Long) {
            return v;
        }
        if (v instanceof Boolean b) {
            return b ? 1L : 0L;
        }
        if (v instanceof Double d) {
            return Double.isFinite(d) ? (Object) (long) d.doubleValue() : dflt;
        }
        if (v instanceof String s) {
            String t = PyMethods.strip(s, null, true, true).replace("_", "");
            try {
                return parseIntWithBase(t, (int) PyValues.asLong(base));
            } catch (NumberFormatException e) {
                try {
                    return (long) Double.parseDouble(t);
                } catch (NumberFormatException e2) {
                    return dflt;
                }
            }
        }
        return dflt;
    }

    /** Python's {@code int(text, base)}: sign, and a 0x/0o/0b prefix matching the base (or any, for base 0). */
    private static long parseIntWithBase(String text, int base) {
        boolean negative = text.startsWith("-");
        String t = text.startsWith("-") || text.startsWith("+") ? text.substring(1) : text;
        String lower = t.toLowerCase(Locale.ROOT);
        int b = base;
        for (Map.Entry<String, Integer> prefix : Map.of("0x", 16, "0o", 8, "0b", 2).entrySet()) {
            if (lower.startsWith(prefix.getKey()) && (base == 0 || base == prefix.getValue())) {
                t = t.substring(2);
                b = prefix.getValue();
            }
        }
        if (b == 0) {
            b = 10;
        }
        long v = Long.parseLong(t, b);
        return negative ? -v : v;
    }

    private static Object toFloat(Object v, Object dflt) {
        if (PyValues.isNumber(v)) {
            return PyValues.asDouble(v);
        }
        if (v instanceof String s) {
            try {
                String t = PyMethods.strip(s, null, true, true).toLowerCase(Locale.ROOT);
                return switch (t) {
                    case "inf", "+inf", "infinity" -> Double.POSITIVE_INFINITY;
                    case "-inf", "-infinity" -> Double.NEGATIVE_INFINITY;
                    case "nan" -> Double.NaN;
                    default -> Double.parseDouble(t);
                };
            } catch (NumberFormatException e) {
                return dflt;
            }
        }
        return dflt;
    }

    /** jinja2's title filter: upper-cases the first letter after start, whitespace, "-", "(", "{", "[" or "<". */
    private static String jinjaTitle(String s) {
        StringBuilder sb = new StringBuilder();
        Matcher m = WORD_BEGINNING.matcher(s);
        int last = 0;
        List<String> parts = new ArrayList<>();
        while (m.find()) {
            parts.add(s.substring(last, m.start()));
            parts.add(m.group());
            last = m.end();
        }
        parts.add(s.substring(last));
        for (String p : parts) {
            if (!p.isEmpty()) {
                int cp = p.codePointAt(0);
                sb.appendCodePoint(Character.toUpperCase(cp))
                        .append(p.substring(Character.charCount(cp)).toLowerCase(Locale.ROOT));
            }
        }
        return sb.toString();
    }

    private static String indent(String s, Object width, boolean first, boolean blank) {
        String ind = width instanceof String w ? w : " ".repeat((int) PyValues.asLong(width));
        List<Object> lines = PyMethods.bind(s + "\n", "splitlines").call(List.of(), Map.of()) instanceof List<?> l
                ? new ArrayList<>(l) : List.of();
        String rv;
        if (blank) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < lines.size(); i++) {
                sb.append(i > 0 ? "\n" + ind : "").append(lines.get(i));
            }
            rv = sb.toString();
        } else {
            StringBuilder sb = new StringBuilder(lines.isEmpty() ? "" : (String) lines.get(0));
            for (int i = 1; i < lines.size(); i++) {
                String line = (String) lines.get(i);
                sb.append('\n').append(line.isEmpty() ? line : ind + line);
            }
            rv = sb.toString();
        }
        return first ? ind + rv : rv;
    }

    private static Object round(Object v, long precision, String method) {
        if (!PyValues.isNumber(v)) {
            throw new TemplateException("round: a number is required, not " + PyValues.typeName(v));
        }
        switch (method) {
            case "common" -> {
                if (PyValues.isInt(v)) {
                    return PyValues.asLong(v);
                }
                double d = PyValues.asDouble(v);
                if (!Double.isFinite(d)) {
                    return d;
                }
                return new BigDecimal(d).setScale((int) precision, RoundingMode.HALF_EVEN).doubleValue();
            }
            case "ceil", "floor" -> {
                double scale = Math.pow(10, precision);
                double x = PyValues.asDouble(v) * scale;
                return (method.equals("ceil") ? Math.ceil(x) : Math.floor(x)) / scale;
            }
            default -> throw new TemplateException("method must be common, ceil or floor");
        }
    }

    private static String truncate(String s, int length, boolean killwords, String end, Object leeway) {
        int lw = leeway == null ? 5 : (int) PyValues.asLong(leeway);
        if (length < end.length()) {
            throw new TemplateException("expected length >= " + end.length() + ", got " + length);
        }
        if (PyValues.len(s) <= length + lw) {
            return s;
        }
        String head = (String) PyValues.slice(s, null, (long) (length - end.length()), null);
        if (killwords) {
            return head + end;
        }
        int sp = head.lastIndexOf(' ');
        return (sp >= 0 ? head.substring(0, sp) : head) + end;
    }
}
