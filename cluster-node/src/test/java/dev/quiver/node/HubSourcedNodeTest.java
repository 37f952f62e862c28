package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.quiver.sources.TestHub;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A node whose base model and adapters come from a Hugging Face Hub (the tests' own, over real sockets):
 * {@code quiver.node.model-dir = "hf://..."}, admin {@code source} and vLLM's {@code lora_path} as hf:// URIs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HubSourcedNodeTest {
    TestHub hub;
    QuiverNode node;
    Client client;
    String loraV1;
    String loraV2;

    static Map<String, byte[]> read(Path dir, String... names) throws IOException {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (String n : names) {
            m.put(n, Files.readAllBytes(dir.resolve(n)));
        }
        return m;
    }

    @BeforeAll
    void start() throws IOException {
        hub = new TestHub();
        Path model = TestNodes.model();
        Map<String, byte[]> modelFiles = read(model, "config.json", "model.safetensors", "tokenizer.json",
                "tokenizer_config.json", "generation_config.json");
        modelFiles.put("pytorch_model.bin", new byte[] {1, 2, 3});
        hub.push("test-org/demo-llm", "main", modelFiles);
        Path adapters = model.resolve("adapters");
        loraV1 = hub.push("test-org/sql-lora", "main", read(adapters.resolve("adapter-01"), "adapter_config.json",
                "adapter_model.safetensors"));
        loraV2 = hub.push("test-org/sql-lora", "v2", read(adapters.resolve("adapter-03"), "adapter_config.json",
                "adapter_model.safetensors"));
        Path cache = TestNodes.scratch().resolve("sources-cache-" + System.nanoTime());
        node = QuiverNode.start(TestNodes.config("quiver.node.model-dir = \"hf://test-org/demo-llm\"\n"
                + "quiver.node.served-model-name = \"\"\n"
                + "quiver.sources { cache-dir = \"" + cache + "\", hf.endpoint = \"" + hub.endpoint() + "\", "
                + "hf.token = \"\", offline = \"false\", progress = off }"));
        client = new Client(node.baseUrl());
    }

    @AfterAll
    void stop() {
        if (node != null) {
            node.stop();
        }
        hub.close();
    }

    @Test
    void a_node_started_with_an_hf_model_dir_serves_completions_under_the_repo_name() {
        Client.Reply r = client.post("/v1/completions", USER_A, "{\"model\":\"demo-llm\",\"prompt\":\"Hello\","
                + "\"max_tokens\":8,\"temperature\":0,\"ignore_eos\":true}");
        assertEquals(200, r.status(), r.body());
        assertEquals(8, r.json().at("/usage/completion_tokens").asInt());
        assertTrue(hub.seen.stream().noneMatch(s -> s.path().endsWith(".bin")), "pickle weights are never fetched");
    }

    @Test
    void publishing_an_hf_revision_records_its_commit_and_the_same_revision_again_is_a_conflict() {
        Client.Reply reg = client.post("/v1/adapters", ADMIN_A, "{\"name\":\"hub-sql\",\"source\":"
                + "\"hf://test-org/sql-lora\"}");
        assertEquals(201, reg.status(), reg.body());
        assertTrue(reg.json().at("/versions/0/source").asText().contains("@" + loraV1), reg.body());

        Client.Reply v2 = client.post("/v1/adapters/hub-sql/versions", ADMIN_A, "{\"source\":"
                + "\"hf://test-org/sql-lora@v2\"}");
        assertEquals(201, v2.status(), v2.body());
        assertEquals(2, v2.json().path("active_version").asInt());
        JsonNode versions = v2.json().path("versions");
        String v2Source = versions.get(versions.size() - 1).path("source").asText();
        assertTrue(v2Source.contains("@" + loraV2) && v2Source.contains("(v2)"), v2.body());

        Client.Reply again = client.post("/v1/adapters/hub-sql/versions", ADMIN_A, "{\"source\":"
                + "\"hf://test-org/sql-lora@v2\"}");
        assertEquals(409, again.status(), again.body());

        Client.Reply gen = client.post("/v1/completions", USER_A, "{\"model\":\"hub-sql\",\"prompt\":\"Hello\","
                + "\"max_tokens\":4,\"temperature\":0}");
        assertEquals(200, gen.status(), gen.body());
    }

    @Test
    void load_lora_adapter_takes_an_hf_lora_path() {
        Client.Reply load = client.post("/v1/load_lora_adapter", ADMIN_A, "{\"lora_name\":\"hub-vllm\","
                + "\"lora_path\":\"hf://test-org/sql-lora@" + loraV1 + "\"}");
        assertEquals(200, load.status(), load.body());
        Client.Reply gen = client.post("/v1/completions", USER_A, "{\"model\":\"hub-vllm\",\"prompt\":\"Hi\","
                + "\"max_tokens\":4}");
        assertEquals(200, gen.status(), gen.body());
    }

    @Test
    void a_missing_hub_repo_is_a_400_naming_the_source() {
        Client.Reply r = client.post("/v1/adapters", ADMIN_A, "{\"name\":\"nowhere\",\"source\":"
                + "\"hf://test-org/no-such-lora\"}");
        assertEquals(400, r.status(), r.body());
        assertEquals("source", r.error().path("param").asText(), r.body());
        assertTrue(r.error().path("message").asText().contains("no such repo/revision/file"), r.body());
        Client.Reply bad = client.post("/v1/adapters", ADMIN_A, "{\"name\":\"badsrc\",\"source\":\"hf://x\"}");
        assertEquals(400, bad.status(), bad.body());
        assertEquals("source", bad.error().path("param").asText(), bad.body());
    }
}
