package dev.quiver.gpu.kv;

/**
 * Fixed-size block allocator with a free list. Blocks are ints {@code 0..numBlocks-1}.
 *
 * <p>Hands out the block ids of the paged KV cache; the compute backend owns the memory behind them
 * (block {@code b} covers slots {@code [b * blockSize, (b + 1) * blockSize)}). {@link KvBlockManager}
 * is its only client. The free list is a stack, so recently freed blocks are reused first; a fresh
 * allocator hands out {@code 0, 1, 2, ...}. Every block is either on the free list or handed out,
 * and {@link #free} refuses blocks that are not handed out. Not thread-safe; the engine loop owns it.
 */
public final class BlockAllocator {

    private final int blockSize;
    private final int[] freeStack; // [numBlocks] free ids in freeStack[0, freeCount), top at the end
    private final boolean[] inUse; // [numBlocks]
    private int freeCount;

    public BlockAllocator(int numBlocks, int blockSize) {
        if (numBlocks < 1) {
            throw new IllegalArgumentException("numBlocks must be >= 1, got " + numBlocks);
        }
        if (blockSize < 1) {
            throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        }
        this.blockSize = blockSize;
        this.freeStack = new int[numBlocks];
        this.inUse = new boolean[numBlocks];
        for (int i = 0; i < numBlocks; i++) {
            freeStack[i] = numBlocks - 1 - i;
        }
        this.freeCount = numBlocks;
    }

    public int numBlocks() {
        return freeStack.length;
    }

    /** Token positions per block. */
    public int blockSize() {
        return blockSize;
    }

    public int freeBlocks() {
        return freeCount;
    }

    public int usedBlocks() {
        return freeStack.length - freeCount;
    }

    /** Allocates {@code n} blocks, or none and returns {@code null} when fewer than n are free; O(n). */
    public int[] allocate(int n) {
        if (n < 0) {
            throw new IllegalArgumentException("cannot allocate a negative number of blocks: " + n);
        }
        if (n > freeCount) {
            return null;
        }
        int[] blocks = new int[n];
        for (int i = 0; i < n; i++) {
            int block = freeStack[--freeCount];
            inUse[block] = true;
            blocks[i] = block;
        }
        return blocks;
    }

    /**
     * Returns blocks to the free list. All or nothing: if any block is out of range, already free, or
     * listed twice, nothing is freed and an {@link IllegalStateException} names the block.
     */
    public void free(int[] blocks) {
        for (int i = 0; i < blocks.length; i++) {
            int block = blocks[i];
            String problem = null;
            if (block < 0 || block >= inUse.length) {
                problem = "block " + block + " is out of range [0, " + inUse.length + ")";
            } else if (!inUse[block]) {
                problem = "block " + block + " is already free";
            }
            if (problem != null) {
                for (int j = 0; j < i; j++) {
                    inUse[blocks[j]] = true; // undo the marks of this call
                }
                throw new IllegalStateException(problem);
            }
            inUse[block] = false;
        }
        for (int block : blocks) {
            freeStack[freeCount++] = block;
        }
    }
}
