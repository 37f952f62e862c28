package dev.quiver.edge.jinja;

import dev.quiver.edge.jinja.Lexer.Kind;
import dev.quiver.edge.jinja.Lexer.Token;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Builds the {@link Node} tree from {@link Lexer} tokens, following jinja2's grammar and operator precedence:
 * conditional expression, {@code or}, {@code and}, {@code not}, comparisons (chained, {@code in}, {@code not in}),
 * {@code + -}, {@code ~}, {@code * / // %}, {@code **}, unary {@code - +}, then primaries with postfix
 * {@code .attr}, {@code [..]}, calls, and filters/tests (which bind tighter than arithmetic, as in jinja2).
 *
 * <p>Statements outside the supported set ({@code include}, {@code extends}, {@code block}, {@code import},
 * {@code with}, {@code do}, recursive loops, ...) fail here with a message naming them, so that a template never
 * renders differently from jinja2 by silently skipping something.
 */
final class Parser {
    private static final Set<String> UNSUPPORTED = Set.of("extends", "block", "include", "import", "from", "with",
            "autoescape", "do", "trans", "pluralize");

    private final List<Token> tokens;
    private int pos;

    private Parser(List<Token> tokens) {
        this.tokens = tokens;
    }

    static List<Node> parse(String source) {
        return new Parser(Lexer.tokenize(source)).subparse(Set.of());
    }

    // ---- statements -----------------------------------------------------------------------

    /** Parses nodes until EOF or a block tag whose name is in {@code endTags} (left unconsumed after "{%"). */
    private List<Node> subparse(Set<String> endTags) {
        List<Node> body = new ArrayList<>();
        while (true) {
            Token t = peek();
            switch (t.kind()) {
                case EOF -> {
                    if (!endTags.isEmpty()) {
                        throw error("unexpected end of template: expected one of " + new java.util.TreeSet<>(endTags), t);
                    }
                    return body;
                }
                case TEXT -> {
                    next();
                    body.add(new Node.Text(t.text(), t.line()));
                }
                case VAR_BEGIN -> {
                    next();
                    Node e = tuple(true);
                    expect(Kind.VAR_END, "}}");
                    body.add(new Node.Output(e, t.line()));
                }
                case BLOCK_BEGIN -> {
                    Token name = tokens.get(pos + 1);
                    if (name.kind() == Kind.NAME && endTags.contains(name.text())) {
                        next();
                        return body;
                    }
                    next();
                    body.add(statement());
                }
                default -> throw error("unexpected " + t.describe(), t);
            }
        }
    }

    private Node statement() {
        Token t = next();
        if (t.kind() != Kind.NAME) {
            throw error("expected a statement name after '{%', got " + t.describe(), t);
        }
        return switch (t.text()) {
            case "if" -> ifStatement(t);
            case "for" -> forStatement(t);
            case "set" -> setStatement(t);
            case "macro" -> macroStatement(t);
            case "call" -> callStatement(t);
            case "filter" -> filterStatement(t);
            case "generation" -> {
                blockEnd();
                List<Node> body = subparse(Set.of("endgeneration"));
                endTag("endgeneration");
                yield new Node.Generation(body, t.line());
            }
            case "break" -> {
                blockEnd();
                yield new Node.Break(t.line());
            }
            case "continue" -> {
                blockEnd();
                yield new Node.Continue(t.line());
            }
            default -> {
                if (UNSUPPORTED.contains(t.text())) {
                    throw error("unsupported template statement '" + t.text() + "'", t);
                }
                throw error("unknown template statement '" + t.text() + "'", t);
            }
        };
    }

    private Node ifStatement(Token t) {
        List<Node> conds = new ArrayList<>();
        List<List<Node>> bodies = new ArrayList<>();
        List<Node> orElse = List.of();
        conds.add(expression(true));
        blockEnd();
        while (true) {
            bodies.add(subparse(Set.of("elif", "else", "endif")));
            Token tag = next();
            if (tag.isName("elif")) {
                conds.add(expression(true));
                blockEnd();
            } else if (tag.isName("else")) {
                blockEnd();
                orElse = subparse(Set.of("endif"));
                endTag("endif");
                break;
            } else {
                blockEnd();
                break;
            }
        }
        return new Node.If(conds, bodies, orElse, t.line());
    }

    private Node forStatement(Token t) {
        Node target = assignTarget(false);
        if (!next().isName("in")) {
            throw error("expected 'in' in for loop", t);
        }
        Node iter = tuple(false);
        Node filter = null;
        if (peek().isName("if")) {
            next();
            filter = expression(true);
        }
        if (peek().isName("recursive")) {
            throw error("unsupported template construct: recursive for loops", peek());
        }
        blockEnd();
        List<Node> body = subparse(Set.of("else", "endfor"));
        List<Node> orElse = List.of();
        if (next().isName("else")) {
            blockEnd();
            orElse = subparse(Set.of("endfor"));
            endTag("endfor");
        } else {
            blockEnd();
        }
        return new Node.For(target, iter, filter, body, orElse, t.line());
    }

    private Node setStatement(Token t) {
        Node target = assignTarget(true);
        if (peek().isOp("=")) {
            next();
            Node value = tuple(true);
            blockEnd();
            return new Node.Set(target, value, t.line());
        }
        Node chain = null;
        while (peek().isOp("|")) {
            next();
            chain = filter(chain);
        }
        Node.Filter filter = (Node.Filter) chain;
        blockEnd();
        List<Node> body = subparse(Set.of("endset"));
        endTag("endset");
        return new Node.SetBlock(target, body, filter, t.line());
    }

    private Node macroStatement(Token t) {
        String name = name();
        List<String> params = new ArrayList<>();
        List<Node> defaults = new ArrayList<>();
        signature(params, defaults);
        blockEnd();
        List<Node> body = subparse(Set.of("endmacro"));
        endTag("endmacro");
        return new Node.Macro(name, params, defaults, body, t.line());
    }

    private Node callStatement(Token t) {
        List<String> params = new ArrayList<>();
        List<Node> defaults = new ArrayList<>();
        if (peek().isOp("(")) {
            signature(params, defaults);
        }
        Node call = expression(true);
        if (!(call instanceof Node.Call c)) {
            throw error("expected a macro call after 'call'", t);
        }
        blockEnd();
        List<Node> body = subparse(Set.of("endcall"));
        endTag("endcall");
        return new Node.CallBlock(c, params, defaults, body, t.line());
    }

    private Node filterStatement(Token t) {
        Node chain = filter(null);
        while (peek().isOp("|")) {
            next();
            chain = filter(chain);
        }
        blockEnd();
        List<Node> body = subparse(Set.of("endfilter"));
        endTag("endfilter");
        return new Node.FilterBlock((Node.Filter) chain, body, t.line());
    }

    private void signature(List<String> params, List<Node> defaults) {
        expectOp("(");
        while (!peek().isOp(")")) {
            if (!params.isEmpty()) {
                expectOp(",");
                if (peek().isOp(")")) {
                    break;
                }
            }
            params.add(name());
            if (peek().isOp("=")) {
                next();
                defaults.add(expression(true));
            } else if (!defaults.isEmpty()) {
                throw error("non-default argument follows default argument", peek());
            }
        }
        expectOp(")");
    }

    private Node assignTarget(boolean allowNamespace) {
        Token first = peek();
        List<Node> items = new ArrayList<>();
        boolean paren = false;
        if (first.isOp("(")) {
            next();
            paren = true;
        }
        while (true) {
            Token n = next();
            if (n.kind() != Kind.NAME) {
                throw error("expected a name to assign to, got " + n.describe(), n);
            }
            if (allowNamespace && peek().isOp(".")) {
                next();
                items.add(new Node.NsAttr(n.text(), name(), n.line()));
            } else {
                items.add(new Node.Name(n.text(), n.line()));
            }
            if (!peek().isOp(",")) {
                break;
            }
            next();
            if (paren && peek().isOp(")")) {
                break;
            }
        }
        if (paren) {
            expectOp(")");
        }
        return items.size() == 1 && !paren ? items.get(0) : new Node.TupleLit(items, first.line());
    }

    /** Consumes the closing tag's name (its "{%" is already consumed by {@link #subparse}) and "%}". */
    private void endTag(String name) {
        Token t = next();
        if (!t.isName(name)) {
            throw error("expected '" + name + "', got " + t.describe(), t);
        }
        blockEnd();
    }

    private void blockEnd() {
        expect(Kind.BLOCK_END, "%}");
    }

    // ---- expressions ----------------------------------------------------------------------

    /** An expression or a bare tuple {@code a, b}; {@code withCond} allows {@code x if c else y}. */
    private Node tuple(boolean withCond) {
        Token start = peek();
        Node first = expression(withCond);
        if (!peek().isOp(",")) {
            return first;
        }
        List<Node> items = new ArrayList<>(List.of(first));
        while (peek().isOp(",")) {
            next();
            if (endOfTuple()) {
                break;
            }
            items.add(expression(withCond));
        }
        return new Node.TupleLit(items, start.line());
    }

    private boolean endOfTuple() {
        Token t = peek();
        return t.kind() == Kind.VAR_END || t.kind() == Kind.BLOCK_END || t.isOp(")") || t.isOp("]") || t.isOp("}")
                || t.isName("if") || t.isName("in");
    }

    private Node expression(boolean withCond) {
        return withCond ? condExpr() : or();
    }

    private Node condExpr() {
        Node expr = or();
        while (peek().isName("if")) {
            Token t = next();
            Node cond = or();
            Node orElse = null;
            if (peek().isName("else")) {
                next();
                orElse = condExpr();
            }
            expr = new Node.CondExpr(cond, expr, orElse, t.line());
        }
        return expr;
    }

    private Node or() {
        Node left = and();
        while (peek().isName("or")) {
            Token t = next();
            left = new Node.Binary("or", left, and(), t.line());
        }
        return left;
    }

    private Node and() {
        Node left = not();
        while (peek().isName("and")) {
            Token t = next();
            left = new Node.Binary("and", left, not(), t.line());
        }
        return left;
    }

    private Node not() {
        if (peek().isName("not")) {
            Token t = next();
            return new Node.Unary("not", not(), t.line());
        }
        return compare();
    }

    private Node compare() {
        Token start = peek();
        Node first = math1();
        List<String> ops = new ArrayList<>();
        List<Node> rest = new ArrayList<>();
        while (true) {
            Token t = peek();
            if (t.kind() == Kind.OP && Set.of("==", "!=", "<", "<=", ">", ">=").contains(t.text())) {
                next();
                ops.add(t.text());
            } else if (t.isName("in")) {
                next();
                ops.add("in");
            } else if (t.isName("not") && tokens.get(pos + 1).isName("in")) {
                next();
                next();
                ops.add("not in");
            } else {
                break;
            }
            rest.add(math1());
        }
        return ops.isEmpty() ? first : new Node.Compare(first, ops, rest, start.line());
    }

    private Node math1() {
        Node left = concat();
        while (peek().isOp("+") || peek().isOp("-")) {
            Token t = next();
            left = new Node.Binary(t.text(), left, concat(), t.line());
        }
        return left;
    }

    private Node concat() {
        Node left = math2();
        while (peek().isOp("~")) {
            Token t = next();
            left = new Node.Binary("~", left, math2(), t.line());
        }
        return left;
    }

    private Node math2() {
        Node left = pow();
        while (peek().isOp("*") || peek().isOp("/") || peek().isOp("//") || peek().isOp("%")) {
            Token t = next();
            left = new Node.Binary(t.text(), left, pow(), t.line());
        }
        return left;
    }

    private Node pow() {
        Node left = unary(true);
        while (peek().isOp("**")) {
            Token t = next();
            left = new Node.Binary("**", left, unary(true), t.line());
        }
        return left;
    }

    private Node unary(boolean withFilter) {
        Token t = peek();
        Node node;
        if (t.isOp("-") || t.isOp("+")) {
            next();
            node = new Node.Unary(t.text(), unary(false), t.line());
        } else {
            node = postfix(primary());
        }
        return withFilter ? filterExpr(node) : node;
    }

    private Node primary() {
        Token t = next();
        switch (t.kind()) {
            case NAME -> {
                return switch (t.text()) {
                    case "true", "True" -> new Node.Const(Boolean.TRUE, t.line());
                    case "false", "False" -> new Node.Const(Boolean.FALSE, t.line());
                    case "none", "None" -> new Node.Const(null, t.line());
                    default -> new Node.Name(t.text(), t.line());
                };
            }
            case STRING -> {
                StringBuilder s = new StringBuilder(t.text());
                while (peek().kind() == Kind.STRING) {
                    s.append(next().text());
                }
                return new Node.Const(s.toString(), t.line());
            }
            case INT, FLOAT -> {
                return new Node.Const(t.value(), t.line());
            }
            case OP -> {
                switch (t.text()) {
                    case "(" -> {
                        if (peek().isOp(")")) {
                            next();
                            return new Node.TupleLit(List.of(), t.line());
                        }
                        Node first = expression(true);
                        if (peek().isOp(")")) {
                            next();
                            return first;
                        }
                        List<Node> items = new ArrayList<>(List.of(first));
                        while (peek().isOp(",")) {
                            next();
                            if (peek().isOp(")")) {
                                break;
                            }
                            items.add(expression(true));
                        }
                        expectOp(")");
                        return new Node.TupleLit(items, t.line());
                    }
                    case "[" -> {
                        List<Node> items = new ArrayList<>();
                        while (!peek().isOp("]")) {
                            if (!items.isEmpty()) {
                                expectOp(",");
                                if (peek().isOp("]")) {
                                    break;
                                }
                            }
                            items.add(expression(true));
                        }
                        expectOp("]");
                        return new Node.ListLit(items, t.line());
                    }
                    case "{" -> {
                        List<Node> keys = new ArrayList<>();
                        List<Node> values = new ArrayList<>();
                        while (!peek().isOp("}")) {
                            if (!keys.isEmpty()) {
                                expectOp(",");
                                if (peek().isOp("}")) {
                                    break;
                                }
                            }
                            keys.add(expression(true));
                            expectOp(":");
                            values.add(expression(true));
                        }
                        expectOp("}");
                        return new Node.DictLit(keys, values, t.line());
                    }
                    default -> throw error("unexpected " + t.describe(), t);
                }
            }
            default -> throw error("unexpected " + t.describe(), t);
        }
    }

    private Node postfix(Node node) {
        while (true) {
            Token t = peek();
            if (t.isOp(".")) {
                next();
                Token attr = next();
                if (attr.kind() == Kind.NAME) {
                    node = new Node.GetAttr(node, attr.text(), attr.line());
                } else if (attr.kind() == Kind.INT) {
                    node = new Node.GetItem(node, new Node.Const(attr.value(), attr.line()), attr.line());
                } else {
                    throw error("expected an attribute name after '.', got " + attr.describe(), attr);
                }
            } else if (t.isOp("[")) {
                next();
                node = subscript(node, t);
            } else if (t.isOp("(")) {
                node = call(node);
            } else {
                return node;
            }
        }
    }

    private Node subscript(Node obj, Token open) {
        Node start = null;
        if (!peek().isOp(":")) {
            start = expression(true);
            if (peek().isOp("]")) {
                next();
                return new Node.GetItem(obj, start, open.line());
            }
            if (peek().isOp(",")) {
                throw error("unsupported template construct: tuple subscripts", peek());
            }
        }
        expectOp(":");
        Node stop = null;
        Node step = null;
        if (!peek().isOp("]") && !peek().isOp(":")) {
            stop = expression(true);
        }
        if (peek().isOp(":")) {
            next();
            if (!peek().isOp("]")) {
                step = expression(true);
            }
        }
        expectOp("]");
        return new Node.Slice(obj, start, stop, step, open.line());
    }

    private Node.Call call(Node callee) {
        Token open = next();
        List<Node> args = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        List<Node> kwValues = new ArrayList<>();
        callArgs(args, kwNames, kwValues);
        return new Node.Call(callee, args, kwNames, kwValues, open.line());
    }

    /** Arguments after "(" up to and including ")". */
    private void callArgs(List<Node> args, List<String> kwNames, List<Node> kwValues) {
        boolean first = true;
        while (!peek().isOp(")")) {
            if (!first) {
                expectOp(",");
                if (peek().isOp(")")) {
                    break;
                }
            }
            first = false;
            if (peek().isOp("*") || peek().isOp("**")) {
                throw error("unsupported template construct: *args / **kwargs in calls", peek());
            }
            if (peek().kind() == Kind.NAME && tokens.get(pos + 1).isOp("=")) {
                kwNames.add(next().text());
                next();
                kwValues.add(expression(true));
            } else {
                if (!kwNames.isEmpty()) {
                    throw error("positional argument follows keyword argument", peek());
                }
                args.add(expression(true));
            }
        }
        expectOp(")");
    }

    private Node filterExpr(Node node) {
        while (true) {
            Token t = peek();
            if (t.isOp("|")) {
                next();
                node = filter(node);
            } else if (t.isName("is")) {
                next();
                node = test(node);
            } else if (t.isOp("(")) {
                node = call(node);
            } else {
                return node;
            }
        }
    }

    private Node filter(Node value) {
        Token n = next();
        if (n.kind() != Kind.NAME) {
            throw error("expected a filter name after '|', got " + n.describe(), n);
        }
        if (!Filters.exists(n.text())) {
            throw error("no filter named '" + n.text() + "'", n);
        }
        List<Node> args = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        List<Node> kwValues = new ArrayList<>();
        if (peek().isOp("(")) {
            next();
            callArgs(args, kwNames, kwValues);
        }
        return new Node.Filter(value, n.text(), args, kwNames, kwValues, n.line());
    }

    private Node test(Node value) {
        boolean negated = false;
        if (peek().isName("not")) {
            next();
            negated = true;
        }
        Token n = next();
        if (n.kind() != Kind.NAME) {
            throw error("expected a test name after 'is', got " + n.describe(), n);
        }
        String name = n.text();
        if (!Tests.exists(name)) {
            throw error("no test named '" + name + "'", n);
        }
        List<Node> args = new ArrayList<>();
        Token t = peek();
        if (t.isOp("(")) {
            next();
            List<String> kwNames = new ArrayList<>();
            List<Node> kwValues = new ArrayList<>();
            callArgs(args, kwNames, kwValues);
            if (!kwNames.isEmpty()) {
                throw error("unsupported template construct: keyword arguments to tests", t);
            }
        } else if ((t.kind() == Kind.NAME || t.kind() == Kind.STRING || t.kind() == Kind.INT
                || t.kind() == Kind.FLOAT || t.isOp("[") || t.isOp("{"))
                && !t.isName("else") && !t.isName("or") && !t.isName("and")) {
            if (t.isName("is")) {
                throw error("you cannot chain multiple tests with 'is'", t);
            }
            args.add(postfix(primary()));
        }
        return new Node.Test(value, name, args, negated, n.line());
    }

    // ---- token helpers --------------------------------------------------------------------

    private Token peek() {
        return tokens.get(pos);
    }

    private Token next() {
        Token t = tokens.get(pos);
        if (t.kind() != Kind.EOF) {
            pos++;
        }
        return t;
    }

    private String name() {
        Token t = next();
        if (t.kind() != Kind.NAME) {
            throw error("expected a name, got " + t.describe(), t);
        }
        return t.text();
    }

    private void expect(Kind kind, String what) {
        Token t = next();
        if (t.kind() != kind) {
            throw error("expected '" + what + "', got " + t.describe(), t);
        }
    }

    private void expectOp(String op) {
        Token t = next();
        if (!t.isOp(op)) {
            throw error("expected '" + op + "', got " + t.describe(), t);
        }
    }

    private TemplateException error(String message, Token at) {
        return new TemplateException(message + " (template line " + at.line() + ")");
    }
}
