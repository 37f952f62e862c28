package dev.quiver.gpu.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@code "model": {"type": "BPE"}} part of a tokenizer.json: turns one pre-tokenized word
 * (already in the vocabulary's alphabet, e.g. {@code "Ġworld"} or {@code "▁hello"}) into ids by
 * starting from single characters and applying merges, lowest rank first and leftmost first among
 * equal ranks, until no adjacent pair has a merge.
 *
 * <p>Characters missing from the vocabulary become {@code <0xAB>} byte tokens when
 * {@code byte_fallback} is set (SentencePiece-converted models), else the unknown token
 * (consecutive ones fused into one when {@code fuse_unk}), else they are dropped, as the Hugging
 * Face implementation does. Thread-safe; results are cached per word.
 */
final class BpeModel {

    // NOTE: the cache is cleared wholesale when full rather than kept LRU; words repeat so much
    // in natural text that it refills with the hot ones within a few prompts.
    private static final int CACHE_CAPACITY = 65_536;
    private static final int MAX_CACHED_WORD_LENGTH = 128;

    private final Map<String, Integer> vocab;
    // Key: (leftId << 32) | rightId. Value: (rank << 32) | mergedId.
    private final Map<Long, Long> merges;
    private final int unkId;
    private final boolean fuseUnk;
    private final boolean ignoreMerges;
    // [256] id of "<0xAB>" for each byte, -1 where the vocabulary lacks it; null without byte_fallback.
    private final int[] byteTokenIds;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param merges pairs of vocabulary strings in rank order (rank = index)
     * @param unkToken the unknown token's string, or null
     * @throws IllegalArgumentException when a merge or the unknown token is not in the vocabulary
     */
    BpeModel(Map<String, Integer> vocab, String[][] merges, String unkToken, boolean fuseUnk,
             boolean byteFallback, boolean ignoreMerges) {
        this.vocab = Map.copyOf(vocab);
        this.fuseUnk = fuseUnk;
        this.ignoreMerges = ignoreMerges;
        if (unkToken == null) {
            this.unkId = -1;
        } else {
            Integer id = vocab.get(unkToken);
            if (id == null) {
                throw new IllegalArgumentException("unk_token " + quote(unkToken) + " is not in the vocabulary");
            }
            this.unkId = id;
        }
        this.merges = new HashMap<>(merges.length * 2);
        for (int rank = 0; rank < merges.length; rank++) {
            String left = merges[rank][0];
            String right = merges[rank][1];
            Integer leftId = vocab.get(left);
            Integer rightId = vocab.get(right);
            Integer mergedId = vocab.get(left + right);
            if (leftId == null || rightId == null || mergedId == null) {
                String missing = leftId == null ? left : rightId == null ? right : left + right;
                throw new IllegalArgumentException("merge #" + rank + " (" + quote(left) + ", " + quote(right)
                        + ") uses " + quote(missing) + " which is not in the vocabulary");
            }
            // A pair listed twice keeps its last rank, as in the Hugging Face library.
            this.merges.put(pairKey(leftId, rightId), ((long) rank << 32) | mergedId);
        }
        if (byteFallback) {
            byteTokenIds = new int[256];
            for (int b = 0; b < 256; b++) {
                byteTokenIds[b] = vocab.getOrDefault(byteTokenString(b), -1);
            }
        } else {
            byteTokenIds = null;
        }
    }

    /** The vocabulary string of a byte-fallback token, e.g. {@code "<0x0A>"}. */
    static String byteTokenString(int b) {
        return String.format("<0x%02X>", b);
    }

    /** Appends the ids of one pre-tokenized word to {@code out}. */
    void encodeWord(String word, IntList out) {
        if (word.isEmpty()) {
            return;
        }
        if (ignoreMerges) {
            Integer whole = vocab.get(word);
            if (whole != null) {
                out.add(whole);
                return;
            }
        }
        if (word.length() > MAX_CACHED_WORD_LENGTH) {
            out.addAll(merge(word));
            return;
        }
        int[] ids = cache.get(word);
        if (ids == null) {
            ids = merge(word);
            if (cache.size() >= CACHE_CAPACITY) {
                cache.clear();
            }
            cache.put(word, ids);
        }
        out.addAll(ids);
    }

    private int[] merge(String word) {
        IntList symbols = initialSymbols(word);
        int n = symbols.size();
        if (n < 2) {
            return symbols.toArray();
        }
        // Doubly linked list over the symbols; a merge keeps the left symbol and unlinks the right.
        int[] ids = symbols.toArray();
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        // Entries are (rank << 32) | position, so the natural order is lowest rank, then leftmost.
        PriorityQueue<Long> queue = new PriorityQueue<>();
        for (int i = 0; i + 1 < n; i++) {
            offer(queue, ids, i, i + 1);
        }
        while (!queue.isEmpty()) {
            long entry = queue.poll();
            int rank = (int) (entry >>> 32);
            int left = (int) entry;
            int right = next[left];
            // Entries go stale when a neighbour was merged away since they were queued.
            if (ids[left] < 0 || right < 0) {
                continue;
            }
            Long merge = merges.get(pairKey(ids[left], ids[right]));
            if (merge == null || (int) (merge >>> 32) != rank) {
                continue;
            }
            ids[left] = (int) (long) merge;
            ids[right] = -1;
            next[left] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = left;
            }
            if (prev[left] >= 0) {
                offer(queue, ids, prev[left], left);
            }
            if (next[left] >= 0) {
                offer(queue, ids, left, next[left]);
            }
        }
        IntList out = new IntList(n);
        for (int i = 0; i >= 0; i = next[i]) {
            out.add(ids[i]);
        }
        return out.toArray();
    }

    private void offer(PriorityQueue<Long> queue, int[] ids, int left, int right) {
        Long merge = merges.get(pairKey(ids[left], ids[right]));
        if (merge != null) {
            queue.add((merge >>> 32) << 32 | left);
        }
    }

    private IntList initialSymbols(String word) {
        IntList out = new IntList(word.length());
        boolean lastWasUnk = false;
        for (int i = 0; i < word.length(); ) {
            int cp = word.codePointAt(i);
            int end = i + Character.charCount(cp);
            String ch = word.substring(i, end);
            i = end;
            Integer id = vocab.get(ch);
            if (id != null) {
                out.add(id);
                lastWasUnk = false;
                continue;
            }
            if (byteTokenIds != null && appendByteTokens(ch, out)) {
                lastWasUnk = false;
                continue;
            }
            if (unkId >= 0) {
                if (!(fuseUnk && lastWasUnk)) {
                    out.add(unkId);
                }
                lastWasUnk = true;
            }
        }
        return out;
    }

    private boolean appendByteTokens(String ch, IntList out) {
        byte[] utf8 = ch.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[utf8.length];
        for (int k = 0; k < utf8.length; k++) {
            ids[k] = byteTokenIds[utf8[k] & 0xFF];
            if (ids[k] < 0) {
                return false;
            }
        }
        out.addAll(ids);
        return true;
    }

    private static long pairKey(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFF_FFFFL);
    }

    private static String quote(String s) {
        return '"' + s + '"';
    }

    @Override
    public String toString() {
        return "BpeModel[vocab=" + vocab.size() + ", merges=" + merges.size()
                + ", byteFallback=" + (byteTokenIds != null) + ", ignoreMerges=" + ignoreMerges + "]";
    }
}
