package dev.quiver.edge.jinja;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Python value semantics for template values, so that output matches jinja2 byte for byte.
 *
 * <p>Representation: None is {@code null}, bool {@link Boolean}, int {@link Long}, float {@link Double}, str
 * {@link String}, list {@link List}, tuple {@link PyTuple}, dict {@link Map} (insertion ordered), plus
 * {@link Undefined}, {@link Namespace}, {@link PyGenerator} and callables ({@link JinjaFunction}). Input from JSON
 * is brought into this shape by {@link #fromJava}. Strings are indexed, sliced, measured and iterated by code point,
 * as Python does.
 */
final class PyValues {
    private PyValues() {
    }

    // ---- conversion -----------------------------------------------------------------------

    /** Deep copy of Java/JSON data into template values (ints become Long, floats Double, maps ordered). */
    static Object fromJava(Object v) {
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Long || v instanceof Double
                || v instanceof BigInteger
                || v instanceof Undefined || v instanceof JinjaFunction || v instanceof Namespace
                || v instanceof PyTuple) {
            return v;
        }
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) {
            return ((Number) v).longValue();
        }
        if (v instanceof BigInteger b) {
            return b.bitLength() < 64 ? (Object) b.longValue() : b;
        }
        if (v instanceof Float || v instanceof BigDecimal) {
            return ((Number) v).doubleValue();
        }
        if (v instanceof Map<?, ?> m) {
            Map<Object, Object> out = new LinkedHashMap<>();
            m.forEach((k, val) -> out.put(fromJava(k), fromJava(val)));
            return out;
        }
        if (v instanceof Iterable<?> it) {
            List<Object> out = new ArrayList<>();
            it.forEach(x -> out.add(fromJava(x)));
            return out;
        }
        if (v instanceof CharSequence cs) {
            return cs.toString();
        }
        throw new TemplateException("a template variable has an unsupported type " + v.getClass().getName());
    }

    static Long parseInt(String digits) {
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw new TemplateException("integer literal too large: " + digits);
        }
    }

    // ---- type names and truthiness ---------------------------------------------------------

    static String typeName(Object v) {
        if (v == null) {
            return "NoneType";
        }
        if (v instanceof Boolean) {
            return "bool";
        }
        if (v instanceof Long || v instanceof BigInteger) {
            return "int";
        }
        if (v instanceof Double) {
            return "float";
        }
        if (v instanceof String) {
            return "str";
        }
        if (v instanceof PyTuple) {
            return "tuple";
        }
        if (v instanceof List) {
            return "list";
        }
        if (v instanceof Map) {
            return "dict";
        }
        if (v instanceof Undefined) {
            return "Undefined";
        }
        if (v instanceof Namespace) {
            return "Namespace";
        }
        if (v instanceof PyGenerator) {
            return "generator";
        }
        if (v instanceof JinjaFunction) {
            return "function";
        }
        return v.getClass().getSimpleName();
    }

    static boolean truthy(Object v) {
        if (v == null || v instanceof Undefined) {
            return false;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        if (v instanceof Long l) {
            return l != 0;
        }
        if (v instanceof Double d) {
            return d != 0.0;
        }
        if (v instanceof BigInteger b) {
            return b.signum() != 0;
        }
        if (v instanceof String s) {
            return !s.isEmpty();
        }
        if (v instanceof List<?> l) {
            return !l.isEmpty();
        }
        if (v instanceof Map<?, ?> m) {
            return !m.isEmpty();
        }
        return true;
    }

    static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean;
    }

    static boolean isInt(Object v) {
        return v instanceof Long || v instanceof Boolean;
    }

    /** int value of a Python int or bool. */
    static long asLong(Object v) {
        if (v instanceof Boolean b) {
            return b ? 1 : 0;
        }
        return (Long) v;
    }

    static double asDouble(Object v) {
        if (v instanceof Double d) {
            return d;
        }
        return asLong(v);
    }

    // ---- str() and repr() -------------------------------------------------------------------

    /** Python's {@code str(v)}, as {@code {{ v }}} prints it. */
    static String str(Object v) {
        if (v instanceof String s) {
            return s;
        }
        if (v instanceof Undefined) {
            return "";
        }
        return repr(v);
    }

    /** Python's {@code repr(v)}, as used inside printed lists and dicts. */
    static String repr(Object v) {
        if (v == null) {
            return "None";
        }
        if (v instanceof Boolean b) {
            return b ? "True" : "False";
        }
        if (v instanceof Long || v instanceof BigInteger) {
            return v.toString();
        }
        if (v instanceof Double d) {
            return floatRepr(d);
        }
        if (v instanceof String s) {
            return stringRepr(s);
        }
        if (v instanceof Undefined) {
            return "";
        }
        if (v instanceof PyTuple t) {
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < t.size(); i++) {
                sb.append(i > 0 ? ", " : "").append(repr(t.get(i)));
            }
            return sb.append(t.size() == 1 ? ",)" : ")").toString();
        }
        if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < l.size(); i++) {
                sb.append(i > 0 ? ", " : "").append(repr(l.get(i)));
            }
            return sb.append(']').toString();
        }
        if (v instanceof Map<?, ?> m) {
            StringBuilder sb = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                sb.append(first ? "" : ", ").append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
                first = false;
            }
            return sb.append('}').toString();
        }
        return v.toString();
    }

    /** Python's float repr: shortest round-tripping digits; fixed notation for 1e-4 <= |d| < 1e16. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        }
        if (d == 0) {
            return 1 / d < 0 ? "-0.0" : "0.0";
        }
        BigDecimal exact = new BigDecimal(d);
        BigDecimal shortest = exact;
        for (int p = 1; p <= 17; p++) {
            BigDecimal r = exact.round(new MathContext(p, RoundingMode.HALF_EVEN));
            if (r.doubleValue() == d) {
                shortest = r;
                break;
            }
        }
        shortest = shortest.stripTrailingZeros();
        String digits = shortest.unscaledValue().abs().toString();
        int exp10 = digits.length() - 1 - shortest.scale();
        String sign = d < 0 ? "-" : "";
        if (exp10 >= -5 + 1 && exp10 < 16) {
            if (exp10 >= 0) {
                String intPart = digits.length() > exp10 + 1 ? digits.substring(0, exp10 + 1)
                        : digits + "0".repeat(exp10 + 1 - digits.length());
                String frac = digits.length() > exp10 + 1 ? digits.substring(exp10 + 1) : "0";
                return sign + intPart + "." + frac;
            }
            return sign + "0." + "0".repeat(-exp10 - 1) + digits;
        }
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        String exp = String.format("%02d", Math.abs(exp10));
        return sign + mantissa + "e" + (exp10 < 0 ? "-" : "+") + exp;
    }

    static String stringRepr(String s) {
        char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder sb = new StringBuilder().append(quote);
        s.codePoints().forEach(cp -> {
            if (cp == quote || cp == '\\') {
                sb.append('\\').appendCodePoint(cp);
            } else if (cp == '\n') {
                sb.append("\\n");
            } else if (cp == '\r') {
                sb.append("\\r");
            } else if (cp == '\t') {
                sb.append("\\t");
            } else if (cp < 0x20 || cp == 0x7f) {
                sb.append(String.format("\\x%02x", cp));
            } else if (cp < 0x7f || isPrintable(cp)) {
                sb.appendCodePoint(cp);
            } else if (cp <= 0xff) {
                sb.append(String.format("\\x%02x", cp));
            } else if (cp <= 0xffff) {
                sb.append(String.format("\\u%04x", cp));
            } else {
                sb.append(String.format("\\U%08x", cp));
            }
        });
        return sb.append(quote).toString();
    }

    /** Python's str.isprintable for one code point (space is the only printable separator). */
    static boolean isPrintable(int cp) {
        if (cp == ' ') {
            return true;
        }
        int t = Character.getType(cp);
        return !(t == Character.CONTROL || t == Character.FORMAT || t == Character.SURROGATE
                || t == Character.PRIVATE_USE || t == Character.UNASSIGNED || t == Character.LINE_SEPARATOR
                || t == Character.PARAGRAPH_SEPARATOR || t == Character.SPACE_SEPARATOR);
    }

    // ---- equality and ordering --------------------------------------------------------------

    static boolean eq(Object a, Object b) {
        if (a == b) {
            return true;
        }
        if (a == null || b == null) {
            return false;
        }
        if (a instanceof Undefined || b instanceof Undefined) {
            return a instanceof Undefined && b instanceof Undefined;
        }
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) {
                return asDouble(a) == asDouble(b);
            }
            return asLong(a) == asLong(b);
        }
        if (a instanceof String || b instanceof String) {
            return a.equals(b);
        }
        if (a instanceof List<?> la && b instanceof List<?> lb) {
            if (a instanceof PyTuple != b instanceof PyTuple || la.size() != lb.size()) {
                return false;
            }
            for (int i = 0; i < la.size(); i++) {
                if (!eq(la.get(i), lb.get(i))) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof Map<?, ?> ma && b instanceof Map<?, ?> mb) {
            if (ma.size() != mb.size()) {
                return false;
            }
            for (Map.Entry<?, ?> e : ma.entrySet()) {
                if (!mb.containsKey(e.getKey()) || !eq(e.getValue(), mb.get(e.getKey()))) {
                    return false;
                }
            }
            return true;
        }
        return a.equals(b);
    }

    /** Python ordering for {@code < <= > >=}: numbers, strings, and lists/tuples element-wise. */
    static int compare(Object a, Object b, String op) {
        if (a instanceof Undefined u) {
            throw u.fail();
        }
        if (b instanceof Undefined u) {
            throw u.fail();
        }
        if (isNumber(a) && isNumber(b)) {
            if (a instanceof Double || b instanceof Double) {
                return Double.compare(asDouble(a), asDouble(b));
            }
            return Long.compare(asLong(a), asLong(b));
        }
        if (a instanceof String sa && b instanceof String sb) {
            return Integer.signum(compareCodePoints(sa, sb));
        }
        if (a instanceof List<?> la && b instanceof List<?> lb && a instanceof PyTuple == b instanceof PyTuple) {
            for (int i = 0; i < Math.min(la.size(), lb.size()); i++) {
                if (!eq(la.get(i), lb.get(i))) {
                    return compare(la.get(i), lb.get(i), op);
                }
            }
            return Integer.compare(la.size(), lb.size());
        }
        throw new TemplateException("'" + op + "' not supported between instances of '" + typeName(a) + "' and '"
                + typeName(b) + "'");
    }

    private static int compareCodePoints(String a, String b) {
        Iterator<Integer> ia = a.codePoints().iterator();
        Iterator<Integer> ib = b.codePoints().iterator();
        while (ia.hasNext() && ib.hasNext()) {
            int c = Integer.compare(ia.next(), ib.next());
            if (c != 0) {
                return c;
            }
        }
        return Boolean.compare(ia.hasNext(), ib.hasNext());
    }

    // ---- containers -------------------------------------------------------------------------

    /** Python iteration: list items, string characters, dict keys; Undefined is empty. */
    static List<Object> iterate(Object v) {
        if (v instanceof Undefined) {
            return List.of();
        }
        if (v instanceof List<?> l) {
            return new ArrayList<>(l);
        }
        if (v instanceof PyGenerator g) {
            return g.items;
        }
        if (v instanceof Map<?, ?> m) {
            return new ArrayList<>(m.keySet());
        }
        if (v instanceof String s) {
            List<Object> out = new ArrayList<>();
            s.codePoints().forEach(cp -> out.add(new String(Character.toChars(cp))));
            return out;
        }
        throw new TemplateException("'" + typeName(v) + "' object is not iterable");
    }

    static int len(Object v) {
        if (v instanceof Undefined) {
            return 0;
        }
        if (v instanceof String s) {
            return s.codePointCount(0, s.length());
        }
        if (v instanceof List<?> l) {
            return l.size();
        }
        if (v instanceof Map<?, ?> m) {
            return m.size();
        }
        if (v instanceof Namespace) {
            throw new TemplateException("object of type 'Namespace' has no len()");
        }
        throw new TemplateException("object of type '" + typeName(v) + "' has no len()");
    }

    /** Python's {@code item in container}. */
    static boolean contains(Object container, Object item) {
        if (container instanceof String s) {
            if (!(item instanceof String sub)) {
                throw new TemplateException("'in <string>' requires string as left operand, not " + typeName(item));
            }
            return s.contains(sub);
        }
        if (container instanceof Map<?, ?> m) {
            for (Object k : m.keySet()) {
                if (eq(k, item)) {
                    return true;
                }
            }
            return false;
        }
        if (container instanceof List || container instanceof PyGenerator || container instanceof Undefined) {
            for (Object o : iterate(container)) {
                if (eq(o, item)) {
                    return true;
                }
            }
            return false;
        }
        throw new TemplateException("argument of type '" + typeName(container) + "' is not iterable");
    }

    /** Python indexing with negative indices; {@link #NOT_FOUND} when out of range. */
    static Object index(Object seq, long i) {
        if (seq instanceof String s) {
            int n = s.codePointCount(0, s.length());
            long j = i < 0 ? i + n : i;
            if (j < 0 || j >= n) {
                return NOT_FOUND;
            }
            int at = s.offsetByCodePoints(0, (int) j);
            return new String(Character.toChars(s.codePointAt(at)));
        }
        List<?> l = (List<?>) seq;
        long j = i < 0 ? i + l.size() : i;
        if (j < 0 || j >= l.size()) {
            return NOT_FOUND;
        }
        return l.get((int) j);
    }

    static final Object NOT_FOUND = new Object();

    /** Python slicing {@code seq[start:stop:step]} of a string, list or tuple; null bounds are absent. */
    static Object slice(Object seq, Object start, Object stop, Object step) {
        long st = step == null ? 1 : asLong(requireInt(step, "slice step"));
        if (st == 0) {
            throw new TemplateException("slice step cannot be zero");
        }
        List<Object> items;
        if (seq instanceof String s) {
            items = iterate(s);
        } else if (seq instanceof List<?> l) {
            items = new ArrayList<>(l);
        } else if (seq instanceof Undefined u) {
            throw u.fail();
        } else {
            throw new TemplateException("'" + typeName(seq) + "' object is not subscriptable");
        }
        int n = items.size();
        long lo;
        long hi;
        if (st > 0) {
            lo = start == null ? 0 : clampIndex(asLong(requireInt(start, "slice index")), n, 0, n);
            hi = stop == null ? n : clampIndex(asLong(requireInt(stop, "slice index")), n, 0, n);
        } else {
            lo = start == null ? n - 1 : clampIndex(asLong(requireInt(start, "slice index")), n, -1, n - 1);
            hi = stop == null ? -1 : clampIndex(asLong(requireInt(stop, "slice index")), n, -1, n - 1);
        }
        List<Object> out = new ArrayList<>();
        for (long i = lo; st > 0 ? i < hi : i > hi; i += st) {
            out.add(items.get((int) i));
        }
        if (seq instanceof String) {
            StringBuilder sb = new StringBuilder();
            out.forEach(c -> sb.append((String) c));
            return sb.toString();
        }
        return seq instanceof PyTuple ? new PyTuple(out) : out;
    }

    private static long clampIndex(long i, int n, long min, long max) {
        long j = i < 0 ? i + n : i;
        return Math.max(min, Math.min(max, j));
    }

    private static Object requireInt(Object v, String what) {
        if (v == null) {
            return null;
        }
        if (!isInt(v)) {
            throw new TemplateException(what + " must be an integer, not " + typeName(v));
        }
        return v;
    }

    // ---- arithmetic -------------------------------------------------------------------------

    static Object binary(String op, Object a, Object b) {
        if (a instanceof Undefined u) {
            throw u.fail();
        }
        if (b instanceof Undefined u) {
            throw u.fail();
        }
        switch (op) {
            case "+" -> {
                if (isNumber(a) && isNumber(b)) {
                    return a instanceof Double || b instanceof Double ? (Object) (asDouble(a) + asDouble(b))
                            : (Object) Math.addExact(asLong(a), asLong(b));
                }
                if (a instanceof String sa && b instanceof String sb) {
                    return sa + sb;
                }
                if (a instanceof List<?> la && b instanceof List<?> lb
                        && a instanceof PyTuple == b instanceof PyTuple) {
                    List<Object> out = new ArrayList<>(la);
                    out.addAll(lb);
                    return a instanceof PyTuple ? new PyTuple(out) : out;
                }
                if (a instanceof String) {
                    throw new TemplateException("can only concatenate str (not \"" + typeName(b) + "\") to str");
                }
                if (a instanceof List && !(a instanceof PyTuple)) {
                    throw new TemplateException("can only concatenate list (not \"" + typeName(b) + "\") to list");
                }
            }
            case "-" -> {
                if (isNumber(a) && isNumber(b)) {
                    return a instanceof Double || b instanceof Double ? (Object) (asDouble(a) - asDouble(b))
                            : (Object) Math.subtractExact(asLong(a), asLong(b));
                }
            }
            case "*" -> {
                if (isNumber(a) && isNumber(b)) {
                    return a instanceof Double || b instanceof Double ? (Object) (asDouble(a) * asDouble(b))
                            : (Object) Math.multiplyExact(asLong(a), asLong(b));
                }
                if (isInt(a) && (b instanceof String || b instanceof List)) {
                    return repeat(b, asLong(a));
                }
                if (isInt(b) && (a instanceof String || a instanceof List)) {
                    return repeat(a, asLong(b));
                }
            }
            case "/" -> {
                if (isNumber(a) && isNumber(b)) {
                    if (asDouble(b) == 0) {
                        throw new TemplateException("division by zero");
                    }
                    return asDouble(a) / asDouble(b);
                }
            }
            case "//" -> {
                if (isNumber(a) && isNumber(b)) {
                    if (asDouble(b) == 0) {
                        throw new TemplateException("integer division or modulo by zero");
                    }
                    if (a instanceof Double || b instanceof Double) {
                        return Math.floor(asDouble(a) / asDouble(b));
                    }
                    return Math.floorDiv(asLong(a), asLong(b));
                }
            }
            case "%" -> {
                if (a instanceof String s) {
                    return Formats.percent(s, b instanceof PyTuple t ? new ArrayList<>(t) : List.of(b), b);
                }
                if (isNumber(a) && isNumber(b)) {
                    if (asDouble(b) == 0) {
                        throw new TemplateException("integer division or modulo by zero");
                    }
                    if (a instanceof Double || b instanceof Double) {
                        double x = asDouble(a);
                        double y = asDouble(b);
                        double m = x % y;
                        return m != 0 && (m < 0) != (y < 0) ? m + y : m;
                    }
                    return Math.floorMod(asLong(a), asLong(b));
                }
            }
            case "**" -> {
                if (isNumber(a) && isNumber(b)) {
                    if (isInt(a) && isInt(b) && asLong(b) >= 0) {
                        return BigInteger.valueOf(asLong(a)).pow((int) asLong(b)).longValueExact();
                    }
                    return Math.pow(asDouble(a), asDouble(b));
                }
            }
            default -> throw new IllegalStateException(op);
        }
        throw new TemplateException("unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '"
                + typeName(b) + "'");
    }

    private static Object repeat(Object seq, long n) {
        if (seq instanceof String s) {
            return n <= 0 ? "" : s.repeat((int) n);
        }
        List<Object> out = new ArrayList<>();
        for (long i = 0; i < n; i++) {
            out.addAll((List<?>) seq);
        }
        return seq instanceof PyTuple ? new PyTuple(out) : out;
    }

    static Object negate(Object v) {
        if (v instanceof Undefined u) {
            throw u.fail();
        }
        if (v instanceof Double d) {
            return -d;
        }
        if (isInt(v)) {
            return -asLong(v);
        }
        throw new TemplateException("bad operand type for unary -: '" + typeName(v) + "'");
    }
}
