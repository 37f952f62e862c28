package dev.quiver.node.rollout;

import dev.quiver.persistence.state.AdapterState;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which version of an adapter one request gets while its traffic is split: pure and stateless, the same answer on
 * every node for the same adapter, weights and key. The key (the OpenAI {@code user}, else the request id) and the
 * adapter's name are hashed (SHA-256) into one of {@value #BUCKETS} buckets; the versions own consecutive ranges of
 * buckets in version order, each as wide as its percentage. So one user always sees the same version while the
 * weights stay, a canary that grows keeps the users it had (a larger weight extends its range toward lower
 * buckets only when the versions before it shrink), and different adapters split the same users independently.
 */
public final class SplitChooser {
    /** Buckets per split: percentages map to whole ranges of 100 buckets each. */
    public static final int BUCKETS = 10_000;

    private SplitChooser() {
    }

    /** The version {@code state} serves to {@code key}: its split's choice, else its current version. */
    public static int choose(AdapterState state, String key) {
        return state.split().isPresent() ? choose(state.name(), state.split().get().weights(), key)
                : state.currentVersion();
    }

    /**
     * The version for {@code key} under {@code weights} (version → percent, summing to 100).
     *
     * @throws IllegalArgumentException when the weights are empty or do not sum to 100
     */
    public static int choose(String adapter, Map<Integer, Integer> weights, String key) {
        int total = weights.values().stream().mapToInt(Integer::intValue).sum();
        if (weights.isEmpty() || total != 100) {
            throw new IllegalArgumentException("split weights must be non-empty and sum to 100, got " + weights);
        }
        int bucket = bucket(adapter, key);
        int end = 0;
        int last = 0;
        for (Map.Entry<Integer, Integer> e : new TreeMap<>(weights).entrySet()) {
            end += e.getValue() * (BUCKETS / 100);
            last = e.getKey();
            if (bucket < end) {
                return last;
            }
        }
        return last;
    }

    /** The bucket in [0, {@value #BUCKETS}) of {@code key} for {@code adapter}. */
    public static int bucket(String adapter, String key) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        sha.update(adapter.getBytes(StandardCharsets.UTF_8));
        sha.update((byte) 0);
        byte[] h = sha.digest((key == null ? "" : key).getBytes(StandardCharsets.UTF_8));
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (h[i] & 0xff);
        }
        return (int) Long.remainderUnsigned(v, BUCKETS);
    }
}
