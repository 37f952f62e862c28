package dev.quiver.edge.api;

import java.util.Map;

/**
 * One adapter lifecycle event as the audit API shows it.
 *
 * @param seq       position in the node's event log (for {@code GET /v1/events?since=})
 * @param timestamp epoch milliseconds
 * @param type      {@code Registered}, {@code VersionPublished}, {@code Preloaded}, {@code PlacedOn},
 *                  {@code EvictedFrom}, {@code RolledBack}, {@code Retired}, {@code LoadFailed}, and for rollouts
 *                  {@code SplitStarted}, {@code SplitChanged}, {@code SplitEnded}, {@code FallbackChanged}
 * @param version   the adapter version concerned (0 when none)
 * @param actor     the API key name (or {@code system}) that caused it
 */
public record AdapterEvent(long seq, long timestamp, String adapter, String type, int version, String actor,
                           Map<String, Object> detail) {
}
