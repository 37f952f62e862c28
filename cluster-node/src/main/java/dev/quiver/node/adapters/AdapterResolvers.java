package dev.quiver.node.adapters;

import com.typesafe.config.Config;
import dev.quiver.edge.api.AdapterSource;
import dev.quiver.edge.api.Caller;
import dev.quiver.edge.api.Role;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.edge.api.ServiceException;
import dev.quiver.sources.SourceException;
import dev.quiver.sources.SourceUri;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Adapter resolvers ({@code quiver.node.adapter-resolvers}): a request whose {@code model} is not a registered name
 * but falls under a resolver ({@code my-org/sql-lora} under {@code hf://my-org/}) is registered through the normal
 * lifecycle ({@link AdapterRegistry#registerResolved}: fetched, validated, journaled as {@code Registered} by
 * {@code resolver:PREFIX}, owned by the resolver's tenant) and then served.
 * <ul>
 *   <li>Only callers of the resolver's tenant may trigger it (any tenant when it is {@code shared}); for anyone
 *       else the name is simply unknown.</li>
 *   <li>Concurrent first requests for one name share one registration (one download).</li>
 *   <li>A name that does not resolve is remembered as missing for {@code negative-ttl}; the caller sees the same
 *       404 as for any unknown model, so resolvers cannot be used to probe what exists.</li>
 * </ul>
 * With no resolvers configured, {@link #resolve} answers false at once and nothing changes.
 */
public final class AdapterResolvers {
    private static final Logger log = LoggerFactory.getLogger(AdapterResolvers.class);
    /** A resolved adapter's name: an adapter name, optionally under one "ORG/" (the Hub's repo id form). */
    public static final Pattern NAME = Pattern.compile(
            "(?:[A-Za-z0-9][A-Za-z0-9._-]{0,63}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}");
    private static final Pattern REST = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,95}");

    /**
     * One resolver: model names starting with {@code namePrefix} map to {@code prefix} + the rest of the name.
     *
     * @param prefix     the source prefix, e.g. {@code hf://my-org/} or {@code s3://bucket/adapters/}
     * @param namePrefix what a model name starts with: by default the org for hf:// ({@code my-org/}), "" else
     * @param tenant     the tenant that owns what it registers (and the only one that may trigger it unless shared)
     * @param shared     register as shared: every tenant may trigger it and use what it registered
     */
    public record Resolver(String prefix, String namePrefix, String tenant, boolean shared) {
        /** The source for {@code name}, if the name falls under this resolver. */
        Optional<String> sourceFor(String name) {
            if (!name.startsWith(namePrefix)) {
                return Optional.empty();
            }
            String rest = name.substring(namePrefix.length());
            return REST.matcher(rest).matches() ? Optional.of(prefix + rest) : Optional.empty();
        }
    }

    /** {@code quiver.node.adapter-resolvers} and {@code quiver.node.adapter-resolver-negative-ttl}. */
    public record Settings(List<Resolver> resolvers, Duration negativeTtl) {
        public static Settings fromConfig(Config root) {
            Config c = root.getConfig("quiver.node");
            List<Resolver> out = new ArrayList<>();
            int i = 0;
            for (Config r : c.getConfigList("adapter-resolvers")) {
                String key = "quiver.node.adapter-resolvers[" + i++ + "]";
                if (!r.hasPath("prefix") || !r.hasPath("tenant")) {
                    throw new IllegalArgumentException(key + " needs a prefix and a tenant");
                }
                String prefix = r.getString("prefix").strip();
                if (!prefix.endsWith("/")) {
                    throw new IllegalArgumentException(key + ".prefix must end with '/', got '" + prefix + "'");
                }
                SourceUri parsed;
                try {
                    parsed = SourceUri.parse(prefix + "x");
                } catch (SourceException e) {
                    throw new IllegalArgumentException(key + ".prefix: " + e.getMessage());
                }
                String namePrefix;
                if (r.hasPath("name-prefix")) {
                    namePrefix = r.getString("name-prefix");
                } else if (parsed instanceof SourceUri.Hub h) {
                    namePrefix = h.repo().substring(0, h.repo().indexOf('/') + 1);
                } else {
                    namePrefix = "";
                }
                if (parsed instanceof SourceUri.Hub h && !prefix.equals("hf://" + h.repo().substring(0,
                        h.repo().indexOf('/') + 1))) {
                    throw new IllegalArgumentException(key + ".prefix for the Hub is hf://ORG/, got '" + prefix + "'");
                }
                String tenant = r.getString("tenant");
                if (tenant.isBlank()) {
                    throw new IllegalArgumentException(key + ".tenant must not be empty");
                }
                out.add(new Resolver(prefix, namePrefix, tenant, r.hasPath("shared") && r.getBoolean("shared")));
            }
            return new Settings(List.copyOf(out), c.getDuration("adapter-resolver-negative-ttl"));
        }
    }

    private final Settings settings;
    private final AdapterRegistry registry;
    private final Clock clock;
    private final Map<String, CompletableFuture<Boolean>> inFlight = new ConcurrentHashMap<>();
    /** Names that did not resolve, until when (epoch ms). Bounded: expired entries are dropped as it grows. */
    private final Map<String, Long> missing = new ConcurrentHashMap<>();
    private static final int MAX_MISSING = 10_000;

    public AdapterResolvers(Settings settings, AdapterRegistry registry, Clock clock) {
        this.settings = settings;
        this.registry = registry;
        this.clock = clock;
    }

    public boolean enabled() {
        return !settings.resolvers().isEmpty();
    }

    /**
     * Registers {@code name} through a resolver the caller may use, once; completes true when it is registered
     * now (by this call, a concurrent one or another node), false when the name is unknown to the caller.
     * Never fails: every error is a false (and a log line), so the caller answers its ordinary 404.
     */
    public CompletionStage<Boolean> resolve(Caller caller, String name) {
        if (!enabled() || name == null || !NAME.matcher(name).matches()) {
            return CompletableFuture.completedFuture(false);
        }
        for (Resolver r : settings.resolvers()) {
            if (!r.shared() && !r.tenant().equals(caller.tenant())) {
                continue;
            }
            Optional<String> source = r.sourceFor(name);
            if (source.isEmpty()) {
                continue;
            }
            Long until = missing.get(name);
            long now = clock.millis();
            if (until != null && until > now) {
                return CompletableFuture.completedFuture(false);
            }
            CompletableFuture<Boolean> mine = new CompletableFuture<>();
            CompletableFuture<Boolean> running = inFlight.putIfAbsent(name, mine);
            if (running != null) {
                return running;
            }
            register(r, name, source.get()).whenComplete((ok, err) -> {
                inFlight.remove(name, mine);
                mine.complete(err == null && ok);
            });
            return mine;
        }
        return CompletableFuture.completedFuture(false);
    }

    private CompletableFuture<Boolean> register(Resolver r, String name, String source) {
        Caller as = new Caller(r.tenant(), Role.ADMIN, "resolver:" + r.prefix());
        log.info("adapter {} is not registered; resolving it from {}", name, source);
        return registry.registerResolved(as, name, AdapterSource.ofUri(source), r.shared()).toCompletableFuture()
                .handle((view, err) -> {
                    if (err == null) {
                        log.info("adapter {} registered from {} by resolver:{}", name, source, r.prefix());
                        return true;
                    }
                    Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
                    if (cause instanceof ServiceException se && se.error().kind() == ServiceError.Kind.CONFLICT) {
                        return true;
                    }
                    remember(name);
                    log.info("adapter {} did not resolve from {} (remembered as missing for {}): {}", name, source,
                            settings.negativeTtl(), cause.getMessage());
                    return false;
                });
    }

    private void remember(String name) {
        long now = clock.millis();
        if (missing.size() >= MAX_MISSING) {
            missing.values().removeIf(until -> until <= now);
            if (missing.size() >= MAX_MISSING) {
                missing.clear();
            }
        }
        missing.put(name, now + settings.negativeTtl().toMillis());
    }
}
