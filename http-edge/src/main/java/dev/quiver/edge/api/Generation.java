package dev.quiver.edge.api;

import dev.quiver.gpu.sampling.SamplingParams;

/**
 * One generation as the edge asks for it: the prompt is already tokenized (the edge renders chat templates and
 * tokenizes with {@link ModelSpec#tokenizer()}), {@code model} is the name the client sent.
 */
public record Generation(String requestId, String model, int[] promptIds, SamplingParams params) {
}
