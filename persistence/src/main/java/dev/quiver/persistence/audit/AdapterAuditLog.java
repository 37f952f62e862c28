package dev.quiver.persistence.audit;

import dev.quiver.persistence.events.AdapterEvent;
import dev.quiver.persistence.lifecycle.AdapterLifecycle;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.cassandra.query.javadsl.CassandraReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.TimeBasedUUID;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The audit read side: "what happened to adapter X, when, and who did it" and "every lifecycle
 * event across adapters since T", read from the Cassandra journal through Pekko's read journal
 * ({@code eventsByPersistenceId}, and {@code eventsByTag} over the lifecycle tag). The Java API
 * the HTTP edge's admin routes call.
 *
 * <p>Tagged queries see an event only after the plugin's {@code eventual-consistency-delay}
 * (reference.conf), the price of a total order across writers.
 */
public final class AdapterAuditLog {

  private final ActorSystem<?> system;
  private final CassandraReadJournal journal;
  private final String tag;

  public AdapterAuditLog(ActorSystem<?> system, String tag) {
    this.system = system;
    this.journal = PersistenceQuery.get(system)
        .getReadJournalFor(CassandraReadJournal.class, CassandraReadJournal.Identifier());
    this.tag = tag;
  }

  /** An adapter's events, in order, as currently stored; completes at the last one. */
  public Source<AuditRecord, NotUsed> history(String adapter) {
    return journal
        .currentEventsByPersistenceId(
            AdapterLifecycle.persistenceId(adapter).id(), 0L, Long.MAX_VALUE)
        .map(AdapterAuditLog::toRecord);
  }

  /** At most {@code limit} of an adapter's events, in order, collected. */
  public CompletionStage<List<AuditRecord>> historyList(String adapter, int limit) {
    return history(adapter).take(limit).runWith(Sink.seq(), system);
  }

  /**
   * Lifecycle events of all adapters written since {@code since}, in time order; completes once
   * it reaches the present (minus the eventual-consistency delay).
   */
  public Source<AuditRecord, NotUsed> lifecycleEvents(Instant since) {
    return journal.currentEventsByTag(tag, offsetAt(since)).map(AdapterAuditLog::toRecord);
  }

  /** Collects {@link #lifecycleEvents} up to {@code limit} records. */
  public CompletionStage<List<AuditRecord>> lifecycleEventsList(Instant since, int limit) {
    return lifecycleEvents(since).take(limit).runWith(Sink.seq(), system);
  }

  /** Like {@link #lifecycleEvents} but never completes: new events follow as they are written. */
  public Source<AuditRecord, NotUsed> liveLifecycleEvents(Instant since) {
    return journal.eventsByTag(tag, offsetAt(since)).map(AdapterAuditLog::toRecord);
  }

  /** How long after a write a tagged query sees it, as configured. */
  public Duration visibilityDelay() {
    return system.settings().config()
        .getDuration("pekko.persistence.cassandra.events-by-tag.eventual-consistency-delay");
  }

  private Offset offsetAt(Instant since) {
    return journal.timeBasedUUIDFrom(since.toEpochMilli());
  }

  private static AuditRecord toRecord(EventEnvelope envelope) {
    AdapterEvent event = (AdapterEvent) envelope.event();
    Offset offset = envelope.offset();
    String offsetText = offset instanceof TimeBasedUUID t ? t.value().toString() : offset.toString();
    return new AuditRecord(event.adapter(), envelope.sequenceNr(),
        Instant.ofEpochMilli(envelope.timestamp()), event, offsetText);
  }
}
