package dev.quiver.edge.jinja;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits template source into tokens the way jinja2's lexer does with the settings Hugging Face uses
 * ({@code trim_blocks=True}, {@code lstrip_blocks=True}, {@code keep_trailing_newline=False}): text between tags,
 * {@code {{ }}} / {@code {% %}} delimiters, and inside them names, literals and operators. Comments vanish here;
 * {@code {% raw %}} bodies come out as plain text.
 *
 * <p>Whitespace rules, in jinja2's order: a {@code -} beside a delimiter strips all whitespace on that side; else a
 * block or comment tag that is alone on its line after spaces/tabs loses them (lstrip_blocks, unless opened with
 * {@code {%+}); the first newline after a block or comment tag is dropped (trim_blocks, unless closed with
 * {@code +%}}).
 */
final class Lexer {
    enum Kind { TEXT, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INT, FLOAT, OP, EOF }

    record Token(Kind kind, String text, Object value, int line) {
        boolean is(Kind k, String t) {
            return kind == k && text.equals(t);
        }

        boolean isName(String name) {
            return kind == Kind.NAME && text.equals(name);
        }

        boolean isOp(String op) {
            return kind == Kind.OP && text.equals(op);
        }

        String describe() {
            return switch (kind) {
                case EOF -> "end of template";
                case VAR_END -> "'}}'";
                case BLOCK_END -> "'%}'";
                case TEXT -> "template text";
                default -> "'" + text + "'";
            };
        }
    }

    /** Operators, longest first so that {@code //} wins over {@code /}. */
    private static final String[] OPERATORS = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~",
        "<", ">", "=", "(", ")", "[", "]", "{", "}", ".", ",", ":", "|"};

    private final String src;
    private final List<Token> out = new ArrayList<>();
    private int pos;
    private int line = 1;

    private Lexer(String source) {
        this.src = normalize(source);
    }

    static List<Token> tokenize(String source) {
        Lexer lx = new Lexer(source);
        lx.run();
        return lx.out;
    }

    /** jinja2 joins {@code source.splitlines()} with "\n": newlines become "\n" and one trailing newline goes. */
    private static String normalize(String s) {
        String n = s.replace("\r\n", "\n").replace('\r', '\n');
        return n.endsWith("\n") ? n.substring(0, n.length() - 1) : n;
    }

    private void run() {
        boolean lineStarting = true;
        while (pos < src.length()) {
            int open = nextTagStart(pos);
            String text = src.substring(pos, open < 0 ? src.length() : open);
            if (open < 0) {
                emitText(text);
                pos = src.length();
                break;
            }
            char type = src.charAt(open + 1);
            char sign = open + 2 < src.length() ? src.charAt(open + 2) : 0;
            if (sign == '-') {
                text = rstripAll(text);
            } else if (sign != '+' && type != '{') {
                int lpos = text.lastIndexOf('\n') + 1;
                if ((lpos > 0 || lineStarting) && lpos < text.length() && onlySpaces(text, lpos)) {
                    text = text.substring(0, lpos);
                }
            }
            emitText(text);
            line += count(src, pos, open);
            pos = open + 2 + (sign == '-' || sign == '+' ? 1 : 0);
            switch (type) {
                case '#' -> comment();
                case '{' -> expressionTag(Kind.VAR_BEGIN, "}}", Kind.VAR_END);
                default -> blockTag();
            }
            lineStarting = pos > 0 && src.charAt(pos - 1) == '\n';
        }
        out.add(new Token(Kind.EOF, "", null, line));
    }

    private int nextTagStart(int from) {
        int i = from;
        while (true) {
            i = src.indexOf('{', i);
            if (i < 0 || i + 1 >= src.length()) {
                return -1;
            }
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') {
                return i;
            }
            i++;
        }
    }

    private void emitText(String text) {
        if (!text.isEmpty()) {
            out.add(new Token(Kind.TEXT, text, text, line));
        }
    }

    private void comment() {
        int end = src.indexOf("#}", pos);
        if (end < 0) {
            throw new TemplateException("unclosed comment (missing '#}') at line " + line);
        }
        boolean strip = end > pos && src.charAt(end - 1) == '-';
        line += count(src, pos, end + 2);
        pos = end + 2;
        afterBlockEnd(strip, false);
    }

    private void blockTag() {
        int save = pos;
        skipSpaces();
        if (src.startsWith("raw", pos) && !isIdentPart(charAt(pos + 3))) {
            pos += 3;
            skipSpaces();
            boolean strip = src.startsWith("-%}", pos);
            boolean plus = src.startsWith("+%}", pos);
            if (!strip && !plus && !src.startsWith("%}", pos)) {
                throw new TemplateException("expected '%}' after 'raw' at line " + line);
            }
            pos += strip || plus ? 3 : 2;
            afterBlockEnd(strip, true);  // as in jinja2, trim_blocks does not apply after "{% raw %}"
            raw();
            return;
        }
        pos = save;
        expressionTag(Kind.BLOCK_BEGIN, "%}", Kind.BLOCK_END);
    }

    /** Body of {@code {% raw %}} up to {@code {% endraw %}}, emitted as text with the same whitespace rules. */
    private void raw() {
        int i = pos;
        while (true) {
            int open = src.indexOf("{%", i);
            if (open < 0) {
                throw new TemplateException("missing '{% endraw %}' at line " + line);
            }
            int j = open + 2;
            char sign = charAt(j);
            if (sign == '-' || sign == '+') {
                j++;
            }
            while (j < src.length() && Character.isWhitespace(src.charAt(j))) {
                j++;
            }
            if (src.startsWith("endraw", j)) {
                int k = j + 6;
                while (k < src.length() && Character.isWhitespace(src.charAt(k))) {
                    k++;
                }
                boolean strip = src.startsWith("-%}", k);
                boolean plus = src.startsWith("+%}", k);
                if (strip || plus || src.startsWith("%}", k)) {
                    String text = src.substring(pos, open);
                    if (sign == '-') {
                        text = rstripAll(text);
                    } else if (sign != '+') {
                        int lpos = text.lastIndexOf('\n') + 1;
                        if (lpos > 0 && lpos < text.length() && onlySpaces(text, lpos)) {
                            text = text.substring(0, lpos);
                        }
                    }
                    emitText(text);
                    line += count(src, pos, k);
                    pos = k + (strip || plus ? 3 : 2);
                    afterBlockEnd(strip, plus);
                    return;
                }
            }
            i = open + 2;
        }
    }

    private void expressionTag(Kind begin, String close, Kind end) {
        out.add(new Token(begin, begin == Kind.VAR_BEGIN ? "{{" : "{%", null, line));
        int depth = 0;  // open brackets: like jinja2, "}}" inside {...} or [...] is two braces, not the tag's end
        while (true) {
            skipSpaces();
            if (pos >= src.length()) {
                throw new TemplateException("unexpected end of template: missing '" + close + "' (opened at line "
                        + line + ")");
            }
            if (depth > 0) {
                Token t = lexToken();
                if (t.kind() == Kind.OP && "([{".contains(t.text())) {
                    depth++;
                } else if (t.kind() == Kind.OP && ")]}".contains(t.text())) {
                    depth--;
                }
                continue;
            }
            if (src.startsWith("-" + close, pos) || src.startsWith("+" + close, pos) && end == Kind.BLOCK_END) {
                boolean strip = src.charAt(pos) == '-';
                pos += 3;
                out.add(new Token(end, close, null, line));
                if (end == Kind.BLOCK_END) {
                    afterBlockEnd(strip, !strip);
                } else if (strip) {
                    skipSpaces();
                }
                return;
            }
            if (src.startsWith(close, pos)) {
                pos += 2;
                out.add(new Token(end, close, null, line));
                if (end == Kind.BLOCK_END) {
                    afterBlockEnd(false, false);
                }
                return;
            }
            if (end == Kind.VAR_END && src.startsWith("%}", pos) || end == Kind.BLOCK_END && src.startsWith("}}", pos)) {
                throw new TemplateException("unexpected '" + src.substring(pos, pos + 2) + "' at line " + line
                        + " (expected '" + close + "')");
            }
            Token t = lexToken();
            if (t.kind() == Kind.OP && "([{".contains(t.text())) {
                depth++;
            }
        }
    }

    /** After a block or comment closes: {@code -} strips all whitespace, else trim_blocks drops one newline. */
    private void afterBlockEnd(boolean strip, boolean keepNewline) {
        if (strip) {
            skipSpaces();
        } else if (!keepNewline && pos < src.length() && src.charAt(pos) == '\n') {
            pos++;
            line++;
        }
    }

    private Token lexToken() {
        char c = src.charAt(pos);
        int start = pos;
        if (Character.isLetter(c) || c == '_') {
            while (pos < src.length() && isIdentPart(src.charAt(pos))) {
                pos++;
            }
            String name = src.substring(start, pos);
            return add(new Token(Kind.NAME, name, name, line));
        }
        if (Character.isDigit(c)) {
            number();
            return out.get(out.size() - 1);
        }
        if (c == '\'' || c == '"') {
            string(c);
            return out.get(out.size() - 1);
        }
        for (String op : OPERATORS) {
            if (src.startsWith(op, pos)) {
                pos += op.length();
                return add(new Token(Kind.OP, op, null, line));
            }
        }
        throw new TemplateException("unexpected character '" + c + "' at line " + line);
    }

    private Token add(Token t) {
        out.add(t);
        return t;
    }

    private void number() {
        int start = pos;
        while (pos < src.length() && (Character.isDigit(src.charAt(pos)) || src.charAt(pos) == '_')) {
            pos++;
        }
        boolean isFloat = false;
        if (charAt(pos) == '.' && Character.isDigit(charAt(pos + 1))) {
            isFloat = true;
            pos++;
            while (pos < src.length() && (Character.isDigit(src.charAt(pos)) || src.charAt(pos) == '_')) {
                pos++;
            }
        }
        if ((charAt(pos) == 'e' || charAt(pos) == 'E')
                && (Character.isDigit(charAt(pos + 1))
                || (charAt(pos + 1) == '+' || charAt(pos + 1) == '-') && Character.isDigit(charAt(pos + 2)))) {
            isFloat = true;
            pos += 2;
            while (pos < src.length() && Character.isDigit(src.charAt(pos))) {
                pos++;
            }
        }
        String text = src.substring(start, pos).replace("_", "");
        if (isFloat) {
            out.add(new Token(Kind.FLOAT, text, Double.parseDouble(text), line));
        } else {
            out.add(new Token(Kind.INT, text, PyValues.parseInt(text), line));
        }
    }

    /** A Python string literal; escapes decode as Python's "unicode-escape" does (unknown ones stay verbatim). */
    private void string(char quote) {
        int startLine = line;
        pos++;
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= src.length()) {
                throw new TemplateException("unterminated string starting at line " + startLine);
            }
            char c = src.charAt(pos++);
            if (c == quote) {
                break;
            }
            if (c == '\n') {
                line++;
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= src.length()) {
                throw new TemplateException("unterminated string starting at line " + startLine);
            }
            char e = src.charAt(pos++);
            switch (e) {
                case 'n' -> sb.append('\n');
                case 't' -> sb.append('\t');
                case 'r' -> sb.append('\r');
                case '\\' -> sb.append('\\');
                case '\'' -> sb.append('\'');
                case '"' -> sb.append('"');
                case 'a' -> sb.append('\u0007');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'v' -> sb.append('\u000b');
                case '0' -> sb.append('\0');
                case '\n' -> line++;
                case 'x' -> sb.appendCodePoint(hex(2));
                case 'u' -> sb.appendCodePoint(hex(4));
                case 'U' -> sb.appendCodePoint(hex(8));
                default -> sb.append('\\').append(e);
            }
        }
        String s = sb.toString();
        out.add(new Token(Kind.STRING, s, s, startLine));
    }

    private int hex(int digits) {
        if (pos + digits > src.length()) {
            throw new TemplateException("truncated \\x/\\u escape at line " + line);
        }
        try {
            int v = Integer.parseInt(src.substring(pos, pos + digits), 16);
            pos += digits;
            return v;
        } catch (NumberFormatException e) {
            throw new TemplateException("bad \\x/\\u escape at line " + line);
        }
    }

    private void skipSpaces() {
        while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) {
            if (src.charAt(pos) == '\n') {
                line++;
            }
            pos++;
        }
    }

    private char charAt(int i) {
        return i < src.length() ? src.charAt(i) : 0;
    }

    private static boolean isIdentPart(char c) {
        return Character.isLetterOrDigit(c) || c == '_';
    }

    private static boolean onlySpaces(String s, int from) {
        for (int i = from; i < s.length(); i++) {
            if (!Character.isWhitespace(s.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    private static String rstripAll(String s) {
        int end = s.length();
        while (end > 0 && Character.isWhitespace(s.charAt(end - 1))) {
            end--;
        }
        return s.substring(0, end);
    }

    private static int count(String s, int from, int to) {
        int n = 0;
        for (int i = from; i < to && i < s.length(); i++) {
            if (s.charAt(i) == '\n') {
                n++;
            }
        }
        return n;
    }
}
