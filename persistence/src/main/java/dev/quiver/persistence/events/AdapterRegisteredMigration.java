package dev.quiver.persistence.events;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.pekko.serialization.jackson.JacksonMigration;

/**
 * Reads {@link AdapterEvent.AdapterRegistered} events written in an earlier shape.
 *
 * <ul>
 *   <li>v1 ({@code "type": "adapter-registered.v1"}, manifest without {@code #}): the first
 *       prototype's shape. {@code targetModules} was one comma-separated string and there was no
 *       {@code source}.
 *   <li>v2 (current): {@code targetModules} is a list; {@code source} says where the files came
 *       from ({@code "unknown"} for events older than the field).
 * </ul>
 *
 * Registered for the class in {@code reference.conf} under
 * {@code pekko.serialization.jackson.migrations}.
 */
public final class AdapterRegisteredMigration extends JacksonMigration {

  /** What {@code source} reads as for events written before the field existed. */
  public static final String UNKNOWN_SOURCE = "unknown";

  @Override
  public int currentVersion() {
    return 2;
  }

  @Override
  public JsonNode transform(int fromVersion, JsonNode json) {
    if (!(json instanceof ObjectNode root)) {
      throw new IllegalArgumentException("AdapterRegistered JSON must be an object, got " + json);
    }
    if (fromVersion < 2) {
      JsonNode modules = root.get("targetModules");
      if (modules != null && modules.isTextual()) {
        ArrayNode list = JsonNodeFactory.instance.arrayNode();
        for (String module : modules.asText().split(",")) {
          if (!module.isBlank()) {
            list.add(module.strip());
          }
        }
        root.set("targetModules", list);
      }
      if (!root.hasNonNull("source")) {
        root.put("source", UNKNOWN_SOURCE);
      }
      root.put("type", AdapterEvent.AdapterRegistered.TYPE_NAME);
    }
    return root;
  }
}
