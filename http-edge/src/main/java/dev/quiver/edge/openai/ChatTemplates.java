package dev.quiver.edge.openai;

import dev.quiver.edge.api.ServiceError;
import dev.quiver.edge.jinja.JinjaFunction;
import dev.quiver.edge.jinja.Template;
import dev.quiver.edge.jinja.TemplateException;
import dev.quiver.gpu.tokenizer.Tokenizer;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Renders chat messages to a prompt with the model's chat template exactly as Hugging Face transformers'
 * {@code apply_chat_template} does, using our own Jinja2 interpreter ({@link dev.quiver.edge.jinja.Template}).
 *
 * <p>The template comes from the tokenizer ({@link Tokenizer#chatTemplates()}: chat_template.jinja, or
 * tokenizer_config.json's {@code chat_template}; when tools are given and the model has a template named
 * "tool_use", that one). Templates see what transformers passes: {@code messages}, {@code tools} (None when not
 * given), {@code documents} (None), {@code add_generation_prompt}, the special tokens of tokenizer_config.json
 * ({@code bos_token}, {@code eos_token}, ...), any extra variables (for example {@code enable_thinking}), and the
 * functions {@code raise_exception(msg)} and {@code strftime_now(fmt)} (on the injected clock).
 *
 * <p>A model without a chat template gets {@link #FALLBACK}: one {@code role: content} line per message, then
 * {@code assistant:}. It is plain text on purpose (no special tokens the model may not have).
 */
public final class ChatTemplates {
    /** The template used when the model has none (documented in docs/HTTP.md). */
    public static final String FALLBACK = "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}"
            + "\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

    private final String source;
    private final String toolSource;          // the "tool_use" template, or null
    private final boolean fromModel;
    private final Map<String, Object> specialTokens;
    private final Clock clock;
    private final Compiled compiled;
    private final Compiled toolCompiled;       // null when there is no "tool_use" template

    /** A template or why it does not compile (reported when a request uses it, as a 400). */
    private record Compiled(Template template, TemplateException error) {
        static Compiled of(String source) {
            try {
                return new Compiled(Template.compile(source), null);
            } catch (TemplateException e) {
                return new Compiled(null, e);
            }
        }
    }

    public ChatTemplates(Tokenizer tokenizer) {
        this(tokenizer, Clock.systemDefaultZone());
    }

    /** As {@link #ChatTemplates(Tokenizer)}, with the clock {@code strftime_now} reads (tests pin it). */
    public ChatTemplates(Tokenizer tokenizer, Clock clock) {
        this(tokenizer == null ? null : tokenizer.chatTemplates().get("default"),
                tokenizer == null ? null : tokenizer.chatTemplates().get("tool_use"),
                tokenizer == null ? Map.of() : tokenizer.specialTokens(), clock);
    }

    private ChatTemplates(String template, String toolTemplate, Map<String, Object> specialTokens, Clock clock) {
        this.fromModel = template != null && !template.isBlank();
        this.source = fromModel ? template : FALLBACK;
        this.toolSource = toolTemplate == null || toolTemplate.isBlank() ? null : toolTemplate;
        this.specialTokens = Map.copyOf(specialTokens);
        this.clock = Objects.requireNonNull(clock, "clock");
        this.compiled = Compiled.of(source);
        this.toolCompiled = toolSource == null ? null : Compiled.of(toolSource);
    }

    /**
     * Templates for a given template text and special tokens (for example {@code bos_token → "<s>"}), without a
     * tokenizer; {@code template} null or blank means {@link #FALLBACK}.
     */
    public static ChatTemplates of(String template, Map<String, ?> specialTokens, Clock clock) {
        return new ChatTemplates(template, null, new LinkedHashMap<>(specialTokens), clock);
    }

    /** Whether the model brought its own template (else {@link #FALLBACK} is used). */
    public boolean fromModel() {
        return fromModel;
    }

    /** The model's {@code bos_token} ("" when it has none). */
    public String bosToken() {
        Object bos = specialTokens.get("bos_token");
        return bos instanceof String s ? s : "";
    }

    /** The raw text of the template in use ({@link #FALLBACK} when the model has none). */
    public String templateSource() {
        return source;
    }

    /** The raw text of the model's "tool_use" template, or null when it has none. */
    public String toolTemplateSource() {
        return toolSource;
    }

    /** Renders {@code messages} with the generation prompt, no tools and no extra variables. */
    public String render(List<Map<String, Object>> messages) {
        return render(messages, null, true, Map.of());
    }

    /**
     * Renders as transformers' {@code apply_chat_template(messages, tools=tools,
     * add_generation_prompt=addGenerationPrompt, **extraVars)}.
     *
     * @param messages plain JSON-like data (Maps, Lists, Strings, Numbers, Booleans, null)
     * @param tools the tool schemas, or null when none were given (the template sees None, as with tools=None)
     * @param extraVars further template variables (for example {@code enable_thinking=false}); they override the
     *     special tokens, as transformers' kwargs do
     * @throws dev.quiver.edge.api.ServiceException 400 naming {@code messages} when the template calls
     *     {@code raise_exception} or cannot render these messages
     */
    public String render(List<Map<String, Object>> messages, List<Map<String, Object>> tools,
            boolean addGenerationPrompt, Map<String, Object> extraVars) {
        Compiled c = tools != null && toolCompiled != null ? toolCompiled : compiled;
        if (c.error() != null) {
            throw invalid("the chat template could not render these messages: " + c.error().getMessage());
        }
        Map<String, Object> vars = new HashMap<>(specialTokens);
        vars.put("messages", messages);
        vars.put("tools", tools);
        vars.put("documents", null);
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.put("raise_exception", (JinjaFunction) (args, kwargs) -> {
            throw new TemplateRaised(args.isEmpty() ? "" : String.valueOf(args.get(0)));
        });
        vars.put("strftime_now", (JinjaFunction) (args, kwargs) -> {
            if (args.isEmpty() || !(args.get(0) instanceof String fmt)) {
                throw new TemplateException("strftime_now needs a format string");
            }
            return strftime(ZonedDateTime.now(clock), fmt);
        });
        if (extraVars != null) {
            vars.putAll(extraVars);
        }
        try {
            return c.template().render(vars);
        } catch (TemplateRaised e) {
            throw invalid("the chat template refused the messages: " + e.getMessage());
        } catch (TemplateException e) {
            throw invalid("the chat template could not render these messages: " + e.getMessage());
        }
    }

    private static String strftime(ZonedDateTime t, String fmt) {
        return dev.quiver.edge.jinja.Strftime.format(t, fmt);
    }

    private static RuntimeException invalid(String message) {
        return ServiceError.invalid("messages", message).exception();
    }

    /** What {@code raise_exception} throws; it passes through the interpreter unchanged. */
    static final class TemplateRaised extends RuntimeException {
        TemplateRaised(String message) {
            super(message, null, false, false);
        }
    }
}
