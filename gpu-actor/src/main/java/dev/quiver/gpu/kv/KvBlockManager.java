package dev.quiver.gpu.kv;

/**
 * Grows and frees sequences' block tables against one allocator; the scheduler asks it whether a
 * sequence can grow.
 *
 * <p>The decision half of the paged KV cache (vLLM's {@code kv_cache_manager.py}): before each step
 * the scheduler calls {@link #ensureCapacity} for every sequence it wants to run and preempts or
 * defers the ones that get {@code false}; finished or preempted sequences are {@link #release}d. No
 * tensors live here. {@link #blocksForBudget} sizes the allocator from the memory the backend sets
 * aside for KV. Not thread-safe; the engine loop owns it.
 */
public final class KvBlockManager {

    private final BlockAllocator allocator;

    public KvBlockManager(BlockAllocator allocator) {
        if (allocator == null) {
            throw new IllegalArgumentException("allocator must not be null");
        }
        this.allocator = allocator;
    }

    /** Blocks to add so that the table can hold {@code tokens} positions in total; 0 if it already can. */
    public int blocksNeeded(BlockTable table, int tokens) {
        checkTable(table);
        if (tokens < 0) {
            throw new IllegalArgumentException("tokens must be >= 0, got " + tokens);
        }
        int required = (int) (((long) tokens + allocator.blockSize() - 1) / allocator.blockSize());
        return Math.max(0, required - table.numBlocks());
    }

    /**
     * Ensures capacity for {@code tokens} positions; returns {@code false}, allocating nothing, if not
     * enough blocks are free.
     */
    public boolean ensureCapacity(BlockTable table, int tokens) {
        int needed = blocksNeeded(table, tokens);
        if (needed == 0) {
            return true;
        }
        int[] blocks = allocator.allocate(needed);
        if (blocks == null) {
            return false;
        }
        table.append(blocks);
        return true;
    }

    /** Returns all the table's blocks to the free list and leaves the table empty. */
    public void release(BlockTable table) {
        checkTable(table);
        allocator.free(table.clear());
    }

    public int freeBlocks() {
        return allocator.freeBlocks();
    }

    /** Fraction of blocks in use, in [0, 1]. */
    public double usage() {
        return (double) allocator.usedBlocks() / allocator.numBlocks();
    }

    /**
     * Number of blocks a KV memory budget holds: {@code floor(budgetBytes / (2 * layers * blockSize *
     * kvDim * bytesPerElement))}, the 2 counting K and V. Throws {@link IllegalArgumentException} naming
     * the budget when it cannot hold one block.
     *
     * @param kvDim per-layer width of K (and of V): {@code n_kv_heads * head_dim}
     */
    public static int blocksForBudget(
            long budgetBytes, int layers, int blockSize, int kvDim, int bytesPerElement) {
        requirePositive("layers", layers);
        requirePositive("blockSize", blockSize);
        requirePositive("kvDim", kvDim);
        requirePositive("bytesPerElement", bytesPerElement);
        long bytesPerBlock;
        try {
            bytesPerBlock =
                    Math.multiplyExact(
                            Math.multiplyExact(2L * layers, (long) blockSize),
                            Math.multiplyExact((long) kvDim, (long) bytesPerElement));
        } catch (ArithmeticException overflow) {
            throw new IllegalArgumentException(
                    "KV budget of " + budgetBytes + " bytes cannot hold one block: a block exceeds 2^63 bytes");
        }
        long blocks = budgetBytes / bytesPerBlock;
        if (blocks < 1) {
            throw new IllegalArgumentException(
                    "KV budget of " + budgetBytes + " bytes cannot hold one block of " + bytesPerBlock + " bytes");
        }
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(
                    "KV budget of " + budgetBytes + " bytes gives " + blocks + " blocks, more than an int holds");
        }
        return (int) blocks;
    }

    private void checkTable(BlockTable table) {
        if (table.blockSize() != allocator.blockSize()) {
            throw new IllegalArgumentException(
                    "block table has blockSize " + table.blockSize()
                            + " but the allocator's is " + allocator.blockSize());
        }
    }

    private static void requirePositive(String name, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be >= 1, got " + value);
        }
    }
}
