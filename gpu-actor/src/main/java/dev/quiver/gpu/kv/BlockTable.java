package dev.quiver.gpu.kv;

import java.util.Arrays;
import java.util.Objects;

/**
 * The block table of one sequence: which physical block holds token positions
 * {@code [i * blockSize, (i + 1) * blockSize)}.
 *
 * <p>Grown and emptied only by {@link KvBlockManager}; read by the worker to build the slot mapping
 * and block tables handed to the attention kernel. Not thread-safe.
 */
public final class BlockTable {

    private final int blockSize;
    private int[] blocks = new int[4]; // logical block index -> physical block id, first numBlocks used
    private int numBlocks;

    public BlockTable(int blockSize) {
        if (blockSize < 1) {
            throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        }
        this.blockSize = blockSize;
    }

    public int blockSize() {
        return blockSize;
    }

    public int numBlocks() {
        return numBlocks;
    }

    /** The physical block holding logical block {@code i}. */
    public int block(int i) {
        Objects.checkIndex(i, numBlocks);
        return blocks[i];
    }

    /** A copy of the physical block ids, in logical order. */
    public int[] blocks() {
        return Arrays.copyOf(blocks, numBlocks);
    }

    /** Token positions the table can hold: {@code numBlocks * blockSize}. */
    public int capacity() {
        return numBlocks * blockSize;
    }

    /**
     * Slot index ({@code block * blockSize + offset}) where the KV of absolute position {@code position}
     * lives; throws {@link IndexOutOfBoundsException} outside {@code [0, capacity())}.
     */
    public int slotOf(int position) {
        Objects.checkIndex(position, capacity());
        return blocks[position / blockSize] * blockSize + position % blockSize;
    }

    /** Appends physical blocks after the current last one. */
    void append(int[] newBlocks) {
        if (numBlocks + newBlocks.length > blocks.length) {
            blocks = Arrays.copyOf(blocks, Math.max(blocks.length * 2, numBlocks + newBlocks.length));
        }
        System.arraycopy(newBlocks, 0, blocks, numBlocks, newBlocks.length);
        numBlocks += newBlocks.length;
    }

    /** Empties the table and returns the blocks it held. */
    int[] clear() {
        int[] held = blocks();
        numBlocks = 0;
        return held;
    }
}
