package dev.quiver.gpu.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Learns byte-level BPE merges from a corpus, the procedure behind GPT-2's and Llama 3's
 * vocabularies at toy scale: split the text into words with the pre-tokenizer regex, spell every
 * word in the byte alphabet, then repeatedly merge the adjacent pair of tokens that occurs most
 * often across all words (weighted by word frequency) into a new token. Used by
 * {@link TokenizerMaker} for the demo model; the result is fully deterministic.
 */
final class BpeTrainer {

    /** Learned tokens in id order (the 256 byte characters first) and merges in rank order. */
    record Result(List<String> tokens, List<String[]> merges) {
    }

    private BpeTrainer() {
    }

    /**
     * @param maxTokens the vocabulary size to stop at, byte alphabet included
     * @return fewer tokens than asked when no pair occurs twice any more
     */
    static Result train(String corpus, Pattern split, int maxTokens) {
        // Sorted so that the order words are visited in never depends on hashing.
        Map<String, Integer> wordCounts = new TreeMap<>();
        Matcher m = split.matcher(corpus);
        while (m.find()) {
            wordCounts.merge(ByteLevelAlphabet.encode(m.group()), 1, Integer::sum);
        }

        List<String> tokens = new ArrayList<>();
        Map<String, Integer> ids = new HashMap<>();
        for (int b = 0; b < 256; b++) {
            String ch = String.valueOf(ByteLevelAlphabet.charOf(b));
            ids.put(ch, tokens.size());
            tokens.add(ch);
        }
        List<int[]> words = new ArrayList<>(wordCounts.size());
        int[] counts = new int[wordCounts.size()];
        for (Map.Entry<String, Integer> entry : wordCounts.entrySet()) {
            String word = entry.getKey();
            int[] symbols = new int[word.length()];
            for (int i = 0; i < symbols.length; i++) {
                symbols[i] = ids.get(word.substring(i, i + 1));
            }
            counts[words.size()] = entry.getValue();
            words.add(symbols);
        }

        List<String[]> merges = new ArrayList<>();
        while (tokens.size() < maxTokens) {
            Map<Long, Integer> pairCounts = new HashMap<>();
            for (int w = 0; w < words.size(); w++) {
                int[] symbols = words.get(w);
                for (int i = 0; i + 1 < symbols.length; i++) {
                    pairCounts.merge(pair(symbols[i], symbols[i + 1]), counts[w], Integer::sum);
                }
            }
            long best = -1;
            int bestCount = 1;
            for (Map.Entry<Long, Integer> entry : pairCounts.entrySet()) {
                int count = entry.getValue();
                long key = entry.getKey();
                // Ties go to the pair of older (lower) ids, which keeps the run reproducible.
                if (count > bestCount || (count == bestCount && best >= 0 && key < best)) {
                    best = key;
                    bestCount = count;
                }
            }
            if (best < 0) {
                break;
            }
            int left = (int) (best >>> 32);
            int right = (int) best;
            String merged = tokens.get(left) + tokens.get(right);
            // A merge can rebuild a string an earlier merge made along another path; reuse its id.
            Integer mergedId = ids.get(merged);
            if (mergedId == null) {
                mergedId = tokens.size();
                ids.put(merged, mergedId);
                tokens.add(merged);
            }
            merges.add(new String[] {tokens.get(left), tokens.get(right)});
            for (int w = 0; w < words.size(); w++) {
                words.set(w, applyMerge(words.get(w), left, right, mergedId));
            }
        }
        return new Result(List.copyOf(tokens), List.copyOf(merges));
    }

    private static int[] applyMerge(int[] symbols, int left, int right, int merged) {
        int[] out = null;
        int n = 0;
        for (int i = 0; i < symbols.length; i++) {
            if (i + 1 < symbols.length && symbols[i] == left && symbols[i + 1] == right) {
                if (out == null) {
                    out = new int[symbols.length - 1];
                    System.arraycopy(symbols, 0, out, 0, i);
                    n = i;
                }
                out[n++] = merged;
                i++;
            } else if (out != null) {
                out[n++] = symbols[i];
            }
        }
        return out == null ? symbols : Arrays.copyOf(out, n);
    }

    private static long pair(int left, int right) {
        return ((long) left << 32) | right;
    }
}
