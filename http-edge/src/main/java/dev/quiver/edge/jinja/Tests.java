package dev.quiver.edge.jinja;

import java.util.List;
import java.util.Map;
import java.util.Set;

/** jinja2's built-in tests ({@code x is defined}, {@code x is string}, {@code x is divisibleby 3}, ...). */
final class Tests {
    private static final Set<String> NAMES = Set.of("defined", "undefined", "none", "string", "mapping", "iterable",
            "sequence", "number", "integer", "float", "boolean", "true", "false", "eq", "equalto", "==", "ne", "!=",
            "lt", "lessthan", "<", "gt", "greaterthan", ">", "le", "<=", "ge", ">=", "in", "odd", "even",
            "divisibleby", "lower", "upper", "sameas", "callable", "filter", "test", "escaped");

    private Tests() {
    }

    static boolean exists(String name) {
        return NAMES.contains(name);
    }

    static boolean apply(String name, Object v, List<Object> args, Interpreter interp) {
        switch (name) {
            case "defined":
                return !(v instanceof Undefined);
            case "undefined":
                return v instanceof Undefined;
            case "none":
                return v == null;
            case "string":
                return v instanceof String;
            case "mapping":
                return v instanceof Map;
            case "iterable":
                return v instanceof String || v instanceof List || v instanceof Map || v instanceof PyGenerator
                        || v instanceof Undefined;
            case "sequence":
                return v instanceof String || v instanceof List || v instanceof Map || v instanceof Undefined;
            case "number":
                return PyValues.isNumber(v);
            case "integer":
                return v instanceof Long;
            case "float":
                return v instanceof Double;
            case "boolean":
                return v instanceof Boolean;
            case "true":
                return Boolean.TRUE.equals(v);
            case "false":
                return Boolean.FALSE.equals(v);
            case "eq", "equalto", "==":
                return PyValues.eq(v, arg(args, name));
            case "ne", "!=":
                return !PyValues.eq(v, arg(args, name));
            case "lt", "lessthan", "<":
                return PyValues.compare(v, arg(args, name), "<") < 0;
            case "gt", "greaterthan", ">":
                return PyValues.compare(v, arg(args, name), ">") > 0;
            case "le", "<=":
                return PyValues.compare(v, arg(args, name), "<=") <= 0;
            case "ge", ">=":
                return PyValues.compare(v, arg(args, name), ">=") >= 0;
            case "in":
                return PyValues.contains(arg(args, name), v);
            case "odd":
                return Math.floorMod(intOf(v, name), 2) == 1;
            case "even":
                return Math.floorMod(intOf(v, name), 2) == 0;
            case "divisibleby": {
                long d = intOf(arg(args, name), name);
                if (d == 0) {
                    throw new TemplateException("integer division or modulo by zero");
                }
                return Math.floorMod(intOf(v, name), d) == 0;
            }
            case "lower": {
                String s = PyValues.str(v);
                return s.codePoints().anyMatch(Character::isLowerCase)
                        && s.equals(s.toLowerCase(java.util.Locale.ROOT));
            }
            case "upper": {
                String s = PyValues.str(v);
                return s.codePoints().anyMatch(Character::isUpperCase)
                        && s.equals(s.toUpperCase(java.util.Locale.ROOT));
            }
            case "sameas": {
                Object o = arg(args, name);
                if (v == null || o == null) {
                    return v == o;
                }
                // NOTE: Python interns short strings and small ints, so equal literals are usually "the same".
                if (v instanceof Boolean || v instanceof String
                        || v instanceof Long l && l >= -5 && l <= 256) {
                    return v.getClass() == o.getClass() && v.equals(o);
                }
                return v == o;
            }
            case "callable":
                return v instanceof JinjaFunction;
            case "filter":
                return v instanceof String s && Filters.exists(s);
            case "test":
                return v instanceof String s && exists(s);
            case "escaped":
                return false;
            default:
                throw new TemplateException("no test named '" + name + "'");
        }
    }

    private static Object arg(List<Object> args, String test) {
        if (args.isEmpty()) {
            throw new TemplateException("test '" + test + "' needs an argument");
        }
        return args.get(0);
    }

    private static long intOf(Object v, String test) {
        if (v instanceof Undefined u) {
            throw u.fail();
        }
        if (PyValues.isInt(v)) {
            return PyValues.asLong(v);
        }
        if (v instanceof Double d && d == Math.floor(d)) {
            return d.longValue();
        }
        throw new TemplateException("test '" + test + "' needs an integer, not " + PyValues.typeName(v));
    }
}
