package dev.quiver.node.local;

import dev.quiver.edge.api.GenerationListener;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.gpu.worker.EngineError;
import dev.quiver.gpu.worker.GpuWorker;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * The edge's side of one generation (one actor per request): sends {@code Generate} to the worker with itself as
 * {@code replyTo}, relays the worker's events to the edge's {@link GenerationListener}, and stops when the request
 * ends. It watches the worker: a worker that stops mid-request fails the request as retriable. When this actor
 * stops early, the worker sees its requester gone and cancels the request, freeing its KV blocks.
 */
public final class RequestRelay extends AbstractBehavior<Object> {
    // NOTE: the relay's message type is Object because it receives the worker's GpuWorker.Event directly (its own
    // ref is the request's replyTo, so the worker's death watch on the requester sees this actor) besides its own
    // commands below.

    record WorkerGone() {
    }

    /** The client went away: cancel in the engine and wait for its Finished(cancelled). */
    public record CancelRequest() {
    }

    public static Behavior<Object> create(GpuWorker.Generate template, ActorRef<GpuWorker.Command> worker,
                                           GenerationListener listener) {
        return Behaviors.setup(ctx -> new RequestRelay(ctx, template, worker, listener));
    }

    private final ActorRef<GpuWorker.Command> worker;
    private final GenerationListener listener;
    private final String requestId;

    private RequestRelay(ActorContext<Object> ctx, GpuWorker.Generate g, ActorRef<GpuWorker.Command> worker,
                         GenerationListener listener) {
        super(ctx);
        this.worker = worker;
        this.listener = listener;
        this.requestId = g.requestId();
        ctx.watchWith(worker, new WorkerGone());
        ActorRef<GpuWorker.Event> events = ctx.getSelf().narrow();
        worker.tell(new GpuWorker.Generate(g.requestId(), g.adapter(), g.adapterDir(), g.promptIds(), g.params(),
                events));
    }

    @Override
    public Receive<Object> createReceive() {
        return newReceiveBuilder()
                .onMessage(GpuWorker.Event.class, this::onEvent)
                .onMessage(CancelRequest.class, c -> {
                    worker.tell(new GpuWorker.Cancel(requestId));
                    return this;
                })
                .onMessage(WorkerGone.class, w -> {
                    listener.onFailed(new ServiceError(ServiceError.Kind.UNAVAILABLE, "the worker serving this "
                            + "request stopped; retry", null, 1));
                    return Behaviors.stopped();
                })
                .build();
    }

    private Behavior<Object> onEvent(GpuWorker.Event e) {
        if (e instanceof GpuWorker.Accepted a) {
            listener.onAccepted(a.promptTokens());
        } else if (e instanceof GpuWorker.Tokens t) {
            listener.onTokens(t.tokenIds(), t.text(), t.logprobs().stream().map(lp ->
                    new GenerationListener.TokenLogprob(lp.tokenId(), lp.logprob(), lp.topIds(), lp.topLogprobs()))
                    .toList());
        } else if (e instanceof GpuWorker.Finished f) {
            listener.onFinished(f.reason().wire(), f.usage().promptTokens(), f.usage().completionTokens());
            return Behaviors.stopped();
        } else if (e instanceof GpuWorker.Failed f) {
            listener.onFailed(toServiceError(f.error()));
            return Behaviors.stopped();
        }
        return this;
    }

    /** The engine's typed errors in the edge's terms (one to one). */
    static ServiceError toServiceError(EngineError e) {
        ServiceError.Kind kind = switch (e.kind()) {
            case INVALID_REQUEST -> ServiceError.Kind.INVALID_REQUEST;
            case CONTEXT_LENGTH_EXCEEDED -> ServiceError.Kind.CONTEXT_LENGTH_EXCEEDED;
            case UNKNOWN_ADAPTER -> ServiceError.Kind.NOT_FOUND;
            case ADAPTER_REFUSED -> ServiceError.Kind.ADAPTER_REFUSED;
            case OVERLOADED -> ServiceError.Kind.OVERLOADED;
            case SHUTTING_DOWN -> ServiceError.Kind.UNAVAILABLE;
            case INTERNAL -> ServiceError.Kind.INTERNAL;
        };
        return new ServiceError(kind, e.message(), e.param(), e.retryAfterSeconds());
    }
}
