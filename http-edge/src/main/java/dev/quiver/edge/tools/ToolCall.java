package dev.quiver.edge.tools;

/**
 * One parsed call, as OpenAI returns it.
 *
 * @param arguments the arguments object as compact JSON text
 */
public record ToolCall(String id, String name, String arguments) {
}
