package dev.quiver.edge.jinja;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A compiled Jinja2 template, rendered the way Hugging Face transformers renders chat templates: jinja2's
 * {@code ImmutableSandboxedEnvironment} with {@code trim_blocks}, {@code lstrip_blocks}, the loop-controls extension
 * ({@code break}/{@code continue}) and transformers' {@code {% generation %}} block. Values follow Python semantics
 * ({@link PyValues}); the supported statements, filters, tests and methods are listed in docs/HTTP.md.
 *
 * <p>Built-in globals are {@code range}, {@code dict} and {@code namespace}; callers add their own (for chat
 * templates {@code raise_exception} and {@code strftime_now}) as {@link JinjaFunction} variables. A template is
 * immutable and may be rendered concurrently; each render has its own state.
 */
public final class Template {
    static final int MAX_RANGE = 100_000;

    private final List<Node> body;

    private Template(List<Node> body) {
        this.body = body;
    }

    /**
     * Parses {@code source}.
     *
     * @throws TemplateException on a syntax error or a construct this engine does not support (the message names it)
     */
    public static Template compile(String source) {
        return new Template(Parser.parse(source));
    }

    /**
     * Renders with {@code variables}: plain Java/JSON data (String, Number, Boolean, null, List, Map) and
     * {@link JinjaFunction}s. Exceptions thrown by a {@link JinjaFunction} propagate unchanged.
     *
     * @throws TemplateException when the template fails as jinja2 would (undefined attribute, type error, ...)
     */
    public String render(Map<String, ?> variables) {
        Map<String, Object> vars = new HashMap<>(variables);
        return new Interpreter(builtins()).render(body, vars);
    }

    private static Map<String, Object> builtins() {
        Map<String, Object> g = new HashMap<>();
        g.put("range", (JinjaFunction) (args, kwargs) -> range(args));
        g.put("dict", (JinjaFunction) (args, kwargs) -> {
            Map<Object, Object> m = new java.util.LinkedHashMap<>();
            if (!args.isEmpty()) {
                Object src = args.get(0);
                if (src instanceof Map<?, ?> sm) {
                    m.putAll(sm);
                } else {
                    for (Object pair : PyValues.iterate(src)) {
                        List<Object> kv = PyValues.iterate(pair);
                        m.put(kv.get(0), kv.get(1));
                    }
                }
            }
            m.putAll(kwargs);
            return m;
        });
        g.put("namespace", (JinjaFunction) (args, kwargs) -> {
            Namespace ns = new Namespace();
            if (!args.isEmpty() && args.get(0) instanceof Map<?, ?> m) {
                m.forEach((k, v) -> ns.attrs.put(PyValues.str(k), v));
            }
            ns.attrs.putAll(kwargs);
            return ns;
        });
        return g;
    }

    private static List<Object> range(List<Object> args) {
        for (Object a : args) {
            if (!PyValues.isInt(a)) {
                throw new TemplateException("range() needs integers, not " + PyValues.typeName(a));
            }
        }
        long start = 0;
        long stop;
        long step = 1;
        if (args.size() == 1) {
            stop = PyValues.asLong(args.get(0));
        } else if (args.size() == 2 || args.size() == 3) {
            start = PyValues.asLong(args.get(0));
            stop = PyValues.asLong(args.get(1));
            step = args.size() == 3 ? PyValues.asLong(args.get(2)) : 1;
        } else {
            throw new TemplateException("range expected 1 to 3 arguments, got " + args.size());
        }
        if (step == 0) {
            throw new TemplateException("range() arg 3 must not be zero");
        }
        List<Object> out = new ArrayList<>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (out.size() >= MAX_RANGE) {
                throw new TemplateException("range too big, maximum size for range is " + MAX_RANGE);
            }
            out.add(i);
        }
        return out;
    }
}
