package dev.quiver.edge.jinja;

import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Python's string formatting as templates use it: {@code "%s" % x} / the {@code format} filter, {@code str.format}
 * with {@code {}} / {@code {0}} / {@code {name}} fields, and {@code strftime} for transformers' {@code strftime_now}
 * (C locale). Format specs beyond the common ones fail with an error naming them.
 */
final class Formats {
    private Formats() {
    }

    /** printf-style {@code fmt % args}: %s %r %d %i %f %e %g %x %o %c %% with flags, width and precision. */
    static String percent(String fmt, List<Object> args, Object single) {
        StringBuilder out = new StringBuilder();
        int argi = 0;
        int i = 0;
        while (i < fmt.length()) {
            char c = fmt.charAt(i++);
            if (c != '%') {
                out.append(c);
                continue;
            }
            if (i >= fmt.length()) {
                throw new TemplateException("incomplete format");
            }
            Object mapped = null;
            boolean byName = false;
            if (fmt.charAt(i) == '(') {
                int close = fmt.indexOf(')', i);
                if (close < 0 || !(single instanceof Map<?, ?> m)) {
                    throw new TemplateException("format requires a mapping");
                }
                mapped = m.get(fmt.substring(i + 1, close));
                byName = true;
                i = close + 1;
            }
            int specStart = i;
            while (i < fmt.length() && "-+ #0".indexOf(fmt.charAt(i)) >= 0) {
                i++;
            }
            while (i < fmt.length() && (Character.isDigit(fmt.charAt(i)) || fmt.charAt(i) == '.')) {
                i++;
            }
            if (i >= fmt.length()) {
                throw new TemplateException("incomplete format");
            }
            String flags = fmt.substring(specStart, i);
            char conv = fmt.charAt(i++);
            if (conv == '%') {
                out.append('%');
                continue;
            }
            Object arg;
            if (byName) {
                arg = mapped;
            } else {
                if (argi >= args.size()) {
                    throw new TemplateException("not enough arguments for format string");
                }
                arg = args.get(argi++);
            }
            out.append(convert(conv, flags, arg));
        }
        if (!(single instanceof Map) && argi < args.size()) {
            throw new TemplateException("not all arguments converted during string formatting");
        }
        return out.toString();
    }

    private static String convert(char conv, String flags, Object arg) {
        return switch (conv) {
            case 's' -> pad(PyValues.str(arg), flags);
            case 'r', 'a' -> pad(PyValues.repr(arg), flags);
            case 'd', 'i', 'u' -> {
                if (!PyValues.isNumber(arg)) {
                    throw new TemplateException("%" + conv + " format: a real number is required, not "
                            + PyValues.typeName(arg));
                }
                long v = arg instanceof Double d ? (long) d.doubleValue() : PyValues.asLong(arg);
                yield String.format("%" + flags + "d", v);
            }
            case 'f', 'F', 'e', 'E' -> {
                if (!PyValues.isNumber(arg)) {
                    throw new TemplateException("must be real number, not " + PyValues.typeName(arg));
                }
                String f = flags.contains(".") ? flags : flags + ".6";
                yield String.format(Locale.ROOT, "%" + f + conv, PyValues.asDouble(arg));
            }
            case 'x', 'X', 'o' -> String.format("%" + flags + conv, PyValues.asLong(arg));
            case 'c' -> arg instanceof String s ? s : new String(Character.toChars((int) PyValues.asLong(arg)));
            default -> throw new TemplateException("unsupported format character '" + conv + "'");
        };
    }

    private static String pad(String s, String flags) {
        String width = flags.replaceAll("[-+ #0]", "");
        String precision = null;
        int dot = width.indexOf('.');
        if (dot >= 0) {
            precision = width.substring(dot + 1);
            width = width.substring(0, dot);
        }
        if (precision != null && !precision.isEmpty()) {
            int p = Integer.parseInt(precision);
            if (s.codePointCount(0, s.length()) > p) {
                s = s.substring(0, s.offsetByCodePoints(0, p));
            }
        }
        if (width.isEmpty()) {
            return s;
        }
        int w = Integer.parseInt(width);
        int n = s.codePointCount(0, s.length());
        if (n >= w) {
            return s;
        }
        String fill = " ".repeat(w - n);
        return flags.contains("-") ? s + fill : fill + s;
    }

    /** {@code str.format}: {@code {}} (auto numbered), {@code {0}}, {@code {name}}, {@code {{ }}}; no format specs. */
    static String strFormat(String fmt, List<Object> args, Map<String, Object> kwargs) {
        StringBuilder out = new StringBuilder();
        int auto = 0;
        int i = 0;
        while (i < fmt.length()) {
            char c = fmt.charAt(i++);
            if (c == '{') {
                if (i < fmt.length() && fmt.charAt(i) == '{') {
                    out.append('{');
                    i++;
                    continue;
                }
                int close = fmt.indexOf('}', i);
                if (close < 0) {
                    throw new TemplateException("single '{' encountered in format string");
                }
                String field = fmt.substring(i, close);
                i = close + 1;
                if (field.contains(":") || field.contains("!") || field.contains(".") || field.contains("[")) {
                    throw new TemplateException("unsupported str.format field '{" + field + "}'");
                }
                Object v;
                if (field.isEmpty()) {
                    if (auto >= args.size()) {
                        throw new TemplateException("Replacement index " + auto + " out of range for positional args tuple");
                    }
                    v = args.get(auto++);
                } else if (field.chars().allMatch(Character::isDigit)) {
                    int k = Integer.parseInt(field);
                    if (k >= args.size()) {
                        throw new TemplateException("Replacement index " + k + " out of range for positional args tuple");
                    }
                    v = args.get(k);
                } else {
                    if (!kwargs.containsKey(field)) {
                        throw new TemplateException("KeyError: '" + field + "'");
                    }
                    v = kwargs.get(field);
                }
                out.append(PyValues.str(v));
            } else if (c == '}') {
                if (i < fmt.length() && fmt.charAt(i) == '}') {
                    i++;
                }
                out.append('}');
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /** C-locale {@code strftime}; unknown directives fail naming them. */
    static String strftime(ZonedDateTime t, String fmt) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%' || i + 1 >= fmt.length()) {
                out.append(c);
                continue;
            }
            char d = fmt.charAt(++i);
            switch (d) {
                case 'd' -> out.append(String.format("%02d", t.getDayOfMonth()));
                case 'e' -> out.append(String.format("%2d", t.getDayOfMonth()));
                case 'm' -> out.append(String.format("%02d", t.getMonthValue()));
                case 'Y' -> out.append(t.getYear());
                case 'y' -> out.append(String.format("%02d", t.getYear() % 100));
                case 'b', 'h' -> out.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> out.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> out.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> out.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'H' -> out.append(String.format("%02d", t.getHour()));
                case 'I' -> out.append(String.format("%02d", (t.getHour() + 11) % 12 + 1));
                case 'M' -> out.append(String.format("%02d", t.getMinute()));
                case 'S' -> out.append(String.format("%02d", t.getSecond()));
                case 'p' -> out.append(t.getHour() < 12 ? "AM" : "PM");
                case 'j' -> out.append(String.format("%03d", t.getDayOfYear()));
                case 'f' -> out.append(String.format("%06d", t.getNano() / 1000));
                case 'F' -> out.append(String.format("%d-%02d-%02d", t.getYear(), t.getMonthValue(),
                        t.getDayOfMonth()));
                case 'T' -> out.append(String.format("%02d:%02d:%02d", t.getHour(), t.getMinute(), t.getSecond()));
                case 'w' -> out.append(t.getDayOfWeek().getValue() % 7);
                case 'u' -> out.append(t.getDayOfWeek().getValue());
                case '%' -> out.append('%');
                default -> throw new TemplateException("unsupported strftime directive '%" + d + "'");
            }
        }
        return out.toString();
    }
}
