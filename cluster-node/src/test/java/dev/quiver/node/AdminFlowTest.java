package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The adapter admin API and its audit trail: register → use → publish v2 → rollback → preload → retire. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdminFlowTest {
    QuiverNode node;
    Client client;
    Path adapters;

    @BeforeAll
    void start() {
        node = TestNodes.startWithDemoAdapters("");
        client = new Client(node.baseUrl());
        adapters = TestNodes.model().resolve("adapters");
    }

    @AfterAll
    void stop() {
        node.stop();
    }

    String greedy(String model) {
        Client.Reply r = client.post("/v1/completions", USER_A, "{\"model\":\"" + model + "\",\"prompt\":\"Tell me\","
                + "\"max_tokens\":12,\"temperature\":0,\"ignore_eos\":true}");
        assertEquals(200, r.status(), r.body());
        return r.json().at("/choices/0/text").asText();
    }

    List<String> eventTypes(String name) {
        Client.Reply r = client.get("/v1/adapters/" + name + "/events", ADMIN_A);
        assertEquals(200, r.status(), r.body());
        List<String> types = new ArrayList<>();
        for (JsonNode e : r.json().path("data")) {
            assertEquals(name, e.path("adapter").asText());
            types.add(e.path("type").asText());
        }
        return types;
    }

    @Test
    void register_use_publish_v2_rollback_preload_retire_each_visible_in_the_audit_api() throws Exception {
        String v1Text = greedy("adapter-01");
        String v2Text = greedy("adapter-03");
        // register from a file:// directory under an allowed root
        Client.Reply reg = client.post("/v1/adapters", ADMIN_A, "{\"name\":\"flow\",\"source\":\""
                + adapters.resolve("adapter-01").toUri() + "\"}");
        assertEquals(201, reg.status(), reg.body());
        assertEquals(1, reg.json().path("active_version").asInt());
        assertEquals(64, reg.json().at("/versions/0/sha256").asText().length());
        assertEquals("a", reg.json().path("owner").asText());
        assertEquals(List.of("Registered"), eventTypes("flow"), "nothing is placed before the first request");
        assertEquals(v1Text, greedy("flow"));
        // the first request placed it on the worker; the placement is journaled once the worker has it loaded
        awaitEvent("flow", "PlacedOn", null);

        // publish v2 as an uploaded .tar.gz (files under a directory inside the archive)
        byte[] tgz = Archives.tarGz(Archives.adapterFiles(adapters.resolve("adapter-03")), "my-adapter/");
        Client.Reply v2 = client.post("/v1/adapters/flow/versions", ADMIN_A, "application/gzip", tgz);
        assertEquals(201, v2.status(), v2.body());
        assertEquals(2, v2.json().path("active_version").asInt());
        assertEquals(2, v2.json().path("versions").size());
        assertEquals(v2Text, greedy("flow"), "v2 serves the new weights at once");

        // roll back to v1
        Client.Reply rb = client.post("/v1/adapters/flow/rollback", ADMIN_A, "{}");
        assertEquals(200, rb.status(), rb.body());
        assertEquals(1, rb.json().path("active_version").asInt());
        assertEquals(v1Text, greedy("flow"));

        // preload pins it in a compute slot of every worker there is, at most the 2 asked for (one here)
        Client.Reply pre = client.post("/v1/adapters/flow/preload", ADMIN_A, "{\"replicas\":2}");
        assertEquals(200, pre.status(), pre.body());
        assertEquals(2, pre.json().path("preload_replicas").asInt());
        JsonNode got = client.get("/v1/adapters/flow", ADMIN_A).json();
        String worker = node.worker().id();
        assertEquals(List.of(worker), List.of(got.at("/resident_on/0").asText()));
        assertEquals("slot", got.at("/cache/tier").asText());
        assertTrue(got.at("/cache/pinned").asBoolean());
        assertTrue(got.path("cache").path(worker).path("pinned").asBoolean(), got.toString());

        // retire: new requests get 404, the adapter is evicted from the worker once idle
        Client.Reply del = client.delete("/v1/adapters/flow", ADMIN_A);
        assertEquals(200, del.status(), del.body());
        assertEquals("retired", del.json().path("status").asText());
        assertEquals(404, client.post("/v1/completions", USER_A, "{\"model\":\"flow\",\"prompt\":\"x\"}").status());
        awaitEvent("flow", "EvictedFrom", "Retired");
        List<String> types = eventTypes("flow");
        // placements and evictions follow traffic and version switches asynchronously; the decisions come in order
        assertEquals(List.of("Registered", "VersionPublished", "RolledBack", "PreloadChanged", "Retired"),
                types.stream().filter(t -> !t.equals("EvictedFrom") && !t.equals("PlacedOn")).toList());
        assertEquals("EvictedFrom", types.get(types.size() - 1), "retiring evicts it: " + types);
        assertTrue(types.stream().filter(t -> t.equals("EvictedFrom")).count() >= 2,
                "v1 superseded by v2, then the retirement: " + types);

        // the node-wide feed has them too, in order, with increasing sequence numbers
        JsonNode all = client.get("/v1/events?since=0", ADMIN_A).json().path("data");
        long prev = 0;
        List<String> flow = new ArrayList<>();
        for (JsonNode e : all) {
            assertTrue(e.path("seq").asLong() > prev);
            prev = e.path("seq").asLong();
            if (e.path("adapter").asText().equals("flow")) {
                flow.add(e.path("type").asText());
            }
        }
        assertEquals(types, flow);
        long last = all.get(all.size() - 1).path("seq").asLong();
        assertEquals(0, client.get("/v1/events?since=" + last, ADMIN_A).json().path("data").size());
    }

    /** Waits (up to 10 s) until the adapter's trail holds {@code type}, after an event of type {@code after}. */
    void awaitEvent(String name, String type, String after) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            List<String> types = eventTypes(name);
            int from = after == null ? 0 : types.lastIndexOf(after);
            if (from >= 0 && types.subList(from, types.size()).contains(type)) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no " + type + (after == null ? "" : " after " + after) + " in " + eventTypes(name));
    }

    @Test
    void multipart_upload_registers_and_refused_adapters_name_the_reason() throws Exception {
        Map<String, byte[]> files = Archives.adapterFiles(adapters.resolve("adapter-02"));
        Client.Reply ok = client.post("/v1/adapters", ADMIN_A, "multipart/form-data; boundary=" + Archives.BOUNDARY,
                Archives.multipart(Map.of("name", "multi", "shared", "false"), files));
        assertEquals(201, ok.status(), ok.body());
        assertEquals(greedy("adapter-02"), greedy("multi"));

        String cfg = new String(files.get("adapter_config.json")).replaceFirst("\"r\"\\s*:\\s*\\d+", "\"r\": 500");
        Client.Reply rank = client.post("/v1/adapters", ADMIN_A, "multipart/form-data; boundary=" + Archives.BOUNDARY,
                Archives.multipart(Map.of("name", "too-big"), Map.of("adapter_config.json", cfg.getBytes(),
                        "adapter_model.safetensors", files.get("adapter_model.safetensors"))));
        assertEquals(422, rank.status(), rank.body());
        assertEquals("adapter_refused", rank.error().path("code").asText());
        assertTrue(rank.error().path("message").asText().contains("exceeds max-lora-rank"), rank.body());

        // adapter-02's config with adapter-01's weights: declared targets without weights / wrong shapes
        Client.Reply mismatch = client.post("/v1/adapters?name=mismatch", ADMIN_A, "application/x-tar",
                Archives.tarGz(Map.of("adapter_config.json", files.get("adapter_config.json"),
                        "adapter_model.safetensors", Files.readAllBytes(adapters.resolve(
                                "adapter-04/adapter_model.safetensors"))), ""));
        assertEquals(422, mismatch.status(), mismatch.body());
        assertTrue(mismatch.error().path("message").asText().contains("adapter 'mismatch'"), mismatch.body());
        assertEquals(404, client.get("/v1/adapters/mismatch", ADMIN_A).status(), "a refused adapter is not kept");
        assertEquals(409, client.post("/v1/adapters", ADMIN_A, "{\"name\":\"adapter-01\",\"source\":\""
                + adapters.resolve("adapter-01").toUri() + "\"}").status());
    }

    @Test
    void vllm_load_and_unload_aliases_work() {
        Client.Reply load = client.post("/v1/load_lora_adapter", ADMIN_A, "{\"lora_name\":\"vllm-style\","
                + "\"lora_path\":\"" + adapters.resolve("adapter-04") + "\"}");
        assertEquals(200, load.status(), load.body());
        assertTrue(load.body().contains("added successfully"));
        assertEquals(greedy("adapter-04"), greedy("vllm-style"));
        Client.Reply unload = client.post("/v1/unload_lora_adapter", ADMIN_A, "{\"lora_name\":\"vllm-style\"}");
        assertEquals(200, unload.status(), unload.body());
        assertEquals(404, client.post("/v1/completions", USER_A, "{\"model\":\"vllm-style\",\"prompt\":\"x\"}")
                .status());
        JsonNode list = client.get("/v1/adapters", ADMIN_A).json();
        assertEquals("list", list.path("object").asText());
        assertTrue(list.path("data").size() >= 5);
    }
}
