package dev.quiver.bench;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The options of {@code bin/quiver bench load}, read once from the command line.
 *
 * @param url          the server's base URL (requests go to {@code url/v1/...} and nowhere else)
 * @param apiKey       bearer key; an admin key also lets the report read the worker's adapter cache counters from
 *                     {@code GET /v1/adapters/NAME} (else they come from {@code /metrics})
 * @param rate         offered load, requests per second (Poisson arrivals)
 * @param duration     arrival window; null when only {@code requests} bounds the run
 * @param requests     number of arrivals; 0 when only {@code duration} bounds it
 * @param adapterNames the adapters in popularity order (Zipf rank 1 first); empty = base model only
 * @param zipf         Zipf exponent α of adapter popularity
 * @param baseShare    fraction of requests sent to the base model instead of an adapter
 * @param baseModel    the base model's served name; null = the first model without a parent in /v1/models
 * @param concurrency  at most this many requests in flight; later arrivals wait on the client (counted)
 * @param timeout      per request: connect + response headers
 * @param drain        after the last arrival, how long requests in flight may still run before they are cancelled
 */
public record LoadSettings(URI url, String apiKey, double rate, Duration duration, int requests,
                           List<String> adapterNames, double zipf, double baseShare, String baseModel,
                           Distributions.Lengths promptTokens, Distributions.Lengths outputTokens, double temperature,
                           int concurrency, long seed, Duration timeout, Duration drain, Path html, Path json,
                           boolean quiet) {
    /** The demo model's adapter names, as {@code bin/quiver model make DIR --adapters N} writes them. */
    public static final String DEFAULT_ADAPTER_FORMAT = "adapter-%02d";

    public static final String USAGE = String.join("\n",
            "usage: bin/quiver bench load --rate R [--duration SECONDS | --requests N] [options]",
            "  --url URL               server base URL (default http://127.0.0.1:8000)",
            "  --api-key KEY           bearer key (default $QUIVER_API_KEY); an admin key gives exact cache counters",
            "  --rate R                offered load in requests/s, Poisson arrivals (required)",
            "  --duration S            arrival window in seconds (default 60 unless --requests is given)",
            "  --requests N            stop after N arrivals (with --duration: whichever comes first)",
            "  --adapters N            adapters " + String.format(DEFAULT_ADAPTER_FORMAT, 1) + " .. N "
                    + "(names from --adapter-format, default " + DEFAULT_ADAPTER_FORMAT + ")",
            "  --adapter-format FMT    printf pattern for adapter i (1-based)",
            "  --adapter-names A,B,..  explicit adapter names, most popular first (instead of --adapters)",
            "  --zipf ALPHA            adapter popularity Zipf exponent (default 1.0; 0 = uniform)",
            "  --base-share F          fraction of requests to the base model (default 0.1; 1 with no adapters)",
            "  --base-model NAME       base model name (default: discovered from /v1/models)",
            "  --prompt-tokens DIST    prompt length (default lognormal:64:0.5:8:256)",
            "  --output-tokens DIST    max_tokens, generated in full with ignore_eos (default uniform:16:128)",
            "                          DIST = fixed:N | uniform:MIN:MAX | lognormal:MEDIAN:SIGMA:MIN:MAX",
            "  --temperature T         sampling temperature (default 1.0)",
            "  --concurrency N         cap on requests in flight (default 64)",
            "  --seed S                seed of arrivals, adapters, lengths and prompts (default 42)",
            "  --timeout S             per-request timeout to response headers (default 120)",
            "  --drain-timeout S       time allowed after the last arrival before requests are cancelled (default 60)",
            "  --html FILE             write the HTML report with charts",
            "  --json FILE             write the JSON report (summary, series, every request)",
            "  --quiet                 no progress lines on stderr");

    public static LoadSettings parse(String... args) {
        URI url = URI.create("http://127.0.0.1:8000");
        String key = System.getenv("QUIVER_API_KEY");
        Double rate = null;
        Duration duration = null;
        int requests = 0;
        int adapters = -1;
        String format = DEFAULT_ADAPTER_FORMAT;
        List<String> names = null;
        double zipf = 1.0;
        Double baseShare = null;
        String baseModel = null;
        Distributions.Lengths prompt = Distributions.Lengths.parse("lognormal:64:0.5:8:256");
        Distributions.Lengths output = Distributions.Lengths.parse("uniform:16:128");
        double temperature = 1.0;
        int concurrency = 64;
        long seed = 42;
        Duration timeout = Duration.ofSeconds(120);
        Duration drain = Duration.ofSeconds(60);
        Path html = null;
        Path json = null;
        boolean quiet = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--url" -> url = URI.create(value(args, ++i, a));
                case "--api-key" -> key = value(args, ++i, a);
                case "--rate" -> rate = number(args, ++i, a);
                case "--duration" -> duration = seconds(args, ++i, a);
                case "--requests" -> requests = integer(args, ++i, a);
                case "--adapters" -> adapters = integer(args, ++i, a);
                case "--adapter-format" -> format = value(args, ++i, a);
                case "--adapter-names" -> names = Arrays.stream(value(args, ++i, a).split(",")).map(String::trim)
                        .filter(s -> !s.isEmpty()).toList();
                case "--zipf" -> zipf = number(args, ++i, a);
                case "--base-share" -> baseShare = number(args, ++i, a);
                case "--base-model" -> baseModel = value(args, ++i, a);
                case "--prompt-tokens" -> prompt = Distributions.Lengths.parse(value(args, ++i, a));
                case "--output-tokens" -> output = Distributions.Lengths.parse(value(args, ++i, a));
                case "--temperature" -> temperature = number(args, ++i, a);
                case "--concurrency" -> concurrency = integer(args, ++i, a);
                case "--seed" -> seed = Long.parseLong(value(args, ++i, a));
                case "--timeout" -> timeout = seconds(args, ++i, a);
                case "--drain-timeout" -> drain = seconds(args, ++i, a);
                case "--html" -> html = Path.of(value(args, ++i, a));
                case "--json" -> json = Path.of(value(args, ++i, a));
                case "--quiet" -> quiet = true;
                default -> throw new IllegalArgumentException("unknown option '" + a + "'");
            }
        }
        if (rate == null) {
            throw new IllegalArgumentException("--rate is required");
        }
        if (names != null && adapters >= 0) {
            throw new IllegalArgumentException("give --adapters N or --adapter-names, not both");
        }
        if (names == null) {
            names = new ArrayList<>();
            for (int k = 1; k <= Math.max(adapters, 0); k++) {
                names.add(String.format(format, k));
            }
        }
        if (duration == null && requests == 0) {
            duration = Duration.ofSeconds(60);
        }
        double share = baseShare != null ? baseShare : names.isEmpty() ? 1.0 : 0.1;
        return new LoadSettings(url, key, rate, duration, requests, List.copyOf(names), zipf, share, baseModel,
                prompt, output, temperature, concurrency, seed, timeout, drain, html, json, quiet).validated();
    }

    LoadSettings validated() {
        String scheme = url.getScheme();
        if (!"http".equals(scheme) && !"https".equals(scheme) || url.getHost() == null) {
            throw new IllegalArgumentException("--url must be an http(s) URL with a host, not " + url);
        }
        if (!(rate > 0) || Double.isInfinite(rate)) {
            throw new IllegalArgumentException("--rate must be > 0");
        }
        if (duration != null && (duration.isNegative() || duration.isZero())) {
            throw new IllegalArgumentException("--duration must be > 0");
        }
        if (requests < 0) {
            throw new IllegalArgumentException("--requests must be >= 0");
        }
        if (!(baseShare >= 0 && baseShare <= 1)) {
            throw new IllegalArgumentException("--base-share must be in [0, 1]");
        }
        if (adapterNames.isEmpty() && baseShare < 1) {
            throw new IllegalArgumentException("--base-share below 1 needs adapters (--adapters N or --adapter-names)");
        }
        if (!(zipf >= 0)) {
            throw new IllegalArgumentException("--zipf must be >= 0");
        }
        if (concurrency < 1) {
            throw new IllegalArgumentException("--concurrency must be >= 1");
        }
        if (!(temperature >= 0)) {
            throw new IllegalArgumentException("--temperature must be >= 0");
        }
        return this;
    }

    /** The completions endpoint under {@link #url}, which may be given with or without a trailing {@code /v1}. */
    public URI endpoint(String path) {
        String base = url.toString().replaceAll("/+$", "");
        if (base.endsWith("/v1")) {
            base = base.substring(0, base.length() - 3);
        }
        return URI.create(base + path);
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return args[i];
    }

    private static double number(String[] args, int i, String flag) {
        try {
            return Double.parseDouble(value(args, i, flag));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " needs a number");
        }
    }

    private static int integer(String[] args, int i, String flag) {
        try {
            return Integer.parseInt(value(args, i, flag));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " needs an integer");
        }
    }

    private static Duration seconds(String[] args, int i, String flag) {
        return Duration.ofMillis(Math.round(number(args, i, flag) * 1000));
    }
}
