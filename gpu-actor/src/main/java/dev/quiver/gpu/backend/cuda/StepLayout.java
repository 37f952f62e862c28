package dev.quiver.gpu.backend.cuda;

import dev.quiver.gpu.backend.ForwardBatch;

/**
 * Every int32 input of one step packed into one array, copied to the device's {@link Buffers#STEP} buffer in
 * one transfer. The fields give where each part begins, in ints:
 * <pre>
 *   tokens[rows] positions[rows] slotMapping[rows] rowSeq[rows] tableStart[seqs] blockTables[Σ tables]
 *   logitRows[n] sortedRows[lora rows] segStart[segments + 1] segSlot[segments]
 * </pre>
 */
public record StepLayout(int[] data, int rows, int logitRows, int tokens, int positions, int slotMapping, int rowSeq,
                         int tableStart, int blockTables, int logitRowsAt, int sortedRows, int segStart, int segSlot,
                         LoraSegments segments) {

    public static StepLayout of(ForwardBatch b, int blockSize) {
        BlockTables t = BlockTables.flatten(b, blockSize);
        LoraSegments g = LoraSegments.group(b.rowSlot());
        int rows = b.rows();
        int[][] parts = {b.tokens(), b.positions(), t.slotMapping(), b.rowSeq(), t.start(), t.flat(), b.logitRows(),
                g.sortedRows(), g.segStart(), g.segSlot()};
        int[] at = new int[parts.length];
        int n = 0;
        for (int i = 0; i < parts.length; i++) {
            at[i] = n;
            n += parts[i].length;
        }
        int[] data = new int[n];
        for (int i = 0; i < parts.length; i++) {
            System.arraycopy(parts[i], 0, data, at[i], parts[i].length);
        }
        return new StepLayout(data, rows, b.logitRows().length, at[0], at[1], at[2], at[3], at[4], at[5], at[6],
                at[7], at[8], at[9], g);
    }

    /** A pointer to the part that begins at int {@code at}. */
    public static DeviceArg.Ptr at(int at) {
        return new DeviceArg.Ptr(Buffers.STEP, 4L * at);
    }
}
