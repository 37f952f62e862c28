package dev.quiver.edge.openai;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.gpu.tokenizer.Tokenizer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Renders chat messages to a prompt with the model's {@code chat_template} (from tokenizer_config.json), using
 * Jinjava (HubSpot's Jinja implementation). Templates see {@code messages}, {@code add_generation_prompt = true},
 * {@code bos_token}, {@code eos_token} and the function {@code raise_exception(msg)}, as Hugging Face's do.
 *
 * <p>A model without a chat template gets {@link #FALLBACK}: one {@code role: content} line per message, then
 * {@code assistant:}. It is plain text on purpose (no special tokens the model may not have).
 */
public final class ChatTemplates {
    /** The template used when the model has none (documented in docs/HTTP.md). */
    public static final String FALLBACK = "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}"
            + "\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

    private final Jinjava jinjava;
    private final String template;
    private final boolean fromModel;
    private final String bos;
    private final String eos;

    public ChatTemplates(Tokenizer tokenizer) {
        this.jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(false).withLstripBlocks(false).build());
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplates.class, "raiseException", String.class));
        String t = tokenizer == null ? null : tokenizer.chatTemplate().orElse(null);
        this.fromModel = t != null && !t.isBlank();
        this.template = fromModel ? t : FALLBACK;
        this.bos = tokenizer == null || tokenizer.bosId().isEmpty() ? "" : tokenizer.tokenString(tokenizer.bosId().getAsInt());
        this.eos = tokenizer == null || tokenizer.eosIds().isEmpty() ? ""
                : tokenizer.tokenString(tokenizer.eosIds().iterator().next());
    }

    /** Whether the model brought its own template (else {@link #FALLBACK} is used). */
    public boolean fromModel() {
        return fromModel;
    }

    public String bosToken() {
        return bos;
    }

    /** Called by templates as {@code raise_exception('...')}; becomes a 400 naming {@code messages}. */
    public static String raiseException(String message) {
        throw new TemplateRaised(message);
    }

    /** The template text: the model's own, or {@link #FALLBACK}. */
    public String template() {
        return template;
    }

    public String render(List<Map<String, Object>> messages) {
        return render(messages, null, true, Map.of());
    }

    /**
     * Renders with the variables Hugging Face passes: {@code tools} (the request's tool objects, left undefined when
     * null, as transformers leaves {@code tools=None}) and {@code add_generation_prompt}; {@code extraVars} are
     * added last (they may not replace {@code messages}).
     */
    public String render(List<Map<String, Object>> messages, List<Map<String, Object>> tools,
                         boolean addGenerationPrompt, Map<String, Object> extraVars) {
        Map<String, Object> vars = new HashMap<>();
        if (extraVars != null) {
            vars.putAll(extraVars);
        }
        vars.put("messages", messages);
        if (tools != null) {
            vars.put("tools", tools);
        }
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.put("bos_token", bos);
        vars.put("eos_token", eos);
        RenderResult r;
        try {
            r = jinjava.renderForResult(template, vars);
        } catch (TemplateRaised e) {
            throw ServiceError.invalid("messages", "the chat template refused the messages: " + e.getMessage())
                    .exception();
        }
        List<TemplateError> fatal = r.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL).toList();
        if (!fatal.isEmpty()) {
            String why = fatal.stream().map(e -> raisedMessage(e)).collect(Collectors.joining("; "));
            throw ServiceError.invalid("messages", "the chat template could not render these messages: " + why)
                    .exception();
        }
        return r.getOutput();
    }

    private static String raisedMessage(TemplateError e) {
        Throwable t = e.getException();
        while (t != null) {
            if (t instanceof TemplateRaised tr) {
                return tr.getMessage();
            }
            t = t.getCause();
        }
        return e.getMessage();
    }

    /** What {@code raise_exception} throws; Jinjava may wrap it into a fatal template error. */
    static final class TemplateRaised extends RuntimeException {
        TemplateRaised(String message) {
            super(message, null, false, false);
        }
    }
}
