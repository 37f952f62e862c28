package dev.quiver.edge.auth;

import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.Role;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * API keys as configured: only their SHA-256 (hex) is kept, in config and in memory; a presented key is hashed
 * and looked up. Each key names its tenant and role.
 */
public final class ApiKeys {
    /** One configured key. */
    public record Entry(String name, String sha256, String tenant, Role role) {
    }

    private final Map<String, Entry> bySha;

    public ApiKeys(List<Entry> entries) {
        this.bySha = entries.stream().collect(Collectors.toUnmodifiableMap(e -> e.sha256().toLowerCase(
                java.util.Locale.ROOT), Function.identity()));
    }

    public static String sha256Hex(String key) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(key.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The caller a presented key belongs to, if any. */
    public Optional<Caller> authenticate(String key) {
        if (key == null || key.isEmpty()) {
            return Optional.empty();
        }
        Entry e = bySha.get(sha256Hex(key));
        return e == null ? Optional.empty() : Optional.of(new Caller(e.tenant(), e.role(), e.name()));
    }

    public boolean isEmpty() {
        return bySha.isEmpty();
    }
}
