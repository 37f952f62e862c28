package dev.quiver.gpu.backend;

/**
 * One engine step's work for the backend: a flat list of token rows from many sequences (prefill chunks and
 * decode tokens mixed), each with its absolute position, the adapter slot it uses (-1 for the base model) and
 * the sequence it belongs to, whose block table says where its KV lives. Rows of one sequence are contiguous
 * and in position order. {@code logitRows} lists the rows whose next-token logits are wanted, in output order.
 *
 * @param tokens      [rows] token ids
 * @param positions   [rows] absolute positions
 * @param rowSlot     [rows] adapter slot, -1 = base
 * @param rowSeq      [rows] index into blockTables
 * @param blockTables [seqs][blocks] physical KV blocks of each sequence
 * @param logitRows   rows to produce logits for
 */
public record ForwardBatch(int[] tokens, int[] positions, int[] rowSlot, int[] rowSeq, int[][] blockTables,
                           int[] logitRows) {
    public ForwardBatch {
        int n = tokens.length;
        if (positions.length != n || rowSlot.length != n || rowSeq.length != n) {
            throw new IllegalArgumentException("row arrays differ in length");
        }
    }

    public int rows() {
        return tokens.length;
    }
}
