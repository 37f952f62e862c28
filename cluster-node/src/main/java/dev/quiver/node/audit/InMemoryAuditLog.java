package dev.quiver.node.audit;

import dev.quiver.edge.api.AdapterEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An {@link AuditLog} held in memory: complete and ordered while the process runs, gone when it stops. It serves
 * {@code quiver.node.persistence = in-memory} (tests, throwaway runs); it does not pretend to be durable ({@link #durable()} is false and /ready says so).
 */
public final class InMemoryAuditLog implements AuditLog {
    private final List<AdapterEvent> events = new ArrayList<>();

    @Override
    public synchronized AdapterEvent append(String adapter, String type, int version, String actor,
                                            Map<String, Object> detail) {
        AdapterEvent e = new AdapterEvent(events.size() + 1L, System.currentTimeMillis(), adapter, type, version,
                actor, Map.copyOf(detail));
        events.add(e);
        return e;
    }

    @Override
    public synchronized List<AdapterEvent> forAdapter(String adapter) {
        return events.stream().filter(e -> e.adapter().equals(adapter)).toList();
    }

    @Override
    public synchronized List<AdapterEvent> since(long since) {
        List<AdapterEvent> out = new ArrayList<>();
        for (int i = (int) Math.max(0, Math.min(since, events.size())); i < events.size(); i++) {
            out.add(events.get(i));
        }
        return out;
    }

    @Override
    public boolean durable() {
        return false;
    }
}
