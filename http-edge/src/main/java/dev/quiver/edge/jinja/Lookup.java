package dev.quiver.edge.jinja;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * jinja2's two lookups. {@code obj.name} tries the Python attribute first (so {@code message.items} is the dict
 * method) and then the item; {@code obj[key]} tries the item first and then, for string keys, the attribute. What
 * neither finds is an {@link Undefined} carrying jinja2's hint. Methods that would mutate a value are refused as
 * jinja2's ImmutableSandboxedEnvironment refuses them: they look up as an undefined that fails when called.
 */
final class Lookup {
    private static final Set<String> MUTATING_LIST = Set.of("append", "extend", "insert", "pop", "remove",
            "reverse", "sort", "clear");
    private static final Set<String> MUTATING_DICT = Set.of("pop", "popitem", "setdefault", "update", "clear");

    private Lookup() {
    }

    static Object attr(Object obj, String name) {
        if (obj instanceof Undefined u) {
            throw u.fail();
        }
        if (obj instanceof Interpreter.LoopContext loop) {
            return loop.attr(name);
        }
        if (obj instanceof Namespace ns) {
            return ns.attrs.containsKey(name) ? ns.attrs.get(name)
                    : new Undefined("'Namespace' object has no attribute '" + name + "'");
        }
        if (obj instanceof Map<?, ?> m) {
            if (MUTATING_DICT.contains(name)) {
                return unsafe(name, "dict");
            }
            JinjaFunction method = PyMethods.bind(obj, name);
            if (method != null) {
                return method;
            }
            return m.containsKey(name) ? m.get(name) : new Undefined("'dict object' has no attribute '" + name + "'");
        }
        if (obj instanceof List && MUTATING_LIST.contains(name)) {
            return unsafe(name, PyValues.typeName(obj));
        }
        JinjaFunction method = PyMethods.bind(obj, name);
        if (method != null) {
            return method;
        }
        if (obj == null) {
            return new Undefined("'None' has no attribute '" + name + "'");
        }
        return new Undefined("'" + PyValues.typeName(obj) + " object' has no attribute '" + name + "'");
    }

    static Object item(Object obj, Object key) {
        if (obj instanceof Undefined u) {
            throw u.fail();
        }
        if (key instanceof Undefined u) {
            throw u.fail();
        }
        if (obj instanceof Map<?, ?> m) {
            if (m.containsKey(key)) {
                return m.get(key);
            }
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!(key instanceof String) && PyValues.eq(e.getKey(), key)) {
                    return e.getValue();
                }
            }
        } else if ((obj instanceof List || obj instanceof String) && PyValues.isInt(key)) {
            Object v = PyValues.index(obj, PyValues.asLong(key));
            if (v != PyValues.NOT_FOUND) {
                return v;
            }
            return new Undefined("'" + PyValues.typeName(obj) + " object' has no element " + PyValues.repr(key));
        }
        if (key instanceof String name && !(obj instanceof Map)) {
            return attr(obj, name);
        }
        if (key instanceof String name && obj instanceof Map && PyMethods.bind(obj, name) != null) {
            return PyMethods.bind(obj, name);
        }
        if (obj == null) {
            return new Undefined("'None' has no attribute " + PyValues.repr(key));
        }
        return new Undefined("'" + PyValues.typeName(obj) + " object' has no attribute " + PyValues.repr(key));
    }

    private static Undefined unsafe(String name, String type) {
        return new Undefined("access to attribute '" + name + "' of '" + type + "' object is unsafe.");
    }
}
