package dev.quiver.edge;

import dev.quiver.edge.api.ServiceError;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Cursor pagination of a list endpoint, as OpenAI's list endpoints do it: {@code ?limit=N} (1..{@value #MAX_LIMIT})
 * and {@code ?after=ID} (the {@code last_id} of the page before). Without either parameter the whole list is
 * answered in the plain {@code {"object":"list","data":[...]}} shape, so clients that do not page see no change;
 * with one, the answer also carries {@code has_more}, {@code first_id} and {@code last_id}.
 *
 * <p>The items must be sorted by id from index {@code sortedFrom} on (items before it, such as the base model at
 * the head of {@code /v1/models}, come first in every listing). A cursor that is no longer in the list (its adapter
 * was retired between two pages) still works: the page starts at the first id after it, so no item is skipped or
 * repeated.
 */
final class ListPage {
    static final int MAX_LIMIT = 1000;

    private ListPage() {
    }

    static <T> Map<String, Object> of(List<T> items, Function<T, String> id, int sortedFrom,
                                      Map<String, String> query) {
        String limitParam = query.get("limit");
        String after = query.get("after");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("object", "list");
        if (limitParam == null && after == null) {
            out.put("data", items);
            return out;
        }
        int limit = limit(limitParam);
        int start = after == null ? 0 : startAfter(items, id, sortedFrom, after);
        int end = (int) Math.min(items.size(), (long) start + limit);
        List<T> page = items.subList(start, end);
        out.put("data", page);
        out.put("has_more", end < items.size());
        out.put("first_id", page.isEmpty() ? null : id.apply(page.get(0)));
        out.put("last_id", page.isEmpty() ? null : id.apply(page.get(page.size() - 1)));
        return out;
    }

    private static int limit(String s) {
        if (s == null) {
            return MAX_LIMIT;
        }
        int n;
        try {
            n = Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            throw ServiceError.invalid("limit", "'limit' must be an integer from 1 to " + MAX_LIMIT + ", got '"
                    + s + "'").exception();
        }
        if (n < 1 || n > MAX_LIMIT) {
            throw ServiceError.invalid("limit", "'limit' must be from 1 to " + MAX_LIMIT + ", got " + n).exception();
        }
        return n;
    }

    private static <T> int startAfter(List<T> items, Function<T, String> id, int sortedFrom, String after) {
        if (after.isEmpty()) {
            throw ServiceError.invalid("after", "'after' must be the id of an item (the last_id of a page)")
                    .exception();
        }
        for (int i = 0; i < Math.min(sortedFrom, items.size()); i++) {
            if (id.apply(items.get(i)).equals(after)) {
                return i + 1;
            }
        }
        // Binary search over the sorted part: the first id strictly after the cursor.
        int lo = Math.min(sortedFrom, items.size());
        int hi = items.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (id.apply(items.get(mid)).compareTo(after) <= 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
}
