package dev.quiver.persistence.state;

import dev.quiver.persistence.events.AdapterEvent;

/** The outcome of {@link LifecycleRules#decide}: one event to persist, or a typed rejection. */
public sealed interface Decision {

  record Accept(AdapterEvent event) implements Decision {}

  record Reject(Rejection rejection) implements Decision {}
}
