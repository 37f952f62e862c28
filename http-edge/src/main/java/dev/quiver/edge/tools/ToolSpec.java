package dev.quiver.edge.tools;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Map;

/**
 * One declared function tool of a chat request.
 *
 * @param name       matches {@code ^[a-zA-Z0-9_-]{1,64}$}, unique within the request
 * @param parameters the JSON schema of the arguments (an object; when the client sent none, one that admits
 *                   only {@code {}})
 * @param template   the tool exactly as the client sent it ({@code {"type":"function","function":{...}}}), as
 *                   the chat template sees it
 */
public record ToolSpec(String name, JsonNode parameters, Map<String, Object> template) {
}
