package dev.quiver.gpu.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class KvBlockManagerTest {

    @Test
    void blocks_needed_rounds_tokens_up_to_whole_blocks_beyond_what_is_held() {
        KvBlockManager m = new KvBlockManager(new BlockAllocator(10, 16));
        BlockTable t = new BlockTable(16);
        assertEquals(0, m.blocksNeeded(t, 0));
        assertEquals(1, m.blocksNeeded(t, 1));
        assertEquals(1, m.blocksNeeded(t, 16));
        assertEquals(2, m.blocksNeeded(t, 17));
        assertTrue(m.ensureCapacity(t, 20));
        assertEquals(0, m.blocksNeeded(t, 20));
        assertEquals(0, m.blocksNeeded(t, 32));
        assertEquals(0, m.blocksNeeded(t, 5));
        assertEquals(1, m.blocksNeeded(t, 33));
        assertThrows(IllegalArgumentException.class, () -> m.blocksNeeded(t, -1));
    }

    @Test
    void ensure_capacity_grows_the_table_to_cover_every_position() {
        KvBlockManager m = new KvBlockManager(new BlockAllocator(10, 4));
        BlockTable t = new BlockTable(4);
        assertTrue(m.ensureCapacity(t, 9));
        assertEquals(3, t.numBlocks());
        assertEquals(12, t.capacity());
        Set<Integer> slots = new HashSet<>();
        for (int p = 0; p < 9; p++) {
            assertTrue(slots.add(t.slotOf(p)), "slot reused at " + p);
        }
        assertEquals(7, m.freeBlocks());
    }

    @Test
    void ensure_capacity_within_held_blocks_allocates_nothing() {
        KvBlockManager m = new KvBlockManager(new BlockAllocator(4, 4));
        BlockTable t = new BlockTable(4);
        m.ensureCapacity(t, 5);
        int[] before = t.blocks();
        assertTrue(m.ensureCapacity(t, 8));
        assertEquals(2, m.freeBlocks());
        assertEquals(List.of(before[0], before[1]), List.of(t.block(0), t.block(1)));
    }

    @Test
    void ensure_capacity_is_all_or_nothing() {
        KvBlockManager m = new KvBlockManager(new BlockAllocator(5, 4));
        BlockTable a = new BlockTable(4);
        BlockTable b = new BlockTable(4);
        assertTrue(m.ensureCapacity(a, 12)); // 3 blocks
        assertTrue(m.ensureCapacity(b, 1)); // 1 block
        assertFalse(m.ensureCapacity(b, 13)); // needs 3 more, 1 free
        assertEquals(1, b.numBlocks());
        assertEquals(1, m.freeBlocks());
        assertTrue(m.ensureCapacity(b, 8));
        assertEquals(0, m.freeBlocks());
    }

    @Test
    void release_returns_every_block() {
        BlockAllocator allocator = new BlockAllocator(12, 8);
        KvBlockManager m = new KvBlockManager(allocator);
        BlockTable a = new BlockTable(8);
        BlockTable b = new BlockTable(8);
        BlockTable c = new BlockTable(8);
        m.ensureCapacity(a, 30);
        m.ensureCapacity(b, 1);
        m.ensureCapacity(c, 56);
        assertEquals(0, m.freeBlocks());
        m.release(b);
        assertEquals(1, m.freeBlocks());
        m.release(a);
        m.release(c);
        assertEquals(12, m.freeBlocks());
        assertEquals(0, allocator.usedBlocks());
        assertEquals(0, m.usage());
        assertEquals(0, a.numBlocks());
        assertEquals(0, c.capacity());
        m.release(a); // an empty table releases nothing
        assertEquals(12, m.freeBlocks());
    }

    @Test
    void a_released_table_can_grow_again() {
        KvBlockManager m = new KvBlockManager(new BlockAllocator(2, 4));
        BlockTable t = new BlockTable(4);
        m.ensureCapacity(t, 8);
        m.release(t);
        assertTrue(m.ensureCapacity(t, 8));
        assertEquals(2, t.numBlocks());
    }

    @Test
    void usage_is_the_fraction_of_blocks_in_use() {
        KvBlockManager m = new KvBlockManager(new BlockAllocator(8, 2));
        BlockTable t = new BlockTable(2);
        assertEquals(0.0, m.usage());
        m.ensureCapacity(t, 6);
        assertEquals(3.0 / 8, m.usage(), 1e-12);
        m.ensureCapacity(t, 16);
        assertEquals(1.0, m.usage(), 1e-12);
    }

    @Test
    void rejects_a_table_with_another_block_size() {
        KvBlockManager m = new KvBlockManager(new BlockAllocator(8, 16));
        assertThrows(IllegalArgumentException.class, () -> m.ensureCapacity(new BlockTable(8), 4));
        assertEquals(8, m.freeBlocks());
    }

    @Test
    void blocks_for_budget_divides_the_budget_by_the_bytes_of_k_and_v_per_block() {
        // 32 layers, 16 tokens per block, 8 KV heads * 128, fp16: 2 * 32 * 16 * 1024 * 2 = 2 MiB a block.
        long block = 2L * 32 * 16 * 1024 * 2;
        assertEquals(2L << 20, block);
        assertEquals(512, KvBlockManager.blocksForBudget(1L << 30, 32, 16, 1024, 2));
        assertEquals(512, KvBlockManager.blocksForBudget((1L << 30) + block - 1, 32, 16, 1024, 2));
        assertEquals(1, KvBlockManager.blocksForBudget(block, 32, 16, 1024, 2));
        assertEquals(3, KvBlockManager.blocksForBudget(4 * (2 * 2 * 2 * 5 * 4) - 1, 2, 2, 5, 4));
    }

    @Test
    void a_budget_below_one_block_is_rejected_naming_the_budget() {
        long block = 2L * 32 * 16 * 1024 * 2;
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class,
                        () -> KvBlockManager.blocksForBudget(block - 1, 32, 16, 1024, 2));
        assertTrue(e.getMessage().contains("budget of " + (block - 1) + " bytes"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> KvBlockManager.blocksForBudget(0, 1, 1, 1, 1));
    }

    @Test
    void blocks_for_budget_rejects_non_positive_shapes_and_overflow() {
        assertThrows(IllegalArgumentException.class,
                () -> KvBlockManager.blocksForBudget(1L << 30, 0, 16, 1024, 2));
        assertThrows(IllegalArgumentException.class,
                () -> KvBlockManager.blocksForBudget(1L << 30, 32, 16, 1024, 0));
        assertThrows(IllegalArgumentException.class,
                () -> KvBlockManager.blocksForBudget(Long.MAX_VALUE, 1 << 30, 1 << 30, 1 << 30, 8));
        assertThrows(IllegalArgumentException.class,
                () -> KvBlockManager.blocksForBudget(Long.MAX_VALUE, 1, 1, 1, 1));
    }
}
