package dev.quiver.edge.jinja;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * jinja2's {@code namespace(...)}: a mutable attribute bag that {@code {% set ns.attr = ... %}} may change from
 * inside loops, which is how templates carry state out of a loop body.
 */
final class Namespace {
    final Map<String, Object> attrs = new LinkedHashMap<>();

    @Override
    public String toString() {
        return "<Namespace " + PyValues.str(attrs) + ">";
    }
}
