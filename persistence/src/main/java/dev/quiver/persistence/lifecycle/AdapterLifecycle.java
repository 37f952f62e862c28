package dev.quiver.persistence.lifecycle;

import dev.quiver.persistence.JsonSerializable;
import dev.quiver.persistence.PersistenceSettings;
import dev.quiver.persistence.events.AdapterEvent;
import dev.quiver.persistence.state.AdapterState;
import dev.quiver.persistence.state.Decision;
import dev.quiver.persistence.state.LifecycleRequest;
import dev.quiver.persistence.state.LifecycleRules;
import java.time.Clock;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;

/**
 * The event-sourced core of one adapter's life: it validates each {@link LifecycleRequest} with
 * {@link LifecycleRules}, persists the resulting {@link AdapterEvent} (tagged for the audit
 * log), folds it into {@link AdapterState}, and replies with a {@link LifecycleReply}. Journal
 * and snapshots are Cassandra in production (see reference.conf), in-memory in unit tests.
 *
 * <p>This is the persistence half of the adapter entity; cluster-node shards it by adapter name
 * and adds routing and placement around it. Persistence id: {@code Adapter|<name>}.
 */
public final class AdapterLifecycle
    extends EventSourcedBehaviorWithEnforcedReplies<
        AdapterLifecycle.Command, AdapterEvent, AdapterState> {

  /** The entity type name: the persistence id prefix and the sharding type key name. */
  public static final String ENTITY_TYPE = "Adapter";

  /** What the behaviour accepts. */
  public sealed interface Command extends JsonSerializable {}

  /** Validate and apply a lifecycle request. */
  public record Execute(LifecycleRequest request, ActorRef<LifecycleReply> replyTo)
      implements Command {}

  /** Read the current state. */
  public record GetState(ActorRef<AdapterState> replyTo) implements Command {}

  private final String adapter;
  private final PersistenceSettings.Lifecycle settings;
  private final Clock clock;

  private AdapterLifecycle(String adapter, PersistenceSettings.Lifecycle settings, Clock clock) {
    super(persistenceId(adapter));
    this.adapter = adapter;
    this.settings = settings;
    this.clock = clock;
  }

  public static Behavior<Command> create(
      String adapter, PersistenceSettings.Lifecycle settings, Clock clock) {
    return new AdapterLifecycle(adapter, settings, clock);
  }

  public static PersistenceId persistenceId(String adapter) {
    return PersistenceId.of(ENTITY_TYPE, adapter);
  }

  @Override
  public AdapterState emptyState() {
    return AdapterState.unregistered(adapter);
  }

  @Override
  public CommandHandlerWithReply<Command, AdapterEvent, AdapterState> commandHandler() {
    return newCommandHandlerWithReplyBuilder()
        .forAnyState()
        .onCommand(Execute.class, this::onExecute)
        .onCommand(GetState.class, (state, cmd) -> Effect().reply(cmd.replyTo(), state))
        .build();
  }

  private ReplyEffect<AdapterEvent, AdapterState> onExecute(AdapterState state, Execute cmd) {
    Decision decision = LifecycleRules.decide(state, cmd.request(), clock.instant());
    if (decision instanceof Decision.Accept accept) {
      return Effect()
          .persist(accept.event())
          .thenReply(cmd.replyTo(), next -> new LifecycleReply.Accepted(accept.event(), next));
    }
    Decision.Reject reject = (Decision.Reject) decision;
    return Effect().reply(cmd.replyTo(), new LifecycleReply.Rejected(reject.rejection()));
  }

  @Override
  public EventHandler<AdapterState, AdapterEvent> eventHandler() {
    return (state, event) -> state.apply(event);
  }

  @Override
  public Set<String> tagsFor(AdapterEvent event) {
    return Set.of(settings.tag());
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(settings.snapshotEvery(), settings.keepSnapshots());
  }
}
