package dev.quiver.edge.tools;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Splits one reply of a tool-enabled chat request into content and tool calls as its text arrives, for both the
 * streamed and the whole response (the whole one is this stream fed the whole text at once, so the two always
 * agree, whatever the chunking).
 *
 * <p>Text is decided as soon as it cannot be part of a call: text that may be the start of a call marker
 * ({@code <tool_call>}, {@code [TOOL_CALLS]}, a reply opening with {@code {}) is held back until it is decided. A
 * call is sent once it is complete and valid, as two deltas: its id and name, then its arguments. A call that is
 * not valid JSON, names an undeclared tool or has non-object arguments stays in the content as the model wrote it.
 * Whitespace right before or after a call is dropped; content that is only whitespace is no content.
 *
 * <p>Not thread-safe: one reply, one caller at a time.
 */
public final class ToolCallStream {
    private static final String HERMES_OPEN = "<tool_call>";
    private static final String HERMES_CLOSE = "</tool_call>";
    private static final String MISTRAL_MARK = "[TOOL_CALLS]";
    private static final String PYTHON_TAG = "<|python_tag|>";
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .nodeFactory(JsonNodeFactory.withExactBigDecimals(true))
            .build();

    private final ToolFormat format;
    private final Set<String> names;
    private final Supplier<String> ids;
    /** Text received but not yet decided. */
    private final StringBuilder buf = new StringBuilder();
    /** Whitespace after the last content, held until we know whether a call follows. */
    private final StringBuilder heldSpace = new StringBuilder();
    private boolean afterCall;
    private boolean anyContent;
    private int calls;
    private boolean ended;
    /** Where the reply stands for the format's segmenter. */
    private Mode mode = Mode.START;
    /** How far the call in progress has been scanned, so that each piece is scanned once. */
    private final Scan scan = new Scan();

    private enum Mode {
        /** Nothing but whitespace seen yet (decides the whole-reply JSON forms). */
        START,
        /** Outside call markers. */
        TEXT,
        /** Inside a Hermes block or after a Mistral marker. */
        IN_CALL,
        /** The whole reply is a JSON call candidate, decided at the end. */
        WHOLE_JSON,
        /** Plain text to the end (a Llama reply that did not open with a call). */
        PLAIN
    }

    private sealed interface Segment {
    }

    private record Text(String text) implements Segment {
    }

    private record Call(String name, String arguments) implements Segment {
    }

    public ToolCallStream(ToolFormat format, Set<String> names, Supplier<String> ids) {
        this.format = format;
        this.names = Set.copyOf(names);
        this.ids = ids;
    }

    /** A stream with the format's own random call ids. */
    public ToolCallStream(ToolFormat format, Set<String> names) {
        this(format, names, idsOf(format, new Random()));
    }

    static Supplier<String> idsOf(ToolFormat format, Random random) {
        return () -> format.newCallId(random);
    }

    /** Parses a whole reply. */
    public static ToolParse parse(ToolFormat format, Set<String> names, String text) {
        return parse(format, names, text, idsOf(format, new Random()));
    }

    public static ToolParse parse(ToolFormat format, Set<String> names, String text, Supplier<String> ids) {
        ToolCallStream s = new ToolCallStream(format, names, ids);
        List<ToolDelta> all = new ArrayList<>(s.accept(text));
        all.addAll(s.finish());
        return assemble(all);
    }

    /** Reassembles deltas into the whole reply's parse (what a client does with the stream). */
    public static ToolParse assemble(List<ToolDelta> deltas) {
        StringBuilder content = new StringBuilder();
        List<String[]> calls = new ArrayList<>();
        for (ToolDelta d : deltas) {
            if (d instanceof ToolDelta.Content c) {
                content.append(c.text());
            } else if (d instanceof ToolDelta.CallStart s) {
                calls.add(new String[] {s.id(), s.name(), ""});
            } else if (d instanceof ToolDelta.CallArguments a) {
                calls.get(a.index())[2] += a.arguments();
            }
        }
        return new ToolParse(content.toString().isBlank() ? null : content.toString(),
                calls.stream().map(c -> new ToolCall(c[0], c[1], c[2])).toList());
    }

    /** The number of calls sent so far. */
    public int calls() {
        return calls;
    }

    /** Takes the next piece of the reply; returns what can be sent now. */
    public List<ToolDelta> accept(String piece) {
        if (ended) {
            throw new IllegalStateException("the reply has ended");
        }
        buf.append(piece);
        return emit(segments(false));
    }

    /** The reply ended: decides everything held back. */
    public List<ToolDelta> finish() {
        if (ended) {
            return List.of();
        }
        List<ToolDelta> out = emit(segments(true));
        ended = true;
        if (anyContent && !heldSpace.isEmpty()) {
            out.add(new ToolDelta.Content(heldSpace.toString()));
        }
        heldSpace.setLength(0);
        return out;
    }

    private List<ToolDelta> emit(List<Segment> segments) {
        List<ToolDelta> out = new ArrayList<>();
        for (Segment s : segments) {
            if (s instanceof Call c) {
                heldSpace.setLength(0);
                afterCall = true;
                out.add(new ToolDelta.CallStart(calls, ids.get(), c.name()));
                out.add(new ToolDelta.CallArguments(calls, c.arguments()));
                calls++;
                continue;
            }
            String t = ((Text) s).text();
            if (afterCall) {
                t = t.stripLeading();
                if (t.isEmpty()) {
                    continue;
                }
                afterCall = false;
            }
            String body = t.stripTrailing();
            if (!body.isEmpty()) {
                out.add(new ToolDelta.Content(heldSpace + body));
                anyContent = true;
                heldSpace.setLength(0);
            }
            heldSpace.append(t, body.length(), t.length());
        }
        return out;
    }

    /** Decides what it can of {@link #buf}, removing the decided text from it. Each turn consumes or stops. */
    private List<Segment> segments(boolean end) {
        List<Segment> out = new ArrayList<>();
        while (true) {
            int before = buf.length();
            Mode was = mode;
            step(end, out);
            if (buf.length() == before && mode == was) {
                return out;
            }
        }
    }

    private void step(boolean end, List<Segment> out) {
        switch (mode) {
            case START -> start(end, out);
            case TEXT -> text(end, out);
            case IN_CALL -> inCall(end, out);
            case WHOLE_JSON -> {
                if (end) {
                    out.addAll(wholeJson(buf.toString()));
                    buf.setLength(0);
                }
            }
            case PLAIN -> take(buf.length(), out);
            default -> throw new IllegalStateException(mode.name());
        }
    }

    private void start(boolean end, List<Segment> out) {
        String s = buf.toString().stripLeading();
        if (s.isEmpty()) {
            if (end) {
                take(buf.length(), out);
            }
            return;
        }
        boolean jsonFirst = format == ToolFormat.LLAMA3_JSON || format == ToolFormat.UNKNOWN;
        if (jsonFirst && (s.startsWith("{") || (format == ToolFormat.UNKNOWN && s.startsWith("["))
                || (format == ToolFormat.LLAMA3_JSON && s.startsWith(PYTHON_TAG)))) {
            mode = Mode.WHOLE_JSON;
            return;
        }
        if (format == ToolFormat.LLAMA3_JSON && PYTHON_TAG.startsWith(s) && !end) {
            return; // may still become <|python_tag|>
        }
        mode = format == ToolFormat.LLAMA3_JSON ? Mode.PLAIN : Mode.TEXT;
    }

    private String marker() {
        return format == ToolFormat.MISTRAL ? MISTRAL_MARK : HERMES_OPEN;
    }

    private void text(boolean end, List<Segment> out) {
        String m = marker();
        int at = buf.indexOf(m);
        if (at >= 0) {
            take(at, out);
            buf.delete(0, m.length());
            mode = Mode.IN_CALL;
            scan.reset(format == ToolFormat.MISTRAL ? -1 : 0);
            return;
        }
        take(end ? buf.length() : buf.length() - heldPrefix(buf, m), out);
    }

    private void inCall(boolean end, List<Segment> out) {
        if (format == ToolFormat.MISTRAL) {
            mistral(end, out);
            return;
        }
        int close = scan.marker(buf, HERMES_CLOSE);
        if (close < 0 && !end) {
            return;
        }
        String block = close < 0 ? buf.toString() : buf.substring(0, close);
        buf.delete(0, close < 0 ? buf.length() : close + HERMES_CLOSE.length());
        mode = Mode.TEXT;
        Call c = null;
        JsonNode n = readAll(block);
        if (n != null) {
            c = call(n);
        }
        if (c != null) {
            out.add(c);
        } else {
            out.add(new Text(HERMES_OPEN + block + (close < 0 ? "" : HERMES_CLOSE)));
        }
    }

    private void mistral(boolean end, List<Segment> out) {
        int i = 0;
        while (i < buf.length() && Character.isWhitespace(buf.charAt(i))) {
            i++;
        }
        if (i == buf.length() && !end) {
            return;
        }
        if (scan.pos < 0 && i < buf.length() && buf.charAt(i) == '[') {
            scan.reset(i);
        }
        int close = scan.pos >= 0 ? scan.closing(buf) : -2;
        if (close == -1 && !end) {
            return; // the array is still open
        }
        if (close >= 0) {
            List<Segment> calls = callList(buf.substring(i, close + 1));
            if (calls != null) {
                out.addAll(calls);
                buf.delete(0, close + 1);
                mode = Mode.TEXT;
                return;
            }
        }
        // NOTE: not a valid call list: the marker and what follows it are content as written; when the array
        // closed, text after it may hold another marker and is read again.
        int upTo = close >= 0 ? close + 1 : close == -2 ? 0 : buf.length();
        out.add(new Text(MISTRAL_MARK + buf.substring(0, upTo)));
        buf.delete(0, upTo);
        mode = Mode.TEXT;
    }

    /**
     * A scan of a call in progress over JSON text that resumes where it stopped when more text arrives: it knows
     * whether it is inside a string and how deeply it is nested. It never steps past an escape or a possible marker
     * whose end has not arrived yet.
     */
    private static final class Scan {
        /** The next index to look at; -1 before the scan has a start. */
        int pos;
        boolean inString;
        int depth;

        void reset(int from) {
            pos = from;
            inString = false;
            depth = 0;
        }

        /** Steps over string contents; false when it must wait for more text. */
        private boolean string(CharSequence s) {
            char ch = s.charAt(pos);
            if (ch == '\\') {
                if (pos + 1 >= s.length()) {
                    return false;
                }
                pos += 2;
                return true;
            }
            if (ch == '"') {
                inString = false;
            }
            pos++;
            return true;
        }

        /** The first {@code marker} not inside a JSON string (an argument may mention the closing tag), or -1. */
        int marker(CharSequence s, String marker) {
            while (pos < s.length()) {
                if (inString) {
                    if (!string(s)) {
                        return -1;
                    }
                    continue;
                }
                char ch = s.charAt(pos);
                if (ch == '"') {
                    inString = true;
                } else if (ch == marker.charAt(0)) {
                    if (pos + marker.length() > s.length()) {
                        return -1;
                    }
                    if (s.subSequence(pos, pos + marker.length()).toString().equals(marker)) {
                        return pos;
                    }
                }
                pos++;
            }
            return -1;
        }

        /** The index of the bracket that closes the one the scan started at, or -1 if it has not arrived. */
        int closing(CharSequence s) {
            while (pos < s.length()) {
                if (inString) {
                    if (!string(s)) {
                        return -1;
                    }
                    continue;
                }
                char ch = s.charAt(pos);
                if (ch == '"') {
                    inString = true;
                } else if (ch == '[' || ch == '{') {
                    depth++;
                } else if (ch == ']' || ch == '}') {
                    depth--;
                    if (depth == 0) {
                        return pos;
                    }
                }
                pos++;
            }
            return -1;
        }
    }

    /** The whole reply as JSON call(s): all valid, or all content. */
    private List<Segment> wholeJson(String text) {
        String s = text.strip();
        if (format == ToolFormat.LLAMA3_JSON && s.startsWith(PYTHON_TAG)) {
            s = s.substring(PYTHON_TAG.length()).strip();
        }
        List<Segment> calls = format == ToolFormat.UNKNOWN && s.startsWith("[") ? callList(s) : callSequence(s);
        return calls != null ? calls : List.of(new Text(text));
    }

    /** A JSON array of calls, all valid, or null. */
    private List<Segment> callList(String s) {
        JsonNode n = readAll(s);
        if (n == null || !n.isArray() || n.isEmpty()) {
            return null;
        }
        List<Segment> out = new ArrayList<>();
        for (JsonNode x : n) {
            Call c = call(x);
            if (c == null) {
                return null;
            }
            out.add(c);
        }
        return out;
    }

    /** One or more JSON call objects separated by {@code ;} (Llama 3's way of several calls), all valid, or null. */
    private List<Segment> callSequence(String s) {
        List<Segment> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            while (i < s.length() && (Character.isWhitespace(s.charAt(i)) || (s.charAt(i) == ';' && !out.isEmpty()))) {
                i++;
            }
            if (i == s.length()) {
                break;
            }
            if (s.charAt(i) != '{') {
                return null;
            }
            Scan objectScan = new Scan();
            objectScan.reset(i);
            int close = objectScan.closing(s);
            if (close < 0) {
                return null;
            }
            JsonNode n = readAll(s.substring(i, close + 1));
            Call c = n == null ? null : call(n);
            if (c == null) {
                return null;
            }
            out.add(c);
            i = close + 1;
        }
        return out.isEmpty() ? null : out;
    }

    /** A call object: a declared {@code name} and object arguments ({@code arguments} or {@code parameters}). */
    private Call call(JsonNode n) {
        if (!n.isObject() || !n.path("name").isTextual() || !names.contains(n.get("name").asText())) {
            return null;
        }
        JsonNode args = n.has("arguments") ? n.get("arguments") : n.get("parameters");
        if (args == null || args.isNull()) {
            return new Call(n.get("name").asText(), "{}");
        }
        if (args.isTextual()) {
            args = readAll(args.asText());
        }
        if (args == null || !args.isObject()) {
            return null;
        }
        try {
            return new Call(n.get("name").asText(), JSON.writeValueAsString(args));
        } catch (IOException e) {
            return null;
        }
    }

    /** One JSON value filling all of {@code s} (whitespace aside), or null. */
    private static JsonNode readAll(String s) {
        try (JsonParser p = JSON.getFactory().createParser(s)) {
            JsonNode n = JSON.readTree(p);
            if (n == null || p.nextToken() != null) {
                return null;
            }
            return n;
        } catch (IOException e) {
            return null;
        }
    }

    /** The length of the longest suffix of {@code s} that is a proper prefix of {@code marker}. */
    static int heldPrefix(CharSequence s, String marker) {
        for (int k = Math.min(marker.length() - 1, s.length()); k > 0; k--) {
            boolean match = true;
            for (int j = 0; j < k && match; j++) {
                match = s.charAt(s.length() - k + j) == marker.charAt(j);
            }
            if (match) {
                return k;
            }
        }
        return 0;
    }

    private void take(int n, List<Segment> out) {
        if (n > 0) {
            out.add(new Text(buf.substring(0, n)));
            buf.delete(0, n);
        }
    }
}
