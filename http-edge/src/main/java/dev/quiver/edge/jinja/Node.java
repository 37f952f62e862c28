package dev.quiver.edge.jinja;

import java.util.List;

/**
 * The template's syntax tree, built by {@link Parser} and walked by {@link Interpreter}. Statements render output;
 * expressions evaluate to Python-like values (see {@link PyValues}). Every node keeps its source line for errors.
 */
sealed interface Node {
    int line();

    // ---- statements -----------------------------------------------------------------------

    /** Literal template text. */
    record Text(String text, int line) implements Node {
    }

    /** {@code {{ expr }}}. */
    record Output(Node expr, int line) implements Node {
    }

    record If(List<Node> conditions, List<List<Node>> bodies, List<Node> orElse, int line) implements Node {
    }

    /** {@code {% for target in iter [if filter] %} body [{% else %} orElse] {% endfor %}}. */
    record For(Node target, Node iter, Node filter, List<Node> body, List<Node> orElse, int line) implements Node {
    }

    /** {@code {% set target = value %}}; target is a {@link Name}, {@link NsAttr} or {@link TupleLit} of names. */
    record Set(Node target, Node value, int line) implements Node {
    }

    /** {@code {% set name [| filters] %}body{% endset %}}; {@code filter} applies to the rendered body or is null. */
    record SetBlock(Node target, List<Node> body, Filter filter, int line) implements Node {
    }

    record Macro(String name, List<String> params, List<Node> defaults, List<Node> body, int line) implements Node {
    }

    /** {@code {% call [(params)] macro(args) %}body{% endcall %}}: the body becomes {@code caller()}. */
    record CallBlock(Call call, List<String> params, List<Node> defaults, List<Node> body, int line)
            implements Node {
    }

    /** {@code {% filter f %}body{% endfilter %}}; {@code filter.value()} is null and gets the rendered body. */
    record FilterBlock(Filter filter, List<Node> body, int line) implements Node {
    }

    /** Transformers' {@code {% generation %}...{% endgeneration %}}: renders its body unchanged. */
    record Generation(List<Node> body, int line) implements Node {
    }

    record Break(int line) implements Node {
    }

    record Continue(int line) implements Node {
    }

    // ---- expressions ----------------------------------------------------------------------

    record Const(Object value, int line) implements Node {
    }

    record Name(String name, int line) implements Node {
    }

    /** {@code ns.attr} as an assignment target. */
    record NsAttr(String namespace, String attr, int line) implements Node {
    }

    record TupleLit(List<Node> items, int line) implements Node {
    }

    record ListLit(List<Node> items, int line) implements Node {
    }

    record DictLit(List<Node> keys, List<Node> values, int line) implements Node {
    }

    /** {@code obj.name}: attribute first, then item (jinja2's getattr). */
    record GetAttr(Node obj, String name, int line) implements Node {
    }

    /** {@code obj[key]}: item first, then attribute (jinja2's getitem). */
    record GetItem(Node obj, Node key, int line) implements Node {
    }

    /** {@code obj[start:stop:step]}; absent parts are null. */
    record Slice(Node obj, Node start, Node stop, Node step, int line) implements Node {
    }

    record Call(Node callee, List<Node> args, List<String> kwNames, List<Node> kwValues, int line) implements Node {
    }

    /** {@code value | name(args)}; {@code value} is null inside filter blocks and block sets. */
    record Filter(Node value, String name, List<Node> args, List<String> kwNames, List<Node> kwValues, int line)
            implements Node {
    }

    /** {@code value is [not] name(args)}. */
    record Test(Node value, String name, List<Node> args, boolean negated, int line) implements Node {
    }

    record Unary(String op, Node operand, int line) implements Node {
    }

    /** Arithmetic, {@code ~}, {@code and}, {@code or}. */
    record Binary(String op, Node left, Node right, int line) implements Node {
    }

    /** A chain such as {@code a < b <= c} or {@code x not in y}. */
    record Compare(Node first, List<String> ops, List<Node> rest, int line) implements Node {
    }

    /** {@code a if cond else b}; {@code orElse} null means undefined. */
    record CondExpr(Node cond, Node then, Node orElse, int line) implements Node {
    }
}
