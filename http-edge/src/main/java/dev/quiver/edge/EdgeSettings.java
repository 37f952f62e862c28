package dev.quiver.edge;

import com.typesafe.config.Config;
import dev.quiver.edge.api.Role;
import dev.quiver.edge.auth.ApiKeys;
import dev.quiver.edge.auth.TenantLimits;
import dev.quiver.edge.openai.OpenAiRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The edge's options, read once from {@code quiver.edge} (documented in this module's reference.conf). */
public record EdgeSettings(String host, int port, long maxRequestBytes, long maxUploadBytes,
                           OpenAiRequest.Limits limits, int defaultMaxTokens, Duration requestTimeout,
                           Duration shutdownDeadline, TenantLimits.Limits defaultTenantLimits,
                           Map<String, TenantLimits.Limits> tenants, List<ApiKeys.Entry> apiKeys) {

    public static EdgeSettings fromConfig(Config root) {
        Config c = root.getConfig("quiver.edge");
        Map<String, TenantLimits.Limits> tenants = new HashMap<>();
        Config t = c.getConfig("tenants");
        for (String name : t.root().keySet()) {
            tenants.put(name, limits(t.getConfig(quoted(name))));
        }
        List<ApiKeys.Entry> keys = new ArrayList<>();
        for (Config k : c.getConfigList("api-keys")) {
            String sha = k.getString("sha256").toLowerCase(Locale.ROOT);
            if (!sha.matches("[0-9a-f]{64}")) {
                throw new IllegalArgumentException("quiver.edge.api-keys: sha256 of key '" + k.getString("name")
                        + "' is not 64 hex digits (store the SHA-256 of the key, never the key)");
            }
            keys.add(new ApiKeys.Entry(k.getString("name"), sha, k.getString("tenant"),
                    Role.valueOf(k.getString("role").toUpperCase(Locale.ROOT))));
        }
        return new EdgeSettings(c.getString("host"), c.getInt("port"), c.getBytes("max-request-size"),
                c.getBytes("max-upload-size"),
                new OpenAiRequest.Limits(c.getInt("max-n"), c.getInt("max-prompts"), c.getInt("max-choices")),
                c.getInt("default-max-tokens"), c.getDuration("request-timeout"), c.getDuration("shutdown-deadline"),
                limits(c.getConfig("default-tenant-limits")), tenants, keys);
    }

    private static TenantLimits.Limits limits(Config c) {
        return new TenantLimits.Limits(c.getInt("max-concurrent-requests"), c.getLong("tokens-per-minute"));
    }

    private static String quoted(String key) {
        return "\"" + key.replace("\"", "\\\"") + "\"";
    }

    public EdgeSettings withPort(int p) {
        return new EdgeSettings(host, p, maxRequestBytes, maxUploadBytes, limits, defaultMaxTokens, requestTimeout,
                shutdownDeadline, defaultTenantLimits, tenants, apiKeys);
    }

    public EdgeSettings withApiKeys(List<ApiKeys.Entry> keys) {
        return new EdgeSettings(host, port, maxRequestBytes, maxUploadBytes, limits, defaultMaxTokens,
                requestTimeout, shutdownDeadline, defaultTenantLimits, tenants, List.copyOf(keys));
    }
}
