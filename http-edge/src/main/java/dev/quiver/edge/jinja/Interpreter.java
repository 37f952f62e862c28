package dev.quiver.edge.jinja;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Walks the {@link Node} tree of one template for one render, writing text to a buffer.
 *
 * <p>Scoping follows jinja2: {@code set} writes to the innermost scope; each {@code for} iteration and each macro
 * call gets a fresh child scope (so a {@code set} inside a loop is gone after the iteration, which is why templates
 * use {@code namespace()}); {@code if} blocks share their enclosing scope. Limits keep a hostile template bounded:
 * macro call depth, {@code range} size and output length.
 */
final class Interpreter {
    static final int MAX_CALL_DEPTH = 200;
    static final int MAX_OUTPUT_CHARS = 8 * 1024 * 1024;

    private final Map<String, Object> globals;
    private int depth;

    Interpreter(Map<String, Object> globals) {
        this.globals = globals;
    }

    /** A chain of variable scopes; lookups walk outwards, then to the globals. */
    final class Scope {
        final Map<String, Object> vars = new HashMap<>();
        final Scope parent;

        Scope(Scope parent) {
            this.parent = parent;
        }

        Object lookup(String name) {
            for (Scope s = this; s != null; s = s.parent) {
                if (s.vars.containsKey(name)) {
                    return s.vars.get(name);
                }
            }
            if (globals.containsKey(name)) {
                return globals.get(name);
            }
            return Undefined.name(name);
        }
    }

    private static final class BreakSignal extends RuntimeException {
        BreakSignal() {
            super(null, null, false, false);
        }
    }

    private static final class ContinueSignal extends RuntimeException {
        ContinueSignal() {
            super(null, null, false, false);
        }
    }

    private static final BreakSignal BREAK = new BreakSignal();
    private static final ContinueSignal CONTINUE = new ContinueSignal();

    String render(List<Node> body, Map<String, Object> vars) {
        Scope root = new Scope(null);
        vars.forEach((k, v) -> root.vars.put(k, PyValues.fromJava(v)));
        StringBuilder out = new StringBuilder();
        try {
            exec(body, root, out);
        } catch (BreakSignal | ContinueSignal e) {
            throw new TemplateException("'break' or 'continue' outside of a loop");
        } catch (ArithmeticException e) {
            throw new TemplateException("integer overflow in template arithmetic");
        } catch (StackOverflowError e) {
            throw new TemplateException("template nesting too deep");
        }
        return out.toString();
    }

    // ---- statements -----------------------------------------------------------------------

    void exec(List<Node> body, Scope scope, StringBuilder out) {
        for (Node n : body) {
            exec(n, scope, out);
            if (out.length() > MAX_OUTPUT_CHARS) {
                throw new TemplateException("the template's output exceeds " + MAX_OUTPUT_CHARS + " characters");
            }
        }
    }

    private void exec(Node n, Scope scope, StringBuilder out) {
        if (n instanceof Node.Text t) {
            out.append(t.text());
        } else if (n instanceof Node.Output o) {
            out.append(PyValues.str(eval(o.expr(), scope)));
        } else if (n instanceof Node.If i) {
            for (int k = 0; k < i.conditions().size(); k++) {
                if (PyValues.truthy(eval(i.conditions().get(k), scope))) {
                    exec(i.bodies().get(k), scope, out);
                    return;
                }
            }
            exec(i.orElse(), scope, out);
        } else if (n instanceof Node.For f) {
            forLoop(f, scope, out);
        } else if (n instanceof Node.Set s) {
            assign(s.target(), eval(s.value(), scope), scope);
        } else if (n instanceof Node.SetBlock s) {
            StringBuilder inner = new StringBuilder();
            exec(s.body(), scope, inner);
            Object v = inner.toString();
            if (s.filter() != null) {
                v = applyFilterChain(s.filter(), v, scope);
            }
            assign(s.target(), v, scope);
        } else if (n instanceof Node.Macro m) {
            scope.vars.put(m.name(), macro(m.name(), m.params(), m.defaults(), m.body(), scope));
        } else if (n instanceof Node.CallBlock c) {
            JinjaFunction caller = macro("caller", c.params(), c.defaults(), c.body(), scope);
            Object callee = eval(c.call().callee(), scope);
            List<Object> args = new ArrayList<>();
            Map<String, Object> kwargs = new LinkedHashMap<>();
            evalArgs(c.call(), scope, args, kwargs);
            kwargs.put("caller", caller);
            out.append(PyValues.str(invoke(callee, args, kwargs, c.line())));
        } else if (n instanceof Node.FilterBlock f) {
            StringBuilder inner = new StringBuilder();
            exec(f.body(), scope, inner);
            out.append(PyValues.str(applyFilterChain(f.filter(), inner.toString(), scope)));
        } else if (n instanceof Node.Generation g) {
            exec(g.body(), scope, out);
        } else if (n instanceof Node.Break) {
            throw BREAK;
        } else if (n instanceof Node.Continue) {
            throw CONTINUE;
        } else {
            throw new TemplateException("cannot execute " + n.getClass().getSimpleName());
        }
    }

    private void forLoop(Node.For f, Scope scope, StringBuilder out) {
        Object iterable = eval(f.iter(), scope);
        List<Object> items = PyValues.iterate(iterable);
        if (f.filter() != null) {
            List<Object> kept = new ArrayList<>();
            for (Object item : items) {
                Scope s = new Scope(scope);
                assign(f.target(), item, s);
                if (PyValues.truthy(eval(f.filter(), s))) {
                    kept.add(item);
                }
            }
            items = kept;
        }
        if (items.isEmpty()) {
            exec(f.orElse(), scope, out);
            return;
        }
        LoopContext loop = new LoopContext(items);
        for (int i = 0; i < items.size(); i++) {
            loop.index0 = i;
            Scope s = new Scope(scope);
            s.vars.put("loop", loop);
            assign(f.target(), items.get(i), s);
            try {
                exec(f.body(), s, out);
            } catch (ContinueSignal c) {
                continue;
            } catch (BreakSignal b) {
                break;
            }
        }
    }

    private void assign(Node target, Object value, Scope scope) {
        if (target instanceof Node.Name n) {
            scope.vars.put(n.name(), value);
        } else if (target instanceof Node.NsAttr a) {
            Object ns = scope.lookup(a.namespace());
            if (!(ns instanceof Namespace namespace)) {
                throw new TemplateException("cannot assign attribute on non-namespace object '" + a.namespace()
                        + "' (template line " + a.line() + ")");
            }
            namespace.attrs.put(a.attr(), value);
        } else if (target instanceof Node.TupleLit t) {
            List<Object> values = PyValues.iterate(value);
            if (values.size() != t.items().size()) {
                throw new TemplateException((values.size() < t.items().size() ? "not enough" : "too many")
                        + " values to unpack (expected " + t.items().size() + ", got " + values.size() + ")");
            }
            for (int i = 0; i < values.size(); i++) {
                assign(t.items().get(i), values.get(i), scope);
            }
        } else {
            throw new TemplateException("cannot assign to " + target.getClass().getSimpleName());
        }
    }

    /** A macro (or a call block's {@code caller}) as a callable closing over its defining scope. */
    private JinjaFunction macro(String name, List<String> params, List<Node> defaults, List<Node> body, Scope scope) {
        int firstDefault = params.size() - defaults.size();
        return (args, kwargs) -> {
            if (args.size() > params.size()) {
                throw new TemplateException("macro '" + name + "' takes not more than " + params.size()
                        + " argument(s)");
            }
            if (depth >= MAX_CALL_DEPTH) {
                throw new TemplateException("macro calls nested deeper than " + MAX_CALL_DEPTH);
            }
            depth++;
            try {
                Scope s = new Scope(scope);
                Map<String, Object> extra = new LinkedHashMap<>(kwargs);
                for (int i = 0; i < params.size(); i++) {
                    String p = params.get(i);
                    Object v;
                    if (i < args.size()) {
                        v = args.get(i);
                    } else if (extra.containsKey(p)) {
                        v = extra.get(p);
                    } else if (i >= firstDefault) {
                        v = eval(defaults.get(i - firstDefault), s);
                    } else {
                        v = Undefined.name(p);
                    }
                    extra.remove(p);
                    s.vars.put(p, v);
                }
                if (extra.containsKey("caller")) {
                    s.vars.put("caller", extra.remove("caller"));
                }
                if (!extra.isEmpty()) {
                    throw new TemplateException("macro '" + name + "' takes no keyword argument '"
                            + extra.keySet().iterator().next() + "'");
                }
                s.vars.put("varargs", List.of());
                s.vars.put("kwargs", new LinkedHashMap<>());
                StringBuilder out = new StringBuilder();
                exec(body, s, out);
                return out.toString();
            } finally {
                depth--;
            }
        };
    }

    // ---- expressions ------------------------------------------------------------------------

    Object eval(Node n, Scope scope) {
        if (n instanceof Node.Const c) {
            return c.value();
        } else if (n instanceof Node.Name nm) {
            return scope.lookup(nm.name());
        } else if (n instanceof Node.TupleLit t) {
            List<Object> items = new ArrayList<>();
            t.items().forEach(i -> items.add(eval(i, scope)));
            return new PyTuple(items);
        } else if (n instanceof Node.ListLit l) {
            List<Object> items = new ArrayList<>();
            l.items().forEach(i -> items.add(eval(i, scope)));
            return items;
        } else if (n instanceof Node.DictLit d) {
            Map<Object, Object> m = new LinkedHashMap<>();
            for (int i = 0; i < d.keys().size(); i++) {
                m.put(eval(d.keys().get(i), scope), eval(d.values().get(i), scope));
            }
            return m;
        } else if (n instanceof Node.GetAttr g) {
            return Lookup.attr(eval(g.obj(), scope), g.name());
        } else if (n instanceof Node.GetItem g) {
            return Lookup.item(eval(g.obj(), scope), eval(g.key(), scope));
        } else if (n instanceof Node.Slice s) {
            return PyValues.slice(eval(s.obj(), scope), evalOrNull(s.start(), scope), evalOrNull(s.stop(), scope),
                    evalOrNull(s.step(), scope));
        } else if (n instanceof Node.Call c) {
            Object callee = eval(c.callee(), scope);
            List<Object> args = new ArrayList<>();
            Map<String, Object> kwargs = new LinkedHashMap<>();
            evalArgs(c, scope, args, kwargs);
            return invoke(callee, args, kwargs, c.line());
        } else if (n instanceof Node.Filter f) {
            return applyFilterChain(f, null, scope);
        } else if (n instanceof Node.Test t) {
            Object v = eval(t.value(), scope);
            List<Object> args = new ArrayList<>();
            t.args().forEach(a -> args.add(eval(a, scope)));
            boolean r = Tests.apply(t.name(), v, args, this);
            return t.negated() != r;
        } else if (n instanceof Node.Unary u) {
            Object v = eval(u.operand(), scope);
            return switch (u.op()) {
                case "not" -> !PyValues.truthy(v);
                case "-" -> PyValues.negate(v);
                default -> {
                    if (v instanceof Undefined und) {
                        throw und.fail();
                    }
                    if (!PyValues.isNumber(v)) {
                        throw new TemplateException("bad operand type for unary +: '" + PyValues.typeName(v) + "'");
                    }
                    yield v instanceof Boolean ? (Object) PyValues.asLong(v) : v;
                }
            };
        } else if (n instanceof Node.Binary b) {
            return binary(b, scope);
        } else if (n instanceof Node.Compare c) {
            Object left = eval(c.first(), scope);
            for (int i = 0; i < c.ops().size(); i++) {
                Object right = eval(c.rest().get(i), scope);
                if (!compare(c.ops().get(i), left, right)) {
                    return false;
                }
                left = right;
            }
            return true;
        } else if (n instanceof Node.CondExpr c) {
            if (PyValues.truthy(eval(c.cond(), scope))) {
                return eval(c.then(), scope);
            }
            return c.orElse() == null
                    ? new Undefined("the inline if-expression on template line " + c.line()
                            + " evaluated to false and no else section was defined.")
                    : eval(c.orElse(), scope);
        }
        throw new TemplateException("cannot evaluate " + n.getClass().getSimpleName());
    }

    private Object evalOrNull(Node n, Scope scope) {
        return n == null ? null : eval(n, scope);
    }

    private Object binary(Node.Binary b, Scope scope) {
        switch (b.op()) {
            case "and" -> {
                Object l = eval(b.left(), scope);
                return PyValues.truthy(l) ? eval(b.right(), scope) : l;
            }
            case "or" -> {
                Object l = eval(b.left(), scope);
                return PyValues.truthy(l) ? l : eval(b.right(), scope);
            }
            case "~" -> {
                return PyValues.str(eval(b.left(), scope)) + PyValues.str(eval(b.right(), scope));
            }
            default -> {
                return PyValues.binary(b.op(), eval(b.left(), scope), eval(b.right(), scope));
            }
        }
    }

    private static boolean compare(String op, Object a, Object b) {
        return switch (op) {
            case "==" -> PyValues.eq(a, b);
            case "!=" -> !PyValues.eq(a, b);
            case "<" -> PyValues.compare(a, b, op) < 0;
            case "<=" -> PyValues.compare(a, b, op) <= 0;
            case ">" -> PyValues.compare(a, b, op) > 0;
            case ">=" -> PyValues.compare(a, b, op) >= 0;
            case "in" -> PyValues.contains(b, a);
            case "not in" -> !PyValues.contains(b, a);
            default -> throw new IllegalStateException(op);
        };
    }

    private void evalArgs(Node.Call c, Scope scope, List<Object> args, Map<String, Object> kwargs) {
        c.args().forEach(a -> args.add(eval(a, scope)));
        for (int i = 0; i < c.kwNames().size(); i++) {
            kwargs.put(c.kwNames().get(i), eval(c.kwValues().get(i), scope));
        }
    }

    static Object invoke(Object callee, List<Object> args, Map<String, Object> kwargs, int line) {
        if (callee instanceof JinjaFunction f) {
            return PyValues.fromJava(f.call(args, kwargs));
        }
        if (callee instanceof Undefined u) {
            throw u.fail();
        }
        throw new TemplateException("'" + PyValues.typeName(callee) + "' object is not callable (template line "
                + line + ")");
    }

    /**
     * Applies a filter chain; the innermost filter's value is {@code input} when its value node is null (filter
     * blocks, block sets), else evaluated.
     */
    private Object applyFilterChain(Node.Filter f, Object input, Scope scope) {
        Object value;
        if (f.value() == null) {
            value = input;
        } else if (f.value() instanceof Node.Filter inner) {
            value = applyFilterChain(inner, input, scope);
        } else {
            value = eval(f.value(), scope);
        }
        List<Object> args = new ArrayList<>();
        f.args().forEach(a -> args.add(eval(a, scope)));
        Map<String, Object> kwargs = new LinkedHashMap<>();
        for (int i = 0; i < f.kwNames().size(); i++) {
            kwargs.put(f.kwNames().get(i), eval(f.kwValues().get(i), scope));
        }
        return Filters.apply(f.name(), value, args, kwargs, this);
    }

    /** Calls a filter by name, for the {@code map} filter. */
    Object callFilter(String name, Object value, List<Object> args, Map<String, Object> kwargs) {
        if (!Filters.exists(name)) {
            throw new TemplateException("no filter named '" + name + "'");
        }
        return Filters.apply(name, value, args, kwargs, this);
    }

    /** Calls a test by name, for {@code select}/{@code reject}/{@code selectattr}/{@code rejectattr}. */
    boolean callTest(String name, Object value, List<Object> args) {
        if (!Tests.exists(name)) {
            throw new TemplateException("no test named '" + name + "'");
        }
        return Tests.apply(name, value, args, this);
    }

    // ---- loop context -----------------------------------------------------------------------

    /** jinja2's {@code loop} variable for one {@code for} statement. */
    static final class LoopContext {
        final List<Object> items;
        int index0;

        LoopContext(List<Object> items) {
            this.items = items;
        }

        Object attr(String name) {
            int n = items.size();
            return switch (name) {
                case "index" -> (long) index0 + 1;
                case "index0" -> (long) index0;
                case "revindex" -> (long) (n - index0);
                case "revindex0" -> (long) (n - index0 - 1);
                case "first" -> index0 == 0;
                case "last" -> index0 == n - 1;
                case "length" -> (long) n;
                case "depth" -> 1L;
                case "depth0" -> 0L;
                case "previtem" -> index0 > 0 ? items.get(index0 - 1)
                        : new Undefined("there is no previous item");
                case "nextitem" -> index0 < n - 1 ? items.get(index0 + 1) : new Undefined("there is no next item");
                case "cycle" -> (JinjaFunction) (args, kwargs) -> {
                    if (args.isEmpty()) {
                        throw new TemplateException("no items for cycling given");
                    }
                    return args.get(index0 % args.size());
                };
                default -> new Undefined("'loop' has no attribute '" + name + "'");
            };
        }

        @Override
        public String toString() {
            return "<LoopContext " + (index0 + 1) + "/" + items.size() + ">";
        }
    }
}
