package dev.quiver.edge.jinja;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The Python methods templates call on values: {@code str} (split, strip, startswith, replace, find, format, ...),
 * {@code dict} (items, keys, values, get) and {@code list} (index, count). {@link #bind} returns the method bound to
 * its receiver, or null when the value has no such method.
 */
final class PyMethods {
    private PyMethods() {
    }

    static JinjaFunction bind(Object self, String name) {
        if (self instanceof String s) {
            return stringMethod(s, name);
        }
        if (self instanceof Map<?, ?> m) {
            return dictMethod(m, name);
        }
        if (self instanceof List<?> l) {
            return listMethod(l, name);
        }
        return null;
    }

    // ---- str --------------------------------------------------------------------------------

    private static JinjaFunction stringMethod(String s, String name) {
        return switch (name) {
            case "split" -> (a, k) -> split(s, sep(a, k), maxsplit(a, k), false);
            case "rsplit" -> (a, k) -> split(s, sep(a, k), maxsplit(a, k), true);
            case "strip" -> (a, k) -> strip(s, chars(a), true, true);
            case "lstrip" -> (a, k) -> strip(s, chars(a), true, false);
            case "rstrip" -> (a, k) -> strip(s, chars(a), false, true);
            case "startswith" -> (a, k) -> affix(s, a, true);
            case "endswith" -> (a, k) -> affix(s, a, false);
            case "upper" -> (a, k) -> s.toUpperCase(java.util.Locale.ROOT);
            case "lower" -> (a, k) -> s.toLowerCase(java.util.Locale.ROOT);
            case "title" -> (a, k) -> title(s);
            case "capitalize" -> (a, k) -> capitalize(s);
            case "swapcase" -> (a, k) -> swapcase(s);
            case "replace" -> (a, k) -> replace(s, str(arg(a, 0, "old")), str(arg(a, 1, "new")),
                    a.size() > 2 ? PyValues.asLong(a.get(2)) : -1);
            case "find" -> (a, k) -> (long) find(s, str(arg(a, 0, "sub")), a, false);
            case "rfind" -> (a, k) -> (long) find(s, str(arg(a, 0, "sub")), a, true);
            case "index", "rindex" -> (a, k) -> {
                long i = find(s, str(arg(a, 0, "sub")), a, name.equals("rindex"));
                if (i < 0) {
                    throw new TemplateException("substring not found");
                }
                return i;
            };
            case "count" -> (a, k) -> count(s, str(arg(a, 0, "sub")));
            case "join" -> (a, k) -> join(s, arg(a, 0, "iterable"));
            case "format" -> (a, k) -> Formats.strFormat(s, a, k);
            case "isdigit", "isnumeric", "isdecimal" -> (a, k) -> !s.isEmpty()
                    && s.codePoints().allMatch(Character::isDigit);
            case "isspace" -> (a, k) -> !s.isEmpty() && s.codePoints().allMatch(PyMethods::isSpace);
            case "isalpha" -> (a, k) -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "isalnum" -> (a, k) -> !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            case "isupper" -> (a, k) -> hasCased(s) && s.equals(s.toUpperCase(java.util.Locale.ROOT));
            case "islower" -> (a, k) -> hasCased(s) && s.equals(s.toLowerCase(java.util.Locale.ROOT));
            case "splitlines" -> (a, k) -> splitlines(s);
            case "center" -> (a, k) -> center(s, (int) PyValues.asLong(arg(a, 0, "width")));
            case "ljust" -> (a, k) -> s + " ".repeat(Math.max(0, (int) PyValues.asLong(arg(a, 0, "width"))
                    - PyValues.len(s)));
            case "rjust" -> (a, k) -> " ".repeat(Math.max(0, (int) PyValues.asLong(arg(a, 0, "width"))
                    - PyValues.len(s))) + s;
            case "removeprefix" -> (a, k) -> s.startsWith(str(arg(a, 0, "prefix")))
                    ? s.substring(str(a.get(0)).length()) : s;
            case "removesuffix" -> (a, k) -> !str(arg(a, 0, "suffix")).isEmpty() && s.endsWith(str(a.get(0)))
                    ? s.substring(0, s.length() - str(a.get(0)).length()) : s;
            default -> null;
        };
    }

    private static Object arg(List<Object> args, int i, String name) {
        if (i >= args.size()) {
            throw new TemplateException("missing required argument '" + name + "'");
        }
        return args.get(i);
    }

    private static String str(Object v) {
        if (!(v instanceof String s)) {
            throw new TemplateException("must be str, not " + PyValues.typeName(v));
        }
        return s;
    }

    private static String sep(List<Object> a, Map<String, Object> k) {
        Object v = !a.isEmpty() ? a.get(0) : k.get("sep");
        if (v == null) {
            return null;
        }
        String s = str(v);
        if (s.isEmpty()) {
            throw new TemplateException("empty separator");
        }
        return s;
    }

    private static long maxsplit(List<Object> a, Map<String, Object> k) {
        Object v = a.size() > 1 ? a.get(1) : k.get("maxsplit");
        return v == null ? -1 : PyValues.asLong(v);
    }

    private static String chars(List<Object> a) {
        return a.isEmpty() || a.get(0) == null ? null : str(a.get(0));
    }

    /** Python's str.isspace for one code point. */
    static boolean isSpace(int cp) {
        return Character.isWhitespace(cp) || cp == 0x85 || cp == 0xa0 || cp == 0x2007 || cp == 0x202f;
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int start = 0;
        int end = s.length();
        while (left && start < end && (chars == null ? isSpace(s.charAt(start)) : chars.indexOf(s.charAt(start)) >= 0)) {
            start++;
        }
        while (right && end > start && (chars == null ? isSpace(s.charAt(end - 1))
                : chars.indexOf(s.charAt(end - 1)) >= 0)) {
            end--;
        }
        return s.substring(start, end);
    }

    static List<Object> split(String s, String sep, long maxsplit, boolean fromRight) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            List<int[]> words = new ArrayList<>();
            int i = 0;
            while (i < s.length()) {
                while (i < s.length() && isSpace(s.charAt(i))) {
                    i++;
                }
                if (i >= s.length()) {
                    break;
                }
                int j = i;
                while (j < s.length() && !isSpace(s.charAt(j))) {
                    j++;
                }
                words.add(new int[] {i, j});
                i = j;
            }
            if (maxsplit < 0 || words.size() <= maxsplit + 1) {
                words.forEach(w -> out.add(s.substring(w[0], w[1])));
                return out;
            }
            int m = (int) maxsplit;
            if (!fromRight) {
                for (int w = 0; w < m; w++) {
                    out.add(s.substring(words.get(w)[0], words.get(w)[1]));
                }
                out.add(strip(s.substring(words.get(m)[0]), null, false, true));
            } else {
                int first = words.size() - m;
                out.add(strip(s.substring(0, words.get(first - 1)[1]), null, true, false));
                for (int w = first; w < words.size(); w++) {
                    out.add(s.substring(words.get(w)[0], words.get(w)[1]));
                }
            }
            return out;
        }
        if (!fromRight) {
            int from = 0;
            long n = 0;
            while (maxsplit < 0 || n < maxsplit) {
                int at = s.indexOf(sep, from);
                if (at < 0) {
                    break;
                }
                out.add(s.substring(from, at));
                from = at + sep.length();
                n++;
            }
            out.add(s.substring(from));
            return out;
        }
        int to = s.length();
        long n = 0;
        while (maxsplit < 0 || n < maxsplit) {
            int at = s.lastIndexOf(sep, to - sep.length());
            if (at < 0) {
                break;
            }
            out.add(0, s.substring(at + sep.length(), to));
            to = at;
            n++;
        }
        out.add(0, s.substring(0, to));
        return out;
    }

    private static boolean affix(String s, List<Object> a, boolean prefix) {
        Object what = arg(a, 0, prefix ? "prefix" : "suffix");
        String target = s;
        if (a.size() > 1) {
            target = (String) PyValues.slice(s, a.get(1), a.size() > 2 ? a.get(2) : null, null);
        }
        List<Object> options = what instanceof PyTuple t ? t : List.of(what);
        for (Object o : options) {
            if (!(o instanceof String)) {
                throw new TemplateException((prefix ? "startswith" : "endswith")
                        + " first arg must be str or a tuple of str, not " + PyValues.typeName(o));
            }
            if (prefix ? target.startsWith((String) o) : target.endsWith((String) o)) {
                return true;
            }
        }
        return false;
    }

    static String title(String s) {
        StringBuilder sb = new StringBuilder();
        boolean prevCased = false;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            boolean cased = Character.isUpperCase(cp) || Character.isLowerCase(cp) || Character.isTitleCase(cp);
            if (cased) {
                sb.appendCodePoint(prevCased ? Character.toLowerCase(cp) : Character.toTitleCase(cp));
            } else {
                sb.appendCodePoint(cp);
            }
            prevCased = cased;
        }
        return sb.toString();
    }

    static String capitalize(String s) {
        if (s.isEmpty()) {
            return s;
        }
        int cp = s.codePointAt(0);
        return new StringBuilder().appendCodePoint(Character.toTitleCase(cp))
                .append(s.substring(Character.charCount(cp)).toLowerCase(java.util.Locale.ROOT)).toString();
    }

    private static String swapcase(String s) {
        StringBuilder sb = new StringBuilder();
        s.codePoints().forEach(cp -> sb.appendCodePoint(Character.isUpperCase(cp) ? Character.toLowerCase(cp)
                : Character.isLowerCase(cp) ? Character.toUpperCase(cp) : cp));
        return sb.toString();
    }

    private static boolean hasCased(String s) {
        return s.codePoints().anyMatch(cp -> Character.isUpperCase(cp) || Character.isLowerCase(cp));
    }

    static String replace(String s, String old, String repl, long count) {
        if (count < 0) {
            return s.replace(old, repl);
        }
        StringBuilder sb = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++) {
            int at = s.indexOf(old, from);
            if (at < 0) {
                break;
            }
            sb.append(s, from, at).append(repl);
            from = at + old.length();
            if (old.isEmpty()) {
                if (from >= s.length()) {
                    break;
                }
                sb.append(s.charAt(from));
                from++;
            }
        }
        return sb.append(s.substring(from)).toString();
    }

    private static int find(String s, String sub, List<Object> a, boolean fromRight) {
        int start = a.size() > 1 && a.get(1) != null ? (int) PyValues.asLong(a.get(1)) : 0;
        if (start < 0) {
            start = Math.max(0, s.length() + start);
        }
        if (start > s.length()) {
            return -1;
        }
        int at = fromRight ? s.lastIndexOf(sub) : s.indexOf(sub, start);
        return at >= start ? s.codePointCount(0, at) : -1;
    }

    private static long count(String s, String sub) {
        if (sub.isEmpty()) {
            return PyValues.len(s) + 1;
        }
        long n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
            n++;
        }
        return n;
    }

    private static String join(String sep, Object iterable) {
        StringBuilder sb = new StringBuilder();
        List<Object> items = PyValues.iterate(iterable);
        for (int i = 0; i < items.size(); i++) {
            if (!(items.get(i) instanceof String s)) {
                throw new TemplateException("sequence item " + i + ": expected str instance, "
                        + PyValues.typeName(items.get(i)) + " found");
            }
            sb.append(i > 0 ? sep : "").append(s);
        }
        return sb.toString();
    }

    private static List<Object> splitlines(String s) {
        List<Object> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\n' || c == '\r' || c == '\u000b' || c == '\f' || c == 0x1c || c == 0x1d || c == 0x1e
                    || c == 0x85 || c == '\u2028' || c == '\u2029') {
                out.add(s.substring(start, i));
                if (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') {
                    i++;
                }
                start = i + 1;
            }
        }
        if (start < s.length()) {
            out.add(s.substring(start));
        }
        return out;
    }

    static String center(String s, int width) {
        int n = PyValues.len(s);
        if (width <= n) {
            return s;
        }
        int marg = width - n;
        int left = marg / 2 + (marg & width & 1);
        return " ".repeat(left) + s + " ".repeat(marg - left);
    }

    // ---- dict and list ----------------------------------------------------------------------

    private static JinjaFunction dictMethod(Map<?, ?> m, String name) {
        return switch (name) {
            case "items" -> (a, k) -> {
                List<Object> out = new ArrayList<>();
                m.forEach((key, v) -> out.add(PyTuple.of(key, v)));
                return out;
            };
            case "keys" -> (a, k) -> new ArrayList<Object>(m.keySet());
            case "values" -> (a, k) -> new ArrayList<Object>(m.values());
            case "get" -> (a, k) -> {
                Object key = arg(a, 0, "key");
                Object v = Lookup.item(m, key);
                return m.containsKey(key) ? v : (a.size() > 1 ? a.get(1) : null);
            };
            case "copy" -> (a, k) -> new java.util.LinkedHashMap<Object, Object>(m);
            default -> null;
        };
    }

    private static JinjaFunction listMethod(List<?> l, String name) {
        return switch (name) {
            case "index" -> (a, k) -> {
                Object x = arg(a, 0, "value");
                for (int i = 0; i < l.size(); i++) {
                    if (PyValues.eq(l.get(i), x)) {
                        return (long) i;
                    }
                }
                throw new TemplateException(PyValues.repr(x) + " is not in list");
            };
            case "count" -> (a, k) -> l.stream().filter(x -> PyValues.eq(x, arg(a, 0, "value"))).count();
            case "copy" -> (a, k) -> new ArrayList<Object>(l);
            default -> null;
        };
    }
}
