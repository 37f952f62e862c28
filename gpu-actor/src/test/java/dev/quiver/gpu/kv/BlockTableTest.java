package dev.quiver.gpu.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class BlockTableTest {

    @Test
    void slot_of_maps_positions_through_their_block_across_boundaries() {
        BlockTable t = new BlockTable(4);
        t.append(new int[] {7, 2});
        t.append(new int[] {5});
        assertEquals(28, t.slotOf(0));
        assertEquals(31, t.slotOf(3));
        assertEquals(8, t.slotOf(4));
        assertEquals(11, t.slotOf(7));
        assertEquals(20, t.slotOf(8));
        assertEquals(23, t.slotOf(11));
    }

    @Test
    void slot_of_rejects_positions_beyond_capacity() {
        BlockTable t = new BlockTable(4);
        assertThrows(IndexOutOfBoundsException.class, () -> t.slotOf(0));
        t.append(new int[] {3});
        assertThrows(IndexOutOfBoundsException.class, () -> t.slotOf(4));
        assertThrows(IndexOutOfBoundsException.class, () -> t.slotOf(-1));
    }

    @Test
    void capacity_counts_whole_blocks() {
        BlockTable t = new BlockTable(16);
        assertEquals(0, t.capacity());
        t.append(new int[] {0, 1, 2});
        assertEquals(3, t.numBlocks());
        assertEquals(48, t.capacity());
        assertEquals(16, t.blockSize());
    }

    @Test
    void grows_past_its_initial_array_keeping_logical_order() {
        BlockTable t = new BlockTable(2);
        int[] expected = new int[37];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = 100 - i;
            t.append(new int[] {expected[i]});
        }
        assertArrayEquals(expected, t.blocks());
        assertEquals(100 - 36, t.block(36));
        assertEquals((100 - 20) * 2 + 1, t.slotOf(41));
        assertThrows(IndexOutOfBoundsException.class, () -> t.block(37));
    }

    @Test
    void blocks_returns_a_copy() {
        BlockTable t = new BlockTable(2);
        t.append(new int[] {9});
        t.blocks()[0] = 1;
        assertEquals(9, t.block(0));
    }

    @Test
    void clear_returns_the_blocks_and_empties_the_table() {
        BlockTable t = new BlockTable(2);
        t.append(new int[] {4, 6});
        assertArrayEquals(new int[] {4, 6}, t.clear());
        assertEquals(0, t.numBlocks());
        assertEquals(0, t.capacity());
    }
}
