package dev.quiver.edge.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps}, as transformers' {@code tojson} filter calls it: {@code ensure_ascii} (default
 * false there), {@code indent} (int or string; any non-null indent switches the item separator to ","),
 * {@code separators} and {@code sort_keys}. Floats print as Python's repr; NaN and infinities as
 * {@code NaN}/{@code Infinity}, as Python does.
 */
final class JsonDumps {
    private final boolean ensureAscii;
    private final String indent;
    private final String itemSep;
    private final String keySep;
    private final boolean sortKeys;

    JsonDumps(boolean ensureAscii, Object indent, Object separators, boolean sortKeys) {
        this.ensureAscii = ensureAscii;
        if (indent == null) {
            this.indent = null;
        } else if (indent instanceof String s) {
            this.indent = s;
        } else if (PyValues.isInt(indent)) {
            this.indent = " ".repeat((int) Math.max(0, PyValues.asLong(indent)));
        } else {
            throw new TemplateException("tojson: indent must be an int or a string, not " + PyValues.typeName(indent));
        }
        if (separators != null) {
            List<Object> seps = PyValues.iterate(separators);
            if (seps.size() != 2 || !(seps.get(0) instanceof String) || !(seps.get(1) instanceof String)) {
                throw new TemplateException("tojson: separators must be a pair of strings");
            }
            this.itemSep = (String) seps.get(0);
            this.keySep = (String) seps.get(1);
        } else {
            this.itemSep = this.indent == null ? ", " : ",";
            this.keySep = ": ";
        }
        this.sortKeys = sortKeys;
    }

    String dumps(Object v) {
        StringBuilder sb = new StringBuilder();
        write(v, sb, 0);
        return sb.toString();
    }

    private void write(Object v, StringBuilder sb, int level) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Boolean b) {
            sb.append(b ? "true" : "false");
        } else if (v instanceof Long || v instanceof java.math.BigInteger) {
            sb.append(v);
        } else if (v instanceof Double d) {
            sb.append(number(d));
        } else if (v instanceof String s) {
            string(s, sb);
        } else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                sb.append(i == 0 ? "" : itemSep);
                newline(sb, level + 1);
                write(l.get(i), sb, level + 1);
            }
            newline(sb, level);
            sb.append(']');
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                sb.append("{}");
                return;
            }
            List<Map.Entry<String, Object>> entries = new ArrayList<>();
            m.forEach((k, val) -> entries.add(Map.entry(key(k), val == null ? NULL : val)));
            if (sortKeys) {
                entries.sort(Map.Entry.comparingByKey());
            }
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : entries) {
                sb.append(first ? "" : itemSep);
                first = false;
                newline(sb, level + 1);
                string(e.getKey(), sb);
                sb.append(keySep);
                write(e.getValue() == NULL ? null : e.getValue(), sb, level + 1);
            }
            newline(sb, level);
            sb.append('}');
        } else {
            throw new TemplateException("Object of type " + PyValues.typeName(v) + " is not JSON serializable");
        }
    }

    private static final Object NULL = new Object();

    private void newline(StringBuilder sb, int level) {
        if (indent != null) {
            sb.append('\n').append(indent.repeat(level));
        }
    }

    private static String key(Object k) {
        if (k instanceof String s) {
            return s;
        }
        if (k == null) {
            return "null";
        }
        if (k instanceof Boolean b) {
            return b ? "true" : "false";
        }
        if (k instanceof Long || k instanceof Double) {
            return k instanceof Double d ? number(d) : k.toString();
        }
        throw new TemplateException("keys must be str, int, float, bool or None, not " + PyValues.typeName(k));
    }

    private static String number(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        return PyValues.floatRepr(d);
    }

    private void string(String s, StringBuilder sb) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || ensureAscii && c > 0x7e) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
