package dev.quiver.gpu.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.ConfigFactory;
import dev.quiver.gpu.model.WeightFormat;
import dev.quiver.gpu.sampling.InvalidSamplingParamsException;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.tokenizer.Tokenizer;
import dev.quiver.gpu.worker.Engine;
import dev.quiver.gpu.worker.EngineError;
import dev.quiver.gpu.worker.EngineListener;
import dev.quiver.gpu.worker.EngineSettings;
import dev.quiver.gpu.worker.GenerateRequest;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * {@code quiver generate --model DIR [--adapter NAME=DIR ...] [--weight-format native|q8_0] --input requests.jsonl
 * --output results.jsonl}:
 * offline batch generation through the same engine and scheduler as the server. All requests are submitted at
 * once and batched continuously; a bad line becomes an error line for its id and the rest are served. Output
 * lines keep the input order.
 */
final class GenerateCommand {
    private static final ObjectMapper JSON = new ObjectMapper();

    private GenerateCommand() {
    }

    /** A local directory; a remote source is refused naming the option (bin/quiver generate downloads it first). */
    private static String local(String value, String option) {
        if (value.startsWith("hf://") || value.startsWith("s3://")) {
            throw new CliException(option + " " + value + ": the engine reads local directories only; run it through "
                    + "bin/quiver generate, which downloads hf:// and s3:// sources first (as bin/quiver fetch does)");
        }
        return value;
    }

    /** The value of {@code --weight-format}; an unknown one is refused naming the option and the allowed values. */
    static WeightFormat weightFormat(String value) {
        try {
            return WeightFormat.parse(value, "--weight-format");
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage());
        }
    }

    static int run(List<String> args, PrintStream out) {
        Args a = new Args(args);
        Path model = Path.of(local(a.required("--model"), "--model"));
        Path input = Path.of(a.required("--input"));
        Path output = Path.of(a.required("--output"));
        Map<String, Path> adapters = new LinkedHashMap<>();
        for (String spec : a.all("--adapter")) {
            int eq = spec.indexOf('=');
            if (eq <= 0) {
                throw new CliException("--adapter takes NAME=DIR, got '" + spec + "'");
            }
            adapters.put(spec.substring(0, eq), Path.of(local(spec.substring(eq + 1), "--adapter")));
        }
        int timeoutMinutes = Integer.parseInt(a.option("--timeout-minutes", "60"));
        String format = a.option("--weight-format", null);
        WeightFormat weightFormat = format == null ? null : weightFormat(format);
        a.rejectUnknown();
        List<String> lines;
        try {
            lines = Files.readAllLines(input, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CliException("cannot read " + input + ": " + e.getMessage());
        }
        EngineSettings settings = EngineSettings.fromConfig(ConfigFactory.load());
        if (weightFormat != null) {
            settings = settings.withWeightFormat(weightFormat);
        }
        long t0 = System.nanoTime();
        try (Engine engine = Engine.start(model, settings, "generate")) {
            long ready = System.nanoTime();
            adapters.forEach(engine::registerAdapter);
            List<Result> results = new ArrayList<>();
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).isBlank()) {
                    continue;
                }
                results.add(submit(engine, lines.get(i), i + 1, adapters));
            }
            CountDownLatch all = new CountDownLatch(results.size());
            results.forEach(r -> r.done.thenRun(all::countDown));
            if (!all.await(timeoutMinutes, TimeUnit.MINUTES)) {
                throw new CliException("generation did not finish within " + timeoutMinutes + " minutes");
            }
            int tokens = 0;
            int errors = 0;
            try (BufferedWriter w = Files.newBufferedWriter(output, StandardCharsets.UTF_8)) {
                for (Result r : results) {
                    w.write(JSON.writeValueAsString(r.toJson()));
                    w.newLine();
                    tokens += r.tokens.size();
                    errors += r.error != null ? 1 : 0;
                }
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            out.printf("%d requests (%d errors), %d tokens generated in %.2f s (%.1f tokens/s) -> %s%n",
                    results.size(), errors, tokens, secs, tokens / secs, output);
            // where the time went, to compare with bench forward's prefill and decode rates
            long lastFirst = results.stream().mapToLong(r -> r.firstTokenAt).max().orElse(ready);
            int prompts = results.stream().mapToInt(r -> r.usage == null ? 0 : r.usage.promptTokens()).sum();
            double start = (ready - t0) / 1e9;
            double toFirst = (Math.max(lastFirst, ready) - ready) / 1e9;
            double rest = secs - start - toFirst;
            out.printf("  engine start %.2f s; every request's first token after %.2f s (%d prompt tokens, %.1f/s); "
                    + "then %.2f s for the other %d tokens (%.1f/s)%n", start, toFirst, prompts,
                    prompts / Math.max(1e-9, toFirst), rest, tokens - results.size(), (tokens - results.size())
                            / Math.max(1e-9, rest));
            return errors == 0 ? 0 : 1;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        }
    }

    /** One line's request and, as events arrive, its result. */
    private static final class Result implements EngineListener {
        final String id;
        final String adapter;
        final java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
        final List<Integer> tokens = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        final List<TokenLogprob> logprobs = new ArrayList<>();
        final boolean wantLogprobs;
        volatile String finish;
        volatile Usage usage;
        volatile EngineError error;
        /** When the first token arrived (System.nanoTime), 0 before. */
        volatile long firstTokenAt;

        Result(String id, String adapter, boolean wantLogprobs) {
            this.id = id;
            this.adapter = adapter;
            this.wantLogprobs = wantLogprobs;
        }

        static Result failed(String id, String adapter, EngineError e) {
            Result r = new Result(id, adapter, false);
            r.onFailed(id, e);
            return r;
        }

        @Override
        public void onAccepted(String requestId, int promptTokens) {
        }

        @Override
        public void onTokens(String requestId, int[] ids, String t, List<TokenLogprob> lp) {
            if (firstTokenAt == 0 && ids.length > 0) {
                firstTokenAt = System.nanoTime();
            }
            for (int x : ids) {
                tokens.add(x);
            }
            text.append(t);
            logprobs.addAll(lp);
        }

        @Override
        public void onFinished(String requestId, FinishReason reason, Usage u) {
            finish = reason.wire();
            usage = u;
            done.complete(null);
        }

        @Override
        public void onFailed(String requestId, EngineError e) {
            error = e;
            done.complete(null);
        }

        ObjectNode toJson() {
            ObjectNode o = JSON.createObjectNode();
            o.put("id", id);
            if (adapter != null) {
                o.put("adapter", adapter);
            } else {
                o.putNull("adapter");
            }
            if (error != null) {
                ObjectNode e = o.putObject("error");
                e.put("type", error.kind().name().toLowerCase(java.util.Locale.ROOT));
                e.put("message", error.message());
                if (error.param() != null) {
                    e.put("param", error.param());
                }
                return o;
            }
            ArrayNode ids = o.putArray("token_ids");
            tokens.forEach(ids::add);
            o.put("text", text.toString());
            if (wantLogprobs) {
                ArrayNode lps = o.putArray("logprobs");
                for (TokenLogprob lp : logprobs) {
                    ObjectNode x = lps.addObject();
                    x.put("token_id", lp.tokenId());
                    x.put("logprob", lp.logprob());
                    if (lp.topIds() != null && lp.topIds().length > 0) {
                        ArrayNode top = x.putArray("top");
                        for (int i = 0; i < lp.topIds().length; i++) {
                            top.addObject().put("token_id", lp.topIds()[i]).put("logprob", lp.topLogprobs()[i]);
                        }
                    }
                }
            } else {
                o.putNull("logprobs");
            }
            o.put("finish_reason", finish);
            ObjectNode u = o.putObject("usage");
            u.put("prompt_tokens", usage.promptTokens());
            u.put("completion_tokens", usage.completionTokens());
            u.put("total_tokens", usage.totalTokens());
            return o;
        }
    }

    private static Result submit(Engine engine, String line, int lineNo, Map<String, Path> adapters) {
        JsonNode n;
        try {
            n = JSON.readTree(line);
        } catch (IOException e) {
            return Result.failed("line-" + lineNo, null, new EngineError(EngineError.Kind.INVALID_REQUEST,
                    "line " + lineNo + " is not valid JSON", null, 0));
        }
        String id = n.hasNonNull("id") ? n.get("id").asText() : "line-" + lineNo;
        String adapter = n.hasNonNull("adapter") ? n.get("adapter").asText() : null;
        try {
            if (!n.isObject()) {
                throw new IllegalArgumentException("line " + lineNo + " is not a JSON object");
            }
            if (adapter != null && !adapters.containsKey(adapter)) {
                return Result.failed(id, adapter, new EngineError(EngineError.Kind.UNKNOWN_ADAPTER, "adapter '"
                        + adapter + "' was not given with --adapter NAME=DIR", "adapter", 0));
            }
            int[] prompt = prompt(engine.tokenizer(), n);
            List<String> stop = new ArrayList<>();
            JsonNode st = n.get("stop");
            if (st != null && st.isTextual()) {
                stop.add(st.asText());
            } else if (st != null && st.isArray()) {
                st.forEach(x -> stop.add(x.asText()));
            }
            SamplingParams p = new SamplingParams(intField(n, "max_tokens", 16),
                    (float) n.path("temperature").asDouble(1.0), (float) n.path("top_p").asDouble(1.0),
                    intField(n, "top_k", -1),
                    n.hasNonNull("seed") ? n.get("seed").asLong() : ThreadLocalRandom.current().nextLong(), stop,
                    n.hasNonNull("logprobs") ? logprobs(n.get("logprobs")) : -1,
                    n.path("ignore_eos").asBoolean(false));
            Result r = new Result(id, adapter, p.logprobs() >= 0);
            engine.submit(new GenerateRequest(id, adapter, null, prompt, p), r);
            return r;
        } catch (InvalidSamplingParamsException e) {
            return Result.failed(id, adapter, new EngineError(EngineError.Kind.INVALID_REQUEST, e.getMessage(),
                    e.param(), 0));
        } catch (IllegalArgumentException e) {
            return Result.failed(id, adapter, new EngineError(EngineError.Kind.INVALID_REQUEST, e.getMessage(), null, 0));
        }
    }

    private static int logprobs(JsonNode v) {
        if (v.isBoolean()) {
            return v.asBoolean() ? 0 : -1;
        }
        if (!v.canConvertToInt()) {
            throw new IllegalArgumentException("logprobs must be a boolean or an integer");
        }
        return v.asInt();
    }

    private static int intField(JsonNode n, String f, int dflt) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isIntegralNumber()) {
            throw new IllegalArgumentException(f + " must be an integer");
        }
        return v.asInt();
    }

    private static int[] prompt(Tokenizer tok, JsonNode n) {
        if (n.hasNonNull("prompt_ids")) {
            JsonNode ids = n.get("prompt_ids");
            if (!ids.isArray()) {
                throw new IllegalArgumentException("prompt_ids must be an array of integers");
            }
            int[] out = new int[ids.size()];
            for (int i = 0; i < out.length; i++) {
                if (!ids.get(i).isIntegralNumber()) {
                    throw new IllegalArgumentException("prompt_ids[" + i + "] is not an integer");
                }
                out[i] = ids.get(i).asInt();
            }
            return out;
        }
        if (n.hasNonNull("prompt")) {
            if (!n.get("prompt").isTextual()) {
                throw new IllegalArgumentException("prompt must be a string");
            }
            if (tok == null) {
                throw new IllegalArgumentException("the model has no tokenizer.json; give prompt_ids");
            }
            return tok.encode(n.get("prompt").asText(), tok.addsBosByDefault());
        }
        throw new IllegalArgumentException("either prompt or prompt_ids is required");
    }
}
