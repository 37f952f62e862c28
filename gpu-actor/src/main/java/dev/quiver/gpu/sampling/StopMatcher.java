package dev.quiver.gpu.sampling;

import java.util.List;

/**
 * Incremental stop-string matching for streaming: holds back text that could still become the start
 * of a stop string, so a client never sees text that is then cut.
 *
 * <p>One instance per request. The detokenizer feeds it each step's newly decoded text through
 * {@link #append}; what comes back is safe to stream. Generation stops at the first point where any
 * stop string has appeared in the text: the occurrence that ends earliest wins, and of those ending
 * at the same place the one starting earliest (the longest). The output is cut just before it and the
 * stop string itself is never emitted (OpenAI behaviour). Because only that rule decides, the emitted
 * text does not depend on how the text was split into appends.
 *
 * <p>The cut between emitted and held-back text never falls inside a surrogate pair, so a client
 * never receives half a character. Not thread-safe; the engine loop owns it.
 */
public final class StopMatcher {

    private final List<String> stops;
    private final StringBuilder pending = new StringBuilder();
    private String matched;

    /** @param stops the stop strings, each non-empty; empty or {@code null} means none */
    public StopMatcher(List<String> stops) {
        List<String> copy = stops == null ? List.of() : List.copyOf(stops);
        for (String s : copy) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must be non-empty");
            }
        }
        this.stops = copy;
    }

    /**
     * Appends newly decoded text and returns the part that is now safe to emit, possibly empty. Once a
     * stop string is found, {@link #stopped()} turns true, the returned text ends just before it, and
     * every later call returns the empty string.
     */
    public String append(String text) {
        if (matched != null) {
            return "";
        }
        pending.append(text);
        int cut = earliestStop();
        if (cut >= 0) {
            String out = pending.substring(0, cut);
            pending.setLength(0);
            return out;
        }
        int safe = pending.length() - heldBackLength();
        if (safe > 0 && Character.isHighSurrogate(pending.charAt(safe - 1))) {
            safe--; // keep the pair together
        }
        String out = pending.substring(0, safe);
        pending.delete(0, safe);
        return out;
    }

    /** Whether a stop string has been found; generation should end. */
    public boolean stopped() {
        return matched != null;
    }

    /** The stop string that ended generation ({@code stop_reason} in vLLM's terms), or {@code null}. */
    public String matchedStop() {
        return matched;
    }

    /**
     * At the end of generation by length or EOS, returns the held-back text, which can no longer become
     * a stop string. Returns the empty string after a stop.
     */
    public String flush() {
        String out = pending.toString();
        pending.setLength(0);
        return out;
    }

    /**
     * Finds the stop occurrence that ends earliest in the pending text, records it and returns its
     * start, or -1 when none occurs. Pending text never contains an earlier, unreported occurrence.
     */
    private int earliestStop() {
        int bestEnd = Integer.MAX_VALUE;
        int bestStart = -1;
        String best = null;
        for (String stop : stops) {
            int start = pending.indexOf(stop);
            if (start < 0) {
                continue;
            }
            int end = start + stop.length();
            if (end < bestEnd || (end == bestEnd && start < bestStart)) {
                bestEnd = end;
                bestStart = start;
                best = stop;
            }
        }
        if (best != null) {
            matched = best;
        }
        return bestStart;
    }

    /** Length of the longest suffix of the pending text that is a proper prefix of some stop string. */
    private int heldBackLength() {
        int held = 0;
        int length = pending.length();
        for (String stop : stops) {
            for (int n = Math.min(stop.length() - 1, length); n > held; n--) {
                if (suffixEqualsPrefix(stop, n, length)) {
                    held = n;
                    break;
                }
            }
        }
        return held;
    }

    private boolean suffixEqualsPrefix(String stop, int n, int length) {
        int from = length - n;
        for (int i = 0; i < n; i++) {
            if (pending.charAt(from + i) != stop.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
