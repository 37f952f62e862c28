package dev.quiver.gpu.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BlockAllocatorTest {

    @Test
    void a_fresh_allocator_has_every_block_free() {
        BlockAllocator a = new BlockAllocator(8, 16);
        assertEquals(8, a.numBlocks());
        assertEquals(16, a.blockSize());
        assertEquals(8, a.freeBlocks());
        assertEquals(0, a.usedBlocks());
    }

    @Test
    void allocates_distinct_in_range_blocks_starting_from_zero() {
        BlockAllocator a = new BlockAllocator(5, 4);
        assertArrayEquals(new int[] {0, 1, 2}, a.allocate(3));
        assertArrayEquals(new int[] {3, 4}, a.allocate(2));
        assertEquals(0, a.freeBlocks());
        assertEquals(5, a.usedBlocks());
    }

    @Test
    void allocates_until_exhaustion_then_returns_null_taking_nothing() {
        BlockAllocator a = new BlockAllocator(10, 4);
        assertNotNull(a.allocate(4));
        assertNotNull(a.allocate(4));
        assertEquals(2, a.freeBlocks());
        assertNull(a.allocate(3));
        assertEquals(2, a.freeBlocks());
        int[] last = a.allocate(2);
        assertEquals(2, last.length);
        assertEquals(0, a.freeBlocks());
        assertNull(a.allocate(1));
        assertEquals(10, a.usedBlocks());
    }

    @Test
    void freed_blocks_are_reused() {
        BlockAllocator a = new BlockAllocator(6, 4);
        a.allocate(6);
        a.free(new int[] {4, 1});
        assertEquals(2, a.freeBlocks());
        int[] again = a.allocate(2);
        Arrays.sort(again);
        assertArrayEquals(new int[] {1, 4}, again);
        assertEquals(0, a.freeBlocks());
    }

    @Test
    void double_free_is_detected_and_names_the_block() {
        BlockAllocator a = new BlockAllocator(4, 4);
        int[] blocks = a.allocate(2);
        a.free(new int[] {blocks[1]});
        IllegalStateException e =
                assertThrows(IllegalStateException.class, () -> a.free(new int[] {blocks[1]}));
        assertTrue(e.getMessage().contains("block " + blocks[1]), e.getMessage());
        assertEquals(3, a.freeBlocks());
    }

    @Test
    void a_block_listed_twice_in_one_free_is_detected() {
        BlockAllocator a = new BlockAllocator(4, 4);
        a.allocate(2);
        IllegalStateException e =
                assertThrows(IllegalStateException.class, () -> a.free(new int[] {1, 1}));
        assertTrue(e.getMessage().contains("block 1"), e.getMessage());
        assertEquals(2, a.freeBlocks());
    }

    @Test
    void a_rejected_free_frees_nothing() {
        BlockAllocator a = new BlockAllocator(4, 4);
        a.allocate(3);
        assertThrows(IllegalStateException.class, () -> a.free(new int[] {0, 2, 3}));
        assertEquals(1, a.freeBlocks());
        a.free(new int[] {0, 2}); // still held, so freeing them now succeeds
        assertEquals(3, a.freeBlocks());
    }

    @Test
    void out_of_range_blocks_are_rejected_by_name() {
        BlockAllocator a = new BlockAllocator(4, 4);
        a.allocate(4);
        IllegalStateException high =
                assertThrows(IllegalStateException.class, () -> a.free(new int[] {4}));
        assertTrue(high.getMessage().contains("block 4"), high.getMessage());
        IllegalStateException low =
                assertThrows(IllegalStateException.class, () -> a.free(new int[] {-1}));
        assertTrue(low.getMessage().contains("block -1"), low.getMessage());
        assertEquals(0, a.freeBlocks());
    }

    @Test
    void allocating_zero_blocks_gives_an_empty_array_and_negative_is_rejected() {
        BlockAllocator a = new BlockAllocator(2, 4);
        assertEquals(0, a.allocate(0).length);
        assertEquals(2, a.freeBlocks());
        assertThrows(IllegalArgumentException.class, () -> a.allocate(-1));
    }

    @Test
    void rejects_non_positive_sizes() {
        assertThrows(IllegalArgumentException.class, () -> new BlockAllocator(0, 16));
        assertThrows(IllegalArgumentException.class, () -> new BlockAllocator(16, 0));
    }

    @Test
    void a_random_alloc_free_sequence_never_hands_out_a_block_twice() {
        int numBlocks = 64;
        BlockAllocator a = new BlockAllocator(numBlocks, 16);
        Random random = new Random(20240601L);
        Set<Integer> held = new HashSet<>();
        List<int[]> owners = new ArrayList<>();
        int failures = 0;
        for (int step = 0; step < 20_000; step++) {
            if (owners.isEmpty() || random.nextInt(100) < 55) {
                int n = random.nextInt(9);
                int[] got = a.allocate(n);
                if (got == null) {
                    failures++;
                    assertTrue(n > numBlocks - held.size(), "refused " + n + " with " + a.freeBlocks() + " free");
                } else {
                    assertEquals(n, got.length);
                    for (int b : got) {
                        assertTrue(b >= 0 && b < numBlocks, "out of range " + b);
                        assertTrue(held.add(b), "block " + b + " handed out twice at step " + step);
                    }
                    owners.add(got);
                }
            } else {
                int[] victim = owners.remove(random.nextInt(owners.size()));
                a.free(victim);
                for (int b : victim) {
                    held.remove(b);
                }
            }
            assertEquals(numBlocks - held.size(), a.freeBlocks());
            assertEquals(held.size(), a.usedBlocks());
        }
        assertTrue(failures > 0, "the sequence never reached exhaustion");
    }
}
