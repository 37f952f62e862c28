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
import org.apache.pekko.persistence.query.NoOffset;
import org.apache.pekko.persistence.query.TimeBasedUUID;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByPersistenceIdQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByTagQuery;
import org.apache.pekko.persistence.query.javadsl.EventsByTagQuery;
import org.apache.pekko.persistence.query.javadsl.ReadJournal;
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
 *
 * <p>Any read journal with the by-persistence-id and by-tag queries works; the Cassandra one is
 * the default. NOTE: a journal without time-based offsets (Pekko's in-memory persistence
 * testkit, used by a node with {@code quiver.node.persistence = in-memory}) is read from its
 * start and filtered by write time, which is fine for the few events one process holds.
 */
public final class AdapterAuditLog {

  private final ActorSystem<?> system;
  private final ReadJournal journal;
  private final String tag;

  /** Over the Cassandra read journal. */
  public AdapterAuditLog(ActorSystem<?> system, String tag) {
    this(system, tag, CassandraReadJournal.Identifier());
  }

  /** Over the read journal configured at {@code readJournalPluginId}. */
  public AdapterAuditLog(ActorSystem<?> system, String tag, String readJournalPluginId) {
    this.system = system;
    this.journal = PersistenceQuery.get(system)
        .getReadJournalFor(ReadJournal.class, readJournalPluginId);
    if (!(journal instanceof CurrentEventsByPersistenceIdQuery
        && journal instanceof CurrentEventsByTagQuery && journal instanceof EventsByTagQuery)) {
      throw new IllegalArgumentException("read journal " + readJournalPluginId
          + " does not answer events-by-persistence-id and events-by-tag queries");
    }
    this.tag = tag;
  }

  /** An adapter's events, in order, as currently stored; completes at the last one. */
  public Source<AuditRecord, NotUsed> history(String adapter) {
    return ((CurrentEventsByPersistenceIdQuery) journal)
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
    return sinceFilter(((CurrentEventsByTagQuery) journal).currentEventsByTag(tag, offsetAt(since))
        .map(AdapterAuditLog::toRecord), since);
  }

  /** Collects {@link #lifecycleEvents} up to {@code limit} records. */
  public CompletionStage<List<AuditRecord>> lifecycleEventsList(Instant since, int limit) {
    return lifecycleEvents(since).take(limit).runWith(Sink.seq(), system);
  }

  /** Like {@link #lifecycleEvents} but never completes: new events follow as they are written. */
  public Source<AuditRecord, NotUsed> liveLifecycleEvents(Instant since) {
    return sinceFilter(((EventsByTagQuery) journal).eventsByTag(tag, offsetAt(since))
        .map(AdapterAuditLog::toRecord), since);
  }

  /** How long after a write a tagged query sees it, as configured (0 for other journals). */
  public Duration visibilityDelay() {
    return journal instanceof CassandraReadJournal
        ? system.settings().config()
            .getDuration("pekko.persistence.cassandra.events-by-tag.eventual-consistency-delay")
        : Duration.ZERO;
  }

  private Offset offsetAt(Instant since) {
    return journal instanceof CassandraReadJournal c
        ? c.timeBasedUUIDFrom(since.toEpochMilli())
        : NoOffset.getInstance();
  }

  /** A journal without time offsets is read from its start; drop what was written before. */
  private Source<AuditRecord, NotUsed> sinceFilter(Source<AuditRecord, NotUsed> records,
      Instant since) {
    return journal instanceof CassandraReadJournal
        ? records
        : records.filter(r -> !r.writtenAt().isBefore(since));
  }

  private static AuditRecord toRecord(EventEnvelope envelope) {
    AdapterEvent event = (AdapterEvent) envelope.event();
    Offset offset = envelope.offset();
    String offsetText = offset instanceof TimeBasedUUID t ? t.value().toString() : offset.toString();
    return new AuditRecord(event.adapter(), envelope.sequenceNr(),
        Instant.ofEpochMilli(envelope.timestamp()), event, offsetText);
  }
}
