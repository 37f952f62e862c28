package dev.quiver.edge.jinja;

import java.util.List;
import java.util.Map;

/**
 * A callable a template can invoke: a global such as {@code raise_exception(msg)} or {@code strftime_now(fmt)}, a
 * macro, or a bound Python method. Arguments arrive as template values (see {@link PyValues}: String, Long, Double,
 * Boolean, null, List, Map, {@link Undefined}); the result goes back as one.
 */
@FunctionalInterface
public interface JinjaFunction {
    Object call(List<Object> args, Map<String, Object> kwargs);
}
