package dev.quiver.edge.api;

/** What an API key may do: {@code USER} calls the OpenAI endpoints; {@code ADMIN} also manages adapters. */
public enum Role {
    USER,
    ADMIN
}
