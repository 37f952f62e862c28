package dev.quiver.edge.api;

import dev.quiver.gpu.tokenizer.Tokenizer;

/**
 * The base model every adapter shares: its served name, its tokenizer (the edge tokenizes and renders chat
 * templates with it) and the longest prompt + completion a worker accepts.
 */
public record ModelSpec(String id, Tokenizer tokenizer, int maxModelLen, long created, String ownedBy) {
}
