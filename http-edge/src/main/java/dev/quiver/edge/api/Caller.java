package dev.quiver.edge.api;

/**
 * The authenticated caller of one request, resolved by the edge from its API key and passed to every service
 * call so that the service can scope adapters to the tenant.
 *
 * @param tenant  the tenant the key belongs to
 * @param role    what the key may do
 * @param keyName the key's configured name (for logs and audit), never the key itself
 */
public record Caller(String tenant, Role role, String keyName) {
    public boolean isAdmin() {
        return role == Role.ADMIN;
    }
}
