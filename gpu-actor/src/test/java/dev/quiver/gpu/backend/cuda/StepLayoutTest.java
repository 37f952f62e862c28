package dev.quiver.gpu.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.backend.ForwardBatch;
import org.junit.jupiter.api.Test;

/** Block-table flattening, per-slot LoRA segments and the packed step ints, against hand-computed values. */
class StepLayoutTest {
    // three sequences: blocks {7, 3}, {5}, {9, 2, 4}; block size 4
    static final int[][] TABLES = {{7, 3}, {5}, {9, 2, 4}};

    static ForwardBatch batch() {
        // seq 0 prefills positions 3..5 (crossing from block 7 into block 3), seq 1 decodes position 2,
        // seq 2 decodes position 9 (its third block, 4)
        return new ForwardBatch(new int[] {11, 12, 13, 21, 31}, new int[] {3, 4, 5, 2, 9}, new int[] {1, 1, 1, -1, 0},
                new int[] {0, 0, 0, 1, 2}, TABLES, new int[] {2, 3, 4});
    }

    @Test
    void block_tables_are_concatenated_with_each_sequences_start() {
        BlockTables t = BlockTables.flatten(batch(), 4);
        assertArrayEquals(new int[] {7, 3, 5, 9, 2, 4}, t.flat());
        assertArrayEquals(new int[] {0, 2, 3}, t.start());
    }

    @Test
    void each_row_gets_the_cache_slot_of_its_position_in_its_own_sequences_blocks() {
        BlockTables t = BlockTables.flatten(batch(), 4);
        // table[p / 4] * 4 + p % 4: 7·4+3, 3·4+0, 3·4+1, 5·4+2, 4·4+1
        assertArrayEquals(new int[] {31, 12, 13, 22, 17}, t.slotMapping());
    }

    @Test
    void a_position_past_its_sequences_blocks_is_refused() {
        ForwardBatch b = new ForwardBatch(new int[] {1}, new int[] {8}, new int[] {-1}, new int[] {1}, TABLES,
                new int[] {0});
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> BlockTables.flatten(b, 4));
        assertEquals("position 8 has no KV block (table of 1)", e.getMessage());
    }

    @Test
    void adapter_rows_are_grouped_by_slot_in_first_appearance_order_and_base_rows_left_out() {
        LoraSegments g = LoraSegments.group(new int[] {2, -1, 0, 2, 0, -1, 3});
        assertArrayEquals(new int[] {0, 3, 2, 4, 6}, g.sortedRows());
        assertArrayEquals(new int[] {0, 2, 4, 5}, g.segStart());
        assertArrayEquals(new int[] {2, 0, 3}, g.segSlot());
        assertEquals(3, g.count());
    }

    @Test
    void a_base_only_batch_has_no_segments() {
        LoraSegments g = LoraSegments.group(new int[] {-1, -1});
        assertTrue(g.isEmpty());
        assertArrayEquals(new int[] {0}, g.segStart());
        assertArrayEquals(new int[0], g.sortedRows());
    }

    @Test
    void the_step_ints_are_packed_part_after_part_at_the_recorded_offsets() {
        StepLayout s = StepLayout.of(batch(), 4);
        assertEquals(5, s.rows());
        assertEquals(3, s.logitRows());
        assertEquals(java.util.List.of(0, 5, 10, 15, 20, 23, 29, 32, 36, 39),
                java.util.List.of(s.tokens(), s.positions(), s.slotMapping(), s.rowSeq(), s.tableStart(),
                        s.blockTables(), s.logitRowsAt(), s.sortedRows(), s.segStart(), s.segSlot()));
        assertArrayEquals(new int[] {
                11, 12, 13, 21, 31,      // tokens
                3, 4, 5, 2, 9,           // positions
                31, 12, 13, 22, 17,      // slot mapping
                0, 0, 0, 1, 2,           // row → sequence
                0, 2, 3,                 // table starts
                7, 3, 5, 9, 2, 4,        // block tables
                2, 3, 4,                 // logit rows
                0, 1, 2, 4,              // rows sorted by slot: slot 1 (rows 0-2), slot 0 (row 4)
                0, 3, 4,                 // segment starts
                1, 0},                   // segment slots
                s.data());
        assertEquals(new DeviceArg.Ptr("step", 4L * 23), StepLayout.at(s.blockTables()));
    }
}
