package dev.quiver.edge.auth;

import dev.quiver.edge.api.ServiceError;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Per-tenant admission: at most {@code maxConcurrent} requests in flight and a tokens-per-minute budget (a token
 * bucket of {@code tokensPerMinute} that refills continuously). A request reserves prompt + max_tokens when
 * admitted and is refunded what it did not use when it ends. A request larger than the whole budget is admitted
 * when the bucket is full, so it is slow rather than impossible. Refusals are {@code RATE_LIMITED} with a
 * {@code Retry-After} of the seconds until enough budget is back.
 */
public final class TenantLimits {
    /** Limits of one tenant; 0 = unlimited. */
    public record Limits(int maxConcurrent, long tokensPerMinute) {
    }

    private final Map<String, Limits> limits;
    private final Limits dflt;
    private final Map<String, Bucket> buckets = new ConcurrentHashMap<>();
    private final java.util.function.LongSupplier nanoClock;

    public TenantLimits(Map<String, Limits> limits, Limits dflt, java.util.function.LongSupplier nanoClock) {
        this.limits = Map.copyOf(limits);
        this.dflt = dflt;
        this.nanoClock = nanoClock;
    }

    /** A granted admission; {@link #release} exactly once with the tokens actually used. */
    public final class Permit {
        private final Bucket bucket;
        private final long reserved;
        private boolean released;

        Permit(Bucket bucket, long reserved) {
            this.bucket = bucket;
            this.reserved = reserved;
        }

        public void release(long usedTokens) {
            synchronized (bucket) {
                if (released) {
                    return;
                }
                released = true;
                bucket.inFlight--;
                bucket.refill(nanoClock.getAsLong());
                bucket.level = Math.min(bucket.capacity(), bucket.level + Math.max(0, reserved - usedTokens));
            }
        }
    }

    /** Admits a request reserving {@code tokens}, or throws RATE_LIMITED. */
    public Permit acquire(String tenant, long tokens) {
        Limits l = limits.getOrDefault(tenant, dflt);
        Bucket b = buckets.computeIfAbsent(tenant, t -> new Bucket(l, nanoClock.getAsLong()));
        synchronized (b) {
            if (l.maxConcurrent() > 0 && b.inFlight >= l.maxConcurrent()) {
                throw new ServiceError(ServiceError.Kind.RATE_LIMITED, "tenant '" + tenant + "' has "
                        + b.inFlight + " requests in flight, its limit is " + l.maxConcurrent(), null, 1).exception();
            }
            long reserve = 0;
            if (l.tokensPerMinute() > 0) {
                b.refill(nanoClock.getAsLong());
                double need = Math.min(tokens, b.capacity());
                if (b.level < need) {
                    double perSecond = l.tokensPerMinute() / 60.0;
                    int wait = (int) Math.max(1, Math.ceil((need - b.level) / perSecond));
                    throw new ServiceError(ServiceError.Kind.RATE_LIMITED, "tenant '" + tenant
                            + "' is over its limit of " + l.tokensPerMinute() + " tokens per minute (this request "
                            + "needs " + tokens + ")", null, wait).exception();
                }
                b.level -= tokens;
                reserve = tokens;
            }
            b.inFlight++;
            return new Permit(b, reserve);
        }
    }

    private static final class Bucket {
        final Limits limits;
        double level;
        long lastNanos;
        int inFlight;

        Bucket(Limits limits, long now) {
            this.limits = limits;
            this.level = limits.tokensPerMinute();
            this.lastNanos = now;
        }

        double capacity() {
            return limits.tokensPerMinute();
        }

        void refill(long now) {
            double add = (now - lastNanos) / 60e9 * limits.tokensPerMinute();
            level = Math.min(capacity(), level + add);
            lastNanos = now;
        }
    }
}
