package dev.quiver.gpu.backend.cuda;

import dev.quiver.gpu.backend.ForwardBatch;

/**
 * A batch's block tables flattened for the device: every sequence's table concatenated ({@code flat}), where
 * each begins ({@code start[seq]}), and each row's KV cache slot ({@code slotMapping[row] = block · blockSize +
 * position % blockSize}, the row the kernels write its K and V to). The same arithmetic as the CPU backend's
 * {@code cacheSlots} and attention loop; {@code paged_attention} reads key j of a row's sequence at
 * {@code flat[start[seq] + j / blockSize] * blockSize + j % blockSize}.
 */
public record BlockTables(int[] flat, int[] start, int[] slotMapping) {

    public static BlockTables flatten(ForwardBatch b, int blockSize) {
        int[][] tables = b.blockTables();
        int[] start = new int[tables.length];
        int total = 0;
        for (int s = 0; s < tables.length; s++) {
            start[s] = total;
            total += tables[s].length;
        }
        int[] flat = new int[total];
        for (int s = 0; s < tables.length; s++) {
            System.arraycopy(tables[s], 0, flat, start[s], tables[s].length);
        }
        int[] slots = new int[b.rows()];
        for (int t = 0; t < b.rows(); t++) {
            int seq = b.rowSeq()[t];
            if (seq < 0 || seq >= tables.length) {
                throw new IllegalArgumentException("row " + t + " belongs to sequence " + seq + " of " + tables.length);
            }
            int[] table = tables[seq];
            int p = b.positions()[t];
            if (p < 0 || p / blockSize >= table.length) {
                throw new IllegalStateException("position " + p + " has no KV block (table of " + table.length + ")");
            }
            slots[t] = table[p / blockSize] * blockSize + p % blockSize;
        }
        return new BlockTables(flat, start, slots);
    }
}
