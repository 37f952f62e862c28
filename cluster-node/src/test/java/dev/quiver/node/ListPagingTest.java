package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** {@code GET /v1/adapters} and {@code GET /v1/models} page with {@code limit} and {@code after}, over HTTP. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ListPagingTest {
    static final int EXTRA = 11;
    QuiverNode node;
    Client client;

    @BeforeAll
    void start() {
        node = TestNodes.startWithDemoAdapters("");
        client = new Client(node.baseUrl());
        for (int i = 0; i < EXTRA; i++) {
            Client.Reply r = client.post("/v1/adapters", ADMIN_A, "{\"name\":\"page-" + (char) ('a' + i)
                    + "\",\"source\":\"" + TestNodes.model().resolve("adapters/adapter-0" + (1 + i % 4)).toUri()
                    + "\"}");
            assertEquals(201, r.status(), r.body());
        }
    }

    @AfterAll
    void stop() {
        node.stop();
    }

    List<String> ids(JsonNode list, String field) {
        List<String> out = new ArrayList<>();
        for (JsonNode a : list.path("data")) {
            out.add(a.path(field).asText());
        }
        return out;
    }

    /** Follows {@code last_id} until {@code has_more} is false; every page checked for its own fields. */
    List<String> allPages(String path, String key, String field, int limit) {
        List<String> out = new ArrayList<>();
        String after = null;
        for (int guard = 0; guard < 100; guard++) {
            Client.Reply r = client.get(path + "?limit=" + limit + (after == null ? "" : "&after=" + after), key);
            assertEquals(200, r.status(), r.body());
            List<String> page = ids(r.json(), field);
            assertTrue(page.size() <= limit, r.body());
            if (!page.isEmpty()) {
                assertEquals(page.get(0), r.json().path("first_id").asText());
                assertEquals(page.get(page.size() - 1), r.json().path("last_id").asText());
            }
            out.addAll(page);
            if (!r.json().path("has_more").asBoolean()) {
                return out;
            }
            assertEquals(limit, page.size(), "a page that is not the last one is full");
            after = r.json().path("last_id").asText();
        }
        throw new AssertionError("more than 100 pages");
    }

    @Test
    void adapter_pages_concatenate_to_the_whole_list_in_order() {
        Client.Reply whole = client.get("/v1/adapters", ADMIN_A);
        assertEquals(200, whole.status(), whole.body());
        assertFalse(whole.json().has("has_more"), "an unpaged listing keeps the plain list shape");
        List<String> all = ids(whole.json(), "name");
        assertEquals(4 + EXTRA, all.size(), all.toString());
        for (int limit : new int[] {1, 4, 5, 15, 1000}) {
            assertEquals(all, allPages("/v1/adapters", ADMIN_A, "name", limit), "limit " + limit);
        }
    }

    @Test
    void model_pages_keep_the_base_model_first_and_cover_every_adapter_once() {
        List<String> all = ids(client.get("/v1/models", USER_A).json(), "id");
        assertEquals("quiver-demo", all.get(0));
        assertEquals(all, allPages("/v1/models", USER_A, "id", 4));
        Client.Reply afterBase = client.get("/v1/models?limit=2&after=quiver-demo", USER_A);
        assertEquals(all.subList(1, 3), ids(afterBase.json(), "id"));
    }

    @Test
    void a_cursor_that_left_the_list_continues_after_its_place() {
        Client.Reply r = client.post("/v1/adapters", ADMIN_A, "{\"name\":\"page-gone\",\"source\":\""
                + TestNodes.model().resolve("adapters/adapter-01").toUri() + "\"}");
        assertEquals(201, r.status(), r.body());
        assertEquals(200, client.delete("/v1/adapters/page-gone", ADMIN_A).status());
        // the listing shows retired adapters too; a name that never existed sorts between page-f and page-g
        Client.Reply next = client.get("/v1/adapters?limit=2&after=page-fz", ADMIN_A);
        assertEquals(200, next.status(), next.body());
        assertEquals(List.of("page-g", "page-gone"), ids(next.json(), "name"));
    }

    @Test
    void a_bad_limit_or_empty_cursor_is_a_400_naming_the_parameter() {
        for (String q : new String[] {"limit=0", "limit=1001", "limit=ten", "limit=-3"}) {
            Client.Reply r = client.get("/v1/adapters?" + q, ADMIN_A);
            assertEquals(400, r.status(), q + ": " + r.body());
            assertEquals("limit", r.json().at("/error/param").asText(), r.body());
        }
        Client.Reply r = client.get("/v1/models?after=", USER_A);
        assertEquals(400, r.status(), r.body());
        assertEquals("after", r.json().at("/error/param").asText(), r.body());
    }
}
