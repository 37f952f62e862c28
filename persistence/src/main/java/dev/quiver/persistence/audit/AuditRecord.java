package dev.quiver.persistence.audit;

import dev.quiver.persistence.events.AdapterEvent;
import java.time.Instant;

/**
 * One lifecycle event as the audit log returns it.
 *
 * @param sequenceNr the event's position in its adapter's history (1, 2, 3...)
 * @param writtenAt when the journal stored it (the event's own {@link AdapterEvent#at()} is when
 *     the entity accepted the command; they differ by the write latency)
 * @param offset an opaque resume point for {@link AdapterAuditLog#lifecycleEvents}, as text
 */
public record AuditRecord(
    String adapter, long sequenceNr, Instant writtenAt, AdapterEvent event, String offset) {}
