package dev.quiver.gpu.scheduler;

import dev.quiver.gpu.kv.BlockTable;
import dev.quiver.gpu.sampling.SamplingParams;
import java.util.Arrays;

/**
 * One request's generation state, owned by the engine thread: its tokens (prompt then output), how many of
 * them have their K/V in the cache, its block table and the adapter it uses. After preemption {@code computed}
 * drops to zero and the whole sequence is recomputed (prompt and output so far), which gives the same K/V.
 */
public final class Sequence {
    public enum Status { WAITING, RUNNING, FINISHED }

    public final String id;
    public final String adapter;          // adapter key, null for the base model
    public final SamplingParams params;
    public final long seed;
    public final long arrival;
    private final int promptLength;
    private int[] tokens;                 // prompt followed by output
    private int length;
    private int computed;                 // tokens whose K/V is in the cache
    private final BlockTable blocks;
    private Status status = Status.WAITING;
    private int slot = -1;                // adapter slot while it holds one
    private int preemptions;
    private int stepsSinceAdmission;      // steps run since the scheduler last admitted it
    private int outputAtAdmission;        // output length when the scheduler last admitted it

    public Sequence(String id, String adapter, int[] prompt, SamplingParams params, long seed, long arrival, int blockSize) {
        this.id = id;
        this.adapter = adapter;
        this.params = params;
        this.seed = seed;
        this.arrival = arrival;
        this.promptLength = prompt.length;
        this.tokens = Arrays.copyOf(prompt, prompt.length + Math.min(params.maxTokens(), 256));
        this.length = prompt.length;
        this.blocks = new BlockTable(blockSize);
    }

    public int promptLength() {
        return promptLength;
    }

    public int length() {
        return length;
    }

    public int outputLength() {
        return length - promptLength;
    }

    public int token(int i) {
        return tokens[i];
    }

    public int[] promptTokens() {
        return Arrays.copyOf(tokens, promptLength);
    }

    public int[] outputTokens() {
        return Arrays.copyOfRange(tokens, promptLength, length);
    }

    public void append(int token) {
        if (length == tokens.length) {
            tokens = Arrays.copyOf(tokens, tokens.length * 2);
        }
        tokens[length++] = token;
    }

    /** Tokens still to run through the model before the next one can be sampled. */
    public int uncomputed() {
        return length - computed;
    }

    public int computed() {
        return computed;
    }

    public void advance(int n) {
        computed += n;
    }

    /** Forgets the cached K/V (preemption by recompute). */
    void resetComputed() {
        computed = 0;
        preemptions++;
    }

    public int preemptions() {
        return preemptions;
    }

    /** Steps this sequence has been part of since it was last admitted (0 while it waits). */
    public int stepsSinceAdmission() {
        return stepsSinceAdmission;
    }

    /** Whether a token was sampled for it since it was last admitted. */
    public boolean sampledSinceAdmission() {
        return length - promptLength > outputAtAdmission;
    }

    void admitted() {
        stepsSinceAdmission = 0;
        outputAtAdmission = length - promptLength;
    }

    void scheduledOnce() {
        stepsSinceAdmission++;
    }

    /** Forgets the cached K/V of a sequence that is not running (a paused one, to give its blocks to others). */
    void dropComputed() {
        resetComputed();
    }

    public BlockTable blocks() {
        return blocks;
    }

    public Status status() {
        return status;
    }

    void status(Status s) {
        status = s;
    }

    public int slot() {
        return slot;
    }

    void slot(int s) {
        slot = s;
    }
}
