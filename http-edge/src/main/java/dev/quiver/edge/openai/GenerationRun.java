package dev.quiver.edge.openai;

import dev.quiver.edge.Errors;
import dev.quiver.edge.Json;
import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.Generation;
import dev.quiver.edge.api.GenerationHandle;
import dev.quiver.edge.api.GenerationListener;
import dev.quiver.edge.api.InferenceService;
import dev.quiver.edge.api.Served;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.edge.metrics.EdgeMetrics;
import dev.quiver.edge.tools.ToolCall;
import dev.quiver.edge.tools.ToolCallStream;
import dev.quiver.edge.tools.ToolDelta;
import dev.quiver.edge.tools.ToolFormat;
import dev.quiver.edge.tools.ToolParse;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.tokenizer.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * One {@code /v1/completions} or {@code /v1/chat/completions} request in flight: its choices (prompts x n), each
 * one generation in the service, and the OpenAI response built from their events — either whole
 * ({@link #response()}) or as Server-Sent Events pushed to a sink as they come.
 *
 * <p>{@link #accepted()} completes when every choice was accepted (or fails with the first refusal, so a stream
 * can still answer with a proper status); {@link #done()} when every choice ended. The first failure cancels the
 * other choices; {@link #cancel()} (client gone, timeout) cancels all. Events of different choices arrive on
 * different threads; each choice's own events arrive in order.
 *
 * <p>With {@code echo} and {@code logprobs} the prompt's logprobs lead the completions {@code logprobs} object
 * (position 0 has none: null, as OpenAI's legacy API has it). With {@code best_of > n} every candidate runs to
 * its end and the response holds, per prompt, the {@code n} with the highest cumulative logprob (ties: the lower
 * candidate index); usage counts every candidate's tokens.
 * <p>When the chat request's tools are active, each choice's reply is split into content and tool calls in the
 * format of the model's template ({@link ToolCallStream}): whole, or as OpenAI's {@code tool_calls} deltas; a reply
 * with calls finishes with {@code tool_calls}.
 */
public final class GenerationRun {
    /** One choice to generate: its index in the response, its prompt and echo text, its sampling parameters. */
    public record ChoiceInput(int index, int promptIndex, int[] promptIds, String echoText, SamplingParams params) {
    }

    private final OpenAiRequest req;
    private final String id;
    private final long created;
    private final Tokenizer tokenizer;
    private final List<ChoiceInput> inputs;
    private final Choice[] choices;
    private final Consumer<String> sink;
    private final CompletableFuture<Void> accepted = new CompletableFuture<>();
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private final AtomicInteger toAccept;
    private final AtomicInteger toFinish;
    private final AtomicBoolean failed = new AtomicBoolean();
    private final List<GenerationHandle> handles = new CopyOnWriteArrayList<>();
    private final long startNanos = System.nanoTime();
    /** The format replies are parsed in, or null when the request's tools are not active. */
    private final ToolFormat toolFormat;
    /** Which model generates (the last report of any choice; every choice of a request gets the same one). */
    private volatile Served served;
    private String stickyKey;
    private boolean fallbackToBase;
    /** When the first token of any choice arrived (System.nanoTime), 0 before. */
    private volatile long firstTokenNanos;

    private static final class Choice {
        final ChoiceInput in;
        final StringBuilder text = new StringBuilder();
        final List<GenerationListener.TokenLogprob> logprobs = new ArrayList<>();
        final List<Integer> offsets = new ArrayList<>();
        int promptTokens;
        int completionTokens;
        String finish;
        long lastTokenNanos;
        int textOffset;
        /** Sum of the generated tokens' logprobs: a best_of candidate's rank. */
        double cumulativeLogprob;
        /** The prompt's logprobs (tokens 1..P-1) when echo asked for them, else null. */
        List<GenerationListener.TokenLogprob> promptLogprobs;
        /** The reply's call parser when streaming a tool-enabled chat, else null. */
        ToolCallStream calls;
        /** Whether this choice's opening SSE chunk (chat role, or completions echo) went out. */
        boolean opened;

        Choice(ChoiceInput in) {
            this.in = in;
            this.textOffset = in.echoText() == null ? 0 : in.echoText().length();
        }
    }

    /**
     * @param sink where SSE lines ({@code data: ...\n\n}) go when streaming, or null for a whole response
     */
    public GenerationRun(OpenAiRequest req, String id, Tokenizer tokenizer, List<ChoiceInput> inputs,
                         Consumer<String> sink) {
        this(req, id, tokenizer, inputs, sink, ToolFormat.UNKNOWN);
    }

    /**
     * @param sink       where SSE lines go when streaming, or null for a whole response
     * @param toolFormat how the model writes tool calls (from its chat template); used when the request's tools
     *                   are active
     */
    public GenerationRun(OpenAiRequest req, String id, Tokenizer tokenizer, List<ChoiceInput> inputs,
                         Consumer<String> sink, ToolFormat toolFormat) {
        this.toolFormat = req.chat() && req.tools().active() ? toolFormat : null;
        this.req = req;
        this.id = id;
        this.created = System.currentTimeMillis() / 1000;
        this.tokenizer = tokenizer;
        this.inputs = inputs;
        this.choices = inputs.stream().map(Choice::new).toArray(Choice[]::new);
        this.sink = sink;
        this.toAccept = new AtomicInteger(inputs.size());
        this.toFinish = new AtomicInteger(inputs.size());
        if (this.toolFormat != null && sink != null) {
            for (Choice c : choices) {
                c.calls = new ToolCallStream(this.toolFormat, req.tools().names());
            }
        }
    }

    public CompletableFuture<Void> accepted() {
        return accepted;
    }

    public CompletableFuture<Void> done() {
        return done;
    }

    public long startNanos() {
        return startNanos;
    }

    /**
     * How the service picks a version for this request: {@code stickyKey} (the OpenAI {@code user}; null: this
     * request's id, shared by its choices) for a traffic split, and whether the base model may stand in when the
     * adapter cannot be loaded. Call before {@link #start}.
     */
    public GenerationRun routing(String stickyKey, boolean fallbackToBase) {
        this.stickyKey = stickyKey;
        this.fallbackToBase = fallbackToBase;
        return this;
    }

    /** Nanoseconds from the start to the first token of any choice, or -1 when none came. */
    public long timeToFirstTokenNanos() {
        long f = firstTokenNanos;
        return f == 0 ? -1 : f - startNanos;
    }

    /** Which model generated (null when the service did not say, or before it was sent anywhere). */
    public Served served() {
        return served;
    }

    /** Submits every choice to the service. */
    public void start(InferenceService service, Caller caller) {
        for (Choice c : choices) {
            if (failed.get()) {
                break;
            }
            Generation g = new Generation(id + "-" + c.in.index(), req.model(), c.in.promptIds(), c.in.params(),
                    stickyKey != null ? stickyKey : id, fallbackToBase);
            handles.add(service.generate(caller, g, listener(c)));
        }
    }

    /**
     * A choice's opening SSE chunk, once, when it is accepted (so it carries the fingerprint of the model that
     * generates): chat's role delta, or the completions echo.
     */
    private void open(Choice c) {
        synchronized (c) {
            if (sink == null || c.opened) {
                return;
            }
            c.opened = true;
            if (req.chat()) {
                sink.accept(sse(chunk(c.in.index(), Map.of("role", "assistant", "content", ""), null, null)));
            } else if (c.in.echoText() != null && req.promptLogprobs() < 0) {
                // NOTE: with prompt logprobs the echo goes out with them, in onPromptLogprobs
                sink.accept(sse(chunk(c.in.index(), c.in.echoText(), null, null)));
            }
        }
    }

    /** Cancels every choice still running (idempotent). */
    public void cancel() {
        handles.forEach(GenerationHandle::cancel);
    }

    private GenerationListener listener(Choice c) {
        return new GenerationListener() {
            @Override
            public void onServed(Served s) {
                served = s;
            }

            @Override
            public void onAccepted(int promptTokens) {
                open(c);
                c.promptTokens = promptTokens;
                if (toAccept.decrementAndGet() == 0) {
                    accepted.complete(null);
                }
            }

            @Override
            public void onTokens(int[] tokenIds, String text, List<TokenLogprob> logprobs) {
                long now = System.nanoTime();
                synchronized (c) {
                    if (tokenIds.length > 0) {
                        Served s = served;
                        if (c.completionTokens == 0) {
                            if (firstTokenNanos == 0) {
                                firstTokenNanos = now;
                            }
                            EdgeMetrics.firstToken(req.model(), now - startNanos);
                            EdgeMetrics.versionFirstToken(s, now - startNanos);
                        } else {
                            EdgeMetrics.interToken(req.model(), now - c.lastTokenNanos);
                            EdgeMetrics.versionInterToken(s, now - c.lastTokenNanos);
                        }
                        c.lastTokenNanos = now;
                        c.completionTokens += tokenIds.length;
                    }
                    for (TokenLogprob lp : logprobs) {
                        c.cumulativeLogprob += lp.logprob();
                    }
                    List<TokenLogprob> lps = req.logprobs() >= 0 ? logprobs : List.of();
                    List<Integer> offsets = new ArrayList<>();
                    for (TokenLogprob lp : lps) {
                        offsets.add(c.textOffset);
                        c.textOffset += tokenText(lp.tokenId()).length();
                    }
                    if (sink == null) {
                        c.text.append(text);
                        c.logprobs.addAll(lps);
                        c.offsets.addAll(offsets);
                    } else if (c.calls != null) {
                        Object lpJson = req.logprobs() >= 0 && !lps.isEmpty() ? logprobsJson(null, lps, offsets) : null;
                        List<Map<String, Object>> deltas = deltas(c.calls.accept(text));
                        if (deltas.isEmpty() && lpJson != null) {
                            deltas.add(Map.of("content", ""));
                        }
                        for (Map<String, Object> d : deltas) {
                            sink.accept(sse(chunk(c.in.index(), d, lpJson, null)));
                            lpJson = null;
                        }
                    } else if (!text.isEmpty() || !lps.isEmpty()) {
                        Object lpJson = req.logprobs() >= 0 ? logprobsJson(null, lps, offsets) : null;
                        sink.accept(sse(chunk(c.in.index(), req.chat() ? Map.of("content", text) : text, lpJson,
                                null)));
                    }
                }
            }

            @Override
            public void onPromptLogprobs(List<TokenLogprob> logprobs) {
                synchronized (c) {
                    c.promptLogprobs = logprobs;
                    if (sink != null) {
                        sink.accept(sse(chunk(c.in.index(), c.in.echoText() == null ? "" : c.in.echoText(),
                                logprobsJson(c, List.of(), List.of()), null)));
                    }
                }
            }

            @Override
            public void onFinished(String reason, int promptTokens, int completionTokens) {
                synchronized (c) {
                    c.finish = reason;
                    c.promptTokens = promptTokens;
                    c.completionTokens = completionTokens;
                    if (sink != null && !failed.get()) {
                        String finish = reason;
                        if (c.calls != null) {
                            for (Map<String, Object> d : deltas(c.calls.finish())) {
                                sink.accept(sse(chunk(c.in.index(), d, null, null)));
                            }
                            finish = c.calls.calls() > 0 ? "tool_calls" : reason;
                        }
                        sink.accept(sse(chunk(c.in.index(), req.chat() ? Map.of() : "", null, finish)));
                    }
                }
                if (toFinish.decrementAndGet() == 0 && !failed.get()) {
                    if (sink != null) {
                        if (req.includeUsage()) {
                            Map<String, Object> u = new LinkedHashMap<>(base(req.chat() ? "chat.completion.chunk"
                                    : "text_completion"));
                            u.put("choices", List.of());
                            u.put("usage", usage());
                            sink.accept(sse(u));
                        }
                        sink.accept("data: [DONE]\n\n");
                    }
                    EdgeMetrics.tokens(req.model(), promptTokensTotal(), completionTokensTotal());
                    EdgeMetrics.versionRequest(served, "ok", promptTokensTotal(), completionTokensTotal());
                    done.complete(null);
                }
            }

            @Override
            public void onFailed(ServiceError error) {
                fail(error);
            }
        };
    }

    /** The first failure ends the whole request: the other choices are cancelled. */
    void fail(ServiceError error) {
        if (!failed.compareAndSet(false, true)) {
            return;
        }
        EdgeMetrics.versionRequest(served, "error", promptTokensTotal(), completionTokensTotal());
        cancel();
        if (sink != null && accepted.isDone()) {
            sink.accept(sse(Errors.body(error)));
            sink.accept("data: [DONE]\n\n");
        }
        accepted.completeExceptionally(error.exception());
        done.completeExceptionally(error.exception());
    }

    /** The non-streamed response body; call after {@link #done()}. */
    public Map<String, Object> response() {
        Map<String, Object> r = base(req.chat() ? "chat.completion" : "text_completion");
        List<Object> out = new ArrayList<>();
        List<Choice> returned = returned();
        for (int i = 0; i < returned.size(); i++) {
            Choice c = returned.get(i);
            Map<String, Object> ch = new LinkedHashMap<>();
            ch.put("index", i);
            String text = (c.in.echoText() == null ? "" : c.in.echoText()) + c.text;
            String finish = c.finish;
            if (toolFormat != null) {
                ToolParse parsed = ToolCallStream.parse(toolFormat, req.tools().names(), text);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("role", "assistant");
                m.put("content", parsed.content());
                if (!parsed.calls().isEmpty()) {
                    m.put("tool_calls", parsed.calls().stream().map(GenerationRun::toolCallJson).toList());
                    finish = "tool_calls";
                }
                ch.put("message", m);
            } else if (req.chat()) {
                ch.put("message", Map.of("role", "assistant", "content", text));
            } else {
                ch.put("text", text);
            }
            ch.put("logprobs", req.logprobs() >= 0 ? logprobsJson(c, c.logprobs, c.offsets) : null);
            ch.put("finish_reason", finish);
            out.add(ch);
        }
        r.put("choices", out);
        r.put("usage", usage());
        return r;
    }

    /**
     * The choices the response holds, in index order: all of them, or with {@code best_of > n} the {@code n}
     * candidates of each prompt with the highest cumulative logprob.
     */
    private List<Choice> returned() {
        if (req.candidates() == req.n()) {
            return List.of(choices);
        }
        List<Choice> out = new ArrayList<>();
        for (int start = 0; start < choices.length; start += req.candidates()) {
            List<Choice> group = new ArrayList<>(List.of(choices).subList(start, start + req.candidates()));
            group.sort(java.util.Comparator.comparingDouble((Choice c) -> -c.cumulativeLogprob)
                    .thenComparingInt(c -> c.in.index()));
            out.addAll(group.subList(0, req.n()));
        }
        return out;
    }

    private static Map<String, Object> toolCallJson(ToolCall call) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("name", call.name());
        f.put("arguments", call.arguments());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", call.id());
        m.put("type", "function");
        m.put("function", f);
        return m;
    }

    /** OpenAI's chat deltas for parsed pieces: content, a call's first delta, a piece of its arguments. */
    static List<Map<String, Object>> deltas(List<ToolDelta> pieces) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ToolDelta d : pieces) {
            if (d instanceof ToolDelta.Content t) {
                out.add(Map.of("content", t.text()));
            } else if (d instanceof ToolDelta.CallStart s) {
                Map<String, Object> call = new LinkedHashMap<>();
                call.put("index", s.index());
                call.put("id", s.id());
                call.put("type", "function");
                call.put("function", Map.of("name", s.name(), "arguments", ""));
                out.add(Map.of("tool_calls", List.of(call)));
            } else if (d instanceof ToolDelta.CallArguments a) {
                Map<String, Object> call = new LinkedHashMap<>();
                call.put("index", a.index());
                call.put("function", Map.of("arguments", a.arguments()));
                out.add(Map.of("tool_calls", List.of(call)));
            }
        }
        return out;
    }

    public int promptTokensTotal() {
        int sum = 0;
        boolean[] seen = new boolean[inputs.size() + 1];
        for (Choice c : choices) {
            int p = c.in.promptIndex();
            if (p < seen.length && !seen[p]) {
                seen[p] = true;
                sum += c.promptTokens;
            }
        }
        return sum;
    }

    public int completionTokensTotal() {
        int sum = 0;
        for (Choice c : choices) {
            sum += c.completionTokens;
        }
        return sum;
    }

    private Map<String, Object> usage() {
        Map<String, Object> u = new LinkedHashMap<>();
        int p = promptTokensTotal();
        int c = completionTokensTotal();
        u.put("prompt_tokens", p);
        u.put("completion_tokens", c);
        u.put("total_tokens", p + c);
        return u;
    }

    private Map<String, Object> base(String object) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("id", id);
        r.put("object", object);
        r.put("created", created);
        r.put("model", req.model());
        Served s = served;
        r.put("system_fingerprint", s == null ? null : s.fingerprint());
        if (s != null && s.isFallback()) {
            r.put("quiver", fallbackJson(s));
        }
        return r;
    }

    /** The {@code quiver} extension object of a response served by the base model in place of the adapter. */
    private static Map<String, Object> fallbackJson(Served s) {
        Map<String, Object> q = new LinkedHashMap<>();
        q.put("fallback", true);
        q.put("served_by", s.fingerprint());
        q.put("requested", s.fallbackFrom());
        q.put("reason", s.fallbackReason());
        return q;
    }

    private Map<String, Object> chunk(int index, Object textOrDelta, Object logprobs, String finish) {
        Map<String, Object> r = base(req.chat() ? "chat.completion.chunk" : "text_completion");
        Map<String, Object> ch = new LinkedHashMap<>();
        ch.put("index", index);
        ch.put(req.chat() ? "delta" : "text", textOrDelta);
        ch.put("logprobs", logprobs);
        ch.put("finish_reason", finish);
        r.put("choices", List.of(ch));
        if (req.includeUsage()) {
            r.put("usage", null);
        }
        return r;
    }

    private static String sse(Object json) {
        return "data: " + Json.string(json) + "\n\n";
    }

    private String tokenText(int tokenId) {
        return tokenizer == null ? "" : tokenizer.decode(new int[] {tokenId}, false);
    }

    /**
     * OpenAI's logprobs object: the legacy completions layout, or chat's {@code content} list. {@code c} (may be
     * null) brings the prompt's logprobs when echo asked for them: they lead, position 0 with null values.
     */
    private Object logprobsJson(Choice c, List<GenerationListener.TokenLogprob> lps, List<Integer> offsets) {
        if (req.chat()) {
            List<Object> content = new ArrayList<>();
            for (GenerationListener.TokenLogprob lp : lps) {
                Map<String, Object> e = tokenEntry(lp.tokenId(), lp.logprob());
                List<Object> top = new ArrayList<>();
                for (int i = 0; lp.topIds() != null && i < lp.topIds().length; i++) {
                    top.add(tokenEntry(lp.topIds()[i], lp.topLogprobs()[i]));
                }
                e.put("top_logprobs", top);
                content.add(e);
            }
            return Map.of("content", content);
        }
        List<String> tokens = new ArrayList<>();
        List<Float> values = new ArrayList<>();
        List<Map<String, Float>> tops = new ArrayList<>();
        List<Integer> textOffsets = new ArrayList<>();
        if (c != null && c.promptLogprobs != null) {
            int[] ids = c.in.promptIds();
            int at = 0;
            for (int i = 0; i < ids.length; i++) {
                String t = tokenText(ids[i]);
                tokens.add(t);
                textOffsets.add(at);
                at += t.length();
                if (i == 0) {
                    values.add(null);
                    tops.add(null);
                    continue;
                }
                GenerationListener.TokenLogprob lp = c.promptLogprobs.get(i - 1);
                values.add(lp.logprob());
                tops.add(topMap(lp));
            }
        }
        textOffsets.addAll(offsets);
        for (GenerationListener.TokenLogprob lp : lps) {
            tokens.add(tokenText(lp.tokenId()));
            values.add(lp.logprob());
            tops.add(topMap(lp));
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tokens", tokens);
        m.put("token_logprobs", values);
        m.put("top_logprobs", tops);
        m.put("text_offset", textOffsets);
        return m;
    }

    private Map<String, Float> topMap(GenerationListener.TokenLogprob lp) {
        Map<String, Float> top = new LinkedHashMap<>();
        for (int i = 0; lp.topIds() != null && i < lp.topIds().length; i++) {
            top.putIfAbsent(tokenText(lp.topIds()[i]), lp.topLogprobs()[i]);
        }
        return top;
    }

    private Map<String, Object> tokenEntry(int tokenId, float logprob) {
        String t = tokenText(tokenId);
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("token", t);
        e.put("logprob", logprob);
        List<Integer> bytes = new ArrayList<>();
        for (byte b : t.getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
        e.put("bytes", bytes);
        return e;
    }
}
