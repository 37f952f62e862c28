package dev.quiver.sources;

import com.typesafe.config.Config;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * The options of {@code quiver.sources} (documented in this module's reference.conf), read once.
 *
 * @param hfToken     never logged; {@link #toString()} masks it
 * @param s3          how s3:// sources are reached
 * @param readTimeout how long a download's body may send nothing before the connection counts as stalled (it is
 *                    then closed and the file resumed with a Range request, within {@code retries})
 */
public record SourcesSettings(Path cacheDir, boolean offline, int maxParallel, int retries, Duration connectTimeout,
                              Duration requestTimeout, Progress progress, Duration logInterval, URI hfEndpoint,
                              String hfToken, S3 s3, Duration readTimeout) {

    /** {@code quiver.sources.read-timeout} when not given. */
    public static final Duration DEFAULT_READ_TIMEOUT = Duration.ofSeconds(30);

    public SourcesSettings(Path cacheDir, boolean offline, int maxParallel, int retries, Duration connectTimeout,
                           Duration requestTimeout, Progress progress, Duration logInterval, URI hfEndpoint,
                           String hfToken, S3 s3) {
        this(cacheDir, offline, maxParallel, retries, connectTimeout, requestTimeout, progress, logInterval,
                hfEndpoint, hfToken, s3, DEFAULT_READ_TIMEOUT);
    }

    /**
     * {@code quiver.sources.s3}: "" for region and keys means the AWS SDK's default chains (environment, profile,
     * instance role); {@code endpointOverride} (null = AWS) and {@code pathStyle} are for MinIO, Ceph, R2.
     */
    public record S3(String region, URI endpointOverride, boolean pathStyle, String accessKeyId,
                     String secretAccessKey) {
        public S3 {
            region = region == null ? "" : region.strip();
            accessKeyId = accessKeyId == null ? "" : accessKeyId.strip();
            secretAccessKey = secretAccessKey == null ? "" : secretAccessKey.strip();
        }

        /** The AWS defaults: region and credentials from the SDK's chains. */
        public static S3 defaults() {
            return new S3("", null, false, "", "");
        }

        @Override
        public String toString() {
            return "S3[region=" + region + ", endpointOverride=" + endpointOverride + ", pathStyle=" + pathStyle
                    + ", accessKeyId=" + accessKeyId + ", secretAccessKey=" + (secretAccessKey.isEmpty() ? "(none)"
                    : "(set)") + "]";
        }
    }

    /** How downloads show their progress. */
    public enum Progress {
        /** A bar per file on a terminal, else log lines. */
        AUTO,
        /** A bar per file (bytes, rate, ETA), redrawn in place. */
        TERMINAL,
        /** A log line per file every {@code log-interval}. */
        LOG,
        /** Nothing. */
        OFF
    }

    public SourcesSettings {
        if (maxParallel < 1 || retries < 0) {
            throw new IllegalArgumentException("quiver.sources: max-parallel must be at least 1 and retries at least 0");
        }
        String scheme = hfEndpoint.getScheme();
        if (hfEndpoint.getHost() == null || !("http".equals(scheme) || "https".equals(scheme))) {
            throw new IllegalArgumentException("quiver.sources.hf.endpoint must be an http(s) URL, got '" + hfEndpoint
                    + "'");
        }
        cacheDir = cacheDir.toAbsolutePath().normalize();
        hfToken = hfToken == null ? "" : hfToken.strip();
        s3 = s3 == null ? S3.defaults() : s3;
        readTimeout = readTimeout == null ? DEFAULT_READ_TIMEOUT : readTimeout;
        if (readTimeout.isNegative() || readTimeout.isZero()) {
            throw new IllegalArgumentException("quiver.sources.read-timeout must be positive, got " + readTimeout);
        }
    }

    public static SourcesSettings fromConfig(Config root) {
        Config c = root.getConfig("quiver.sources");
        String endpoint = c.getString("hf.endpoint").strip();
        while (endpoint.endsWith("/")) {
            endpoint = endpoint.substring(0, endpoint.length() - 1);
        }
        URI uri;
        try {
            uri = URI.create(endpoint);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("quiver.sources.hf.endpoint is not a URL: '" + endpoint + "'");
        }
        return new SourcesSettings(Path.of(c.getString("cache-dir")), flag(c.getString("offline"), "offline"),
                c.getInt("max-parallel"), c.getInt("retries"), c.getDuration("connect-timeout"),
                c.getDuration("request-timeout"), progress(c.getString("progress")), c.getDuration("log-interval"),
                uri, c.getString("hf.token"), s3(c.getConfig("s3")), c.getDuration("read-timeout"));
    }

    private static S3 s3(Config c) {
        String endpoint = c.getString("endpoint-override").strip();
        URI override = null;
        if (!endpoint.isEmpty()) {
            try {
                override = URI.create(endpoint);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("quiver.sources.s3.endpoint-override is not a URL: '" + endpoint
                        + "'");
            }
            if (override.getHost() == null) {
                throw new IllegalArgumentException("quiver.sources.s3.endpoint-override must be an http(s) URL, got '"
                        + endpoint + "'");
            }
        }
        return new S3(c.getString("region"), override, c.getBoolean("path-style"), c.getString("access-key-id"),
                c.getString("secret-access-key"));
    }

    /** Defaults for a cache directory and a Hub endpoint, no token (tests, tools). */
    public static SourcesSettings of(Path cacheDir, URI hfEndpoint) {
        return new SourcesSettings(cacheDir, false, 8, 5, Duration.ofSeconds(10), Duration.ofSeconds(60),
                Progress.AUTO, Duration.ofSeconds(5), hfEndpoint, "", S3.defaults());
    }

    public SourcesSettings withToken(String token) {
        return new SourcesSettings(cacheDir, offline, maxParallel, retries, connectTimeout, requestTimeout, progress,
                logInterval, hfEndpoint, token, s3, readTimeout);
    }

    public SourcesSettings withOffline(boolean off) {
        return new SourcesSettings(cacheDir, off, maxParallel, retries, connectTimeout, requestTimeout, progress,
                logInterval, hfEndpoint, hfToken, s3, readTimeout);
    }

    public SourcesSettings withMaxParallel(int n) {
        return new SourcesSettings(cacheDir, offline, n, retries, connectTimeout, requestTimeout, progress,
                logInterval, hfEndpoint, hfToken, s3, readTimeout);
    }

    public SourcesSettings withRetries(int n) {
        return new SourcesSettings(cacheDir, offline, maxParallel, n, connectTimeout, requestTimeout, progress,
                logInterval, hfEndpoint, hfToken, s3, readTimeout);
    }

    public SourcesSettings withProgress(Progress p, Duration interval) {
        return new SourcesSettings(cacheDir, offline, maxParallel, retries, connectTimeout, requestTimeout, p,
                interval, hfEndpoint, hfToken, s3, readTimeout);
    }

    public SourcesSettings withS3(S3 s) {
        return new SourcesSettings(cacheDir, offline, maxParallel, retries, connectTimeout, requestTimeout, progress,
                logInterval, hfEndpoint, hfToken, s, readTimeout);
    }

    public SourcesSettings withReadTimeout(Duration timeout) {
        return new SourcesSettings(cacheDir, offline, maxParallel, retries, connectTimeout, requestTimeout, progress,
                logInterval, hfEndpoint, hfToken, s3, timeout);
    }

    @Override
    public String toString() {
        return "SourcesSettings[cacheDir=" + cacheDir + ", offline=" + offline + ", maxParallel=" + maxParallel
                + ", retries=" + retries + ", progress=" + progress + ", hfEndpoint=" + hfEndpoint + ", hfToken="
                + (hfToken.isEmpty() ? "(none)" : "(set)") + ", s3=" + s3 + "]";
    }

    private static boolean flag(String v, String key) {
        return switch (v.strip().toLowerCase(Locale.ROOT)) {
            case "1", "true", "yes", "on" -> true;
            case "", "0", "false", "no", "off" -> false;
            default -> throw new IllegalArgumentException("quiver.sources." + key + " must be true/false (or 1/0), "
                    + "got '" + v + "'");
        };
    }

    private static Progress progress(String v) {
        try {
            return Progress.valueOf(v.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("quiver.sources.progress must be auto, terminal, log or off, got '"
                    + v + "'");
        }
    }
}
