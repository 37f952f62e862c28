package dev.quiver.gpu.backend.cuda;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The batch's adapter rows grouped into segments by slot, for the SGMV-style kernels: segment g holds the
 * rows {@code sortedRows[segStart[g] .. segStart[g + 1])}, all using slot {@code segSlot[g]}. Slots appear in
 * the order of their first row and rows keep batch order within a segment (as the CPU backend's groups); base
 * rows (slot −1) are in no segment.
 */
public record LoraSegments(int[] sortedRows, int[] segStart, int[] segSlot) {

    public int count() {
        return segSlot.length;
    }

    public boolean isEmpty() {
        return segSlot.length == 0;
    }

    public static LoraSegments group(int[] rowSlot) {
        Map<Integer, List<Integer>> bySlot = new LinkedHashMap<>();
        for (int r = 0; r < rowSlot.length; r++) {
            if (rowSlot[r] >= 0) {
                bySlot.computeIfAbsent(rowSlot[r], k -> new ArrayList<>()).add(r);
            }
        }
        int n = bySlot.values().stream().mapToInt(List::size).sum();
        int[] rows = new int[n];
        int[] start = new int[bySlot.size() + 1];
        int[] slot = new int[bySlot.size()];
        int g = 0;
        int i = 0;
        for (Map.Entry<Integer, List<Integer>> e : bySlot.entrySet()) {
            start[g] = i;
            slot[g] = e.getKey();
            for (int r : e.getValue()) {
                rows[i++] = r;
            }
            g++;
        }
        start[g] = i;
        return new LoraSegments(rows, start, slot);
    }
}
