package dev.quiver.gpu.bench.peer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * The tokens both engines are given in one measurement: {@code seqs} prompts of {@code promptTokens} ids, and for
 * each of {@code steps} decode steps the id fed to every sequence. Written to a text file for the llama.cpp
 * driver (first line "S N D", then the prompts one per line, then the steps one per line).
 *
 * @param prompts [seqs][promptTokens]
 * @param feed    [steps][seqs]
 */
record PeerWork(int seqs, int promptTokens, int steps, int[][] prompts, int[][] feed) {

    /** Ids drawn uniformly from {@code [0, vocab)} by a seeded generator: the same seed gives the same work. */
    static PeerWork random(int vocab, int seqs, int promptTokens, int steps, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[][] prompts = new int[seqs][promptTokens];
        int[][] feed = new int[steps][seqs];
        for (int[] p : prompts) {
            for (int i = 0; i < p.length; i++) {
                p[i] = r.nextInt(vocab);
            }
        }
        for (int[] f : feed) {
            for (int i = 0; i < f.length; i++) {
                f[i] = r.nextInt(vocab);
            }
        }
        return new PeerWork(seqs, promptTokens, steps, prompts, feed);
    }

    void write(Path file) {
        StringBuilder s = new StringBuilder();
        s.append(seqs).append(' ').append(promptTokens).append(' ').append(steps).append('\n');
        for (int[] p : prompts) {
            line(s, p);
        }
        for (int[] f : feed) {
            line(s, f);
        }
        try {
            Files.writeString(file, s);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static void line(StringBuilder s, int[] ids) {
        for (int i = 0; i < ids.length; i++) {
            s.append(i == 0 ? "" : " ").append(ids[i]);
        }
        s.append('\n');
    }
}
