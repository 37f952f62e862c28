package dev.quiver.edge.api;

/**
 * One entry of {@code GET /v1/models}: the base model or an adapter the caller may use.
 *
 * @param root   the base model's id (OpenAI/vLLM's {@code root}); {@code parent} is null for the base model
 */
public record ModelEntry(String id, long created, String ownedBy, String root, String parent) {
}
