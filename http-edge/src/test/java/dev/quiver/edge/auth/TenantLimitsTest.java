package dev.quiver.edge.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.quiver.edge.api.ServiceError;
import dev.quiver.edge.api.ServiceException;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Per-tenant admission with a fake clock. */
class TenantLimitsTest {
    final AtomicLong now = new AtomicLong();

    TenantLimits limits(int concurrent, long tpm) {
        return new TenantLimits(Map.of("t", new TenantLimits.Limits(concurrent, tpm)),
                new TenantLimits.Limits(0, 0), now::get);
    }

    @Test
    void refuses_requests_over_the_concurrency_limit_until_one_ends() {
        TenantLimits l = limits(2, 0);
        TenantLimits.Permit a = l.acquire("t", 10);
        l.acquire("t", 10);
        ServiceException e = assertThrows(ServiceException.class, () -> l.acquire("t", 10));
        assertEquals(ServiceError.Kind.RATE_LIMITED, e.error().kind());
        assertEquals(1, e.error().retryAfterSeconds());
        a.release(5);
        a.release(5); // idempotent
        l.acquire("t", 10);
        assertThrows(ServiceException.class, () -> l.acquire("t", 10));
        l.acquire("other", 10); // unlisted tenants get the default (unlimited here)
    }

    @Test
    void tokens_per_minute_refill_continuously_and_unused_reservations_are_refunded() {
        TenantLimits l = limits(0, 600); // 10 tokens per second
        TenantLimits.Permit p = l.acquire("t", 500);
        ServiceException e = assertThrows(ServiceException.class, () -> l.acquire("t", 200));
        assertEquals(10, e.error().retryAfterSeconds(), "100 tokens short at 10/s");
        p.release(300); // 200 unused come back
        l.acquire("t", 200);
        now.addAndGet(60_000_000_000L); // a minute later the bucket is full again
        l.acquire("t", 600);
    }

    @Test
    void a_request_larger_than_the_whole_budget_waits_for_a_full_bucket() {
        TenantLimits l = limits(0, 100);
        l.acquire("t", 1000).release(1000);
        assertThrows(ServiceException.class, () -> l.acquire("t", 1000));
        now.addAndGet(60_000_000_000L * 10);
        l.acquire("t", 1000);
    }

    @Test
    void api_keys_are_matched_by_their_sha256() {
        ApiKeys keys = new ApiKeys(java.util.List.of(new ApiKeys.Entry("k", ApiKeys.sha256Hex("secret"), "t",
                dev.quiver.edge.api.Role.ADMIN)));
        assertEquals("t", keys.authenticate("secret").orElseThrow().tenant());
        assertEquals(true, keys.authenticate("Secret").isEmpty());
        assertEquals(true, keys.authenticate(null).isEmpty());
        assertEquals("2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b", ApiKeys.sha256Hex("secret"));
    }
}
