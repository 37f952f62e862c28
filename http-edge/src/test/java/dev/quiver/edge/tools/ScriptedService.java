package dev.quiver.edge.tools;

import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.Generation;
import dev.quiver.edge.api.GenerationHandle;
import dev.quiver.edge.api.GenerationListener;
import dev.quiver.edge.api.InferenceService;
import dev.quiver.edge.api.ModelEntry;
import dev.quiver.edge.api.ModelSpec;
import dev.quiver.edge.api.Readiness;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.tokenizer.Tokenizer;
import dev.quiver.gpu.tokenizer.TokenizerMaker;
import dev.quiver.gpu.tokenizer.Tokenizers;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * A test {@link InferenceService} whose model "generates" a scripted reply: the reply for a generation is
 * {@code script} applied to the decoded prompt, sent in pieces of {@code pieceLength} characters from another
 * thread. It keeps the prompts and sampling parameters it was given.
 */
public final class ScriptedService implements InferenceService {
    /** A template that prints the tools' names and the messages' calls, and teaches the Hermes call format. */
    public static final String TOOLS_TEMPLATE = "{# calls go in <tool_call></tool_call> #}"
            + "{% if tools %}TOOLS:{% for t in tools %} {{ t['function']['name'] }}{% endfor %}{{ '\\n' }}{% endif %}"
            + "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}"
            + "{% if m['tool_calls'] %}{% for c in m['tool_calls'] %}[call {{ c['function']['name'] }} "
            + "{{ c['function']['arguments']['city'] }}]{% endfor %}{% endif %}{{ '\\n' }}{% endfor %}assistant:{{ flavour }}";

    private final ModelSpec spec;
    private final Function<String, String> script;
    private final int pieceLength;
    /** What {@code /ready} reports; tests set it. */
    public volatile Readiness readiness = new Readiness(true, Map.of());
    public final List<String> prompts = new CopyOnWriteArrayList<>();
    public final List<SamplingParams> params = new CopyOnWriteArrayList<>();

    public ScriptedService(Path dir, String template, Function<String, String> script, int pieceLength) {
        this.spec = new ModelSpec("scripted", tokenizer(dir, template), 4096, 1_700_000_000L, "test");
        this.script = script;
        this.pieceLength = pieceLength;
    }

    static Tokenizer tokenizer(Path dir, String template) {
        try {
            Path m = Files.createDirectories(dir.resolve("model-" + System.nanoTime()));
            TokenizerMaker.writeByteLevel(m, 300);
            Path cfg = m.resolve("tokenizer_config.json");
            var json = new com.fasterxml.jackson.databind.ObjectMapper();
            var node = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(cfg.toFile());
            node.put("chat_template", template);
            json.writeValue(cfg.toFile(), node);
            return Tokenizers.load(m);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public ModelSpec baseModel() {
        return spec;
    }

    @Override
    public List<ModelEntry> models(Caller caller) {
        return List.of();
    }

    @Override
    public GenerationHandle generate(Caller caller, Generation g, GenerationListener listener) {
        String prompt = spec.tokenizer().decode(g.promptIds(), false);
        prompts.add(prompt);
        params.add(g.params());
        String reply = script.apply(prompt);
        CompletableFuture.runAsync(() -> {
            listener.onAccepted(g.promptIds().length);
            int n = 0;
            for (int i = 0; i < reply.length(); i += pieceLength) {
                listener.onTokens(new int[] {1}, reply.substring(i, Math.min(reply.length(), i + pieceLength)),
                        List.of());
                n++;
            }
            listener.onFinished("stop", g.promptIds().length, n);
        });
        return () -> { };
    }

    @Override
    public CompletionStage<Readiness> readiness() {
        return CompletableFuture.completedFuture(readiness);
    }
}
