package dev.quiver.edge.jinja;

import java.util.List;

/**
 * What jinja2 filters such as {@code select}, {@code map}, {@code items} and {@code reverse} return: a one-shot
 * Python generator. It iterates and is truthy, but has no length and cannot be indexed, as in Python; templates turn
 * it into a list with {@code |list}. The values are computed eagerly here (filters have no side effects).
 */
final class PyGenerator {
    final List<Object> items;
    final String name;

    PyGenerator(List<Object> items, String name) {
        this.items = items;
        this.name = name;
    }

    @Override
    public String toString() {
        return "<generator object " + name + ">";
    }
}
