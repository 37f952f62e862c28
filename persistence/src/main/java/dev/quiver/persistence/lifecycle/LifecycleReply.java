package dev.quiver.persistence.lifecycle;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.annotation.JsonTypeName;
import dev.quiver.persistence.JsonSerializable;
import dev.quiver.persistence.events.AdapterEvent;
import dev.quiver.persistence.state.AdapterState;
import dev.quiver.persistence.state.Rejection;

/**
 * The reply to every lifecycle request: the persisted event and the state after it, or the
 * typed rejection. NOTE: not {@code StatusReply}, whose error side carries only a message across
 * nodes; the edge needs the rejection's type to pick the HTTP status.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(LifecycleReply.Accepted.class),
  @JsonSubTypes.Type(LifecycleReply.Rejected.class)
})
public sealed interface LifecycleReply extends JsonSerializable {

  @JsonTypeName("accepted")
  record Accepted(AdapterEvent event, AdapterState state) implements LifecycleReply {}

  @JsonTypeName("rejected")
  record Rejected(Rejection rejection) implements LifecycleReply {}
}
