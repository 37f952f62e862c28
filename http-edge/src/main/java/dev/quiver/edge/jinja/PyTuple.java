package dev.quiver.edge.jinja;

import java.util.AbstractList;
import java.util.List;

/** A Python tuple: an immutable list that prints as {@code (a, b)} and never equals a list. */
final class PyTuple extends AbstractList<Object> {
    private final List<Object> items;

    PyTuple(List<Object> items) {
        this.items = List.copyOf(items.stream().map(PyTuple::box).toList());
    }

    static PyTuple of(Object... items) {
        return new PyTuple(java.util.Arrays.asList(items));
    }

    /** List.copyOf refuses nulls, so None is held as a marker and unboxed on read. */
    private static Object box(Object o) {
        return o == null ? NONE : o;
    }

    private static final Object NONE = new Object();

    @Override
    public Object get(int index) {
        Object o = items.get(index);
        return o == NONE ? null : o;
    }

    @Override
    public int size() {
        return items.size();
    }
}
