package dev.quiver.gpu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.tokenizer.Tokenizers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** {@code quiver model make} and {@code quiver generate} as a user runs them. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EngineCliTest {
    static final ObjectMapper JSON = new ObjectMapper();
    Path dir;
    Path model;

    @BeforeAll
    void make(@TempDir Path tmp) {
        dir = tmp;
        model = dir.resolve("model");
        assertEquals(0, EngineCli.run(List.of("model", "make", model.toString(), "--adapters", "3")));
    }

    @Test
    void model_make_writes_a_loadable_model_tokenizer_and_adapters() {
        ModelConfig cfg = ModelConfig.load(model);
        assertEquals(Tokenizers.load(model).bosId().getAsInt(), cfg.bosTokenIds().get(0));
        for (String a : List.of("adapter-01", "adapter-02", "adapter-03")) {
            var adapter = AdapterLoader.load(model.resolve("adapters").resolve(a), a, cfg, 64);
            assertTrue(adapter.rank > 0);
        }
        assertTrue(Files.exists(model.resolve("generation_config.json")));
    }

    @Test
    void generate_serves_good_lines_and_turns_bad_ones_into_error_lines() throws Exception {
        Path in = dir.resolve("in.jsonl");
        Path out = dir.resolve("out.jsonl");
        Files.writeString(in, String.join("\n",
                "{\"id\":\"a\",\"prompt\":\"Hello world\",\"max_tokens\":5,\"temperature\":0,\"adapter\":\"x\",\"ignore_eos\":true}",
                "{\"id\":\"b\",\"prompt_ids\":[1,20,30],\"max_tokens\":4,\"seed\":5,\"logprobs\":2,\"ignore_eos\":true}",
                "not json",
                "{\"id\":\"d\",\"prompt\":\"hi\",\"adapter\":\"missing\"}",
                "{\"id\":\"e\",\"prompt\":\"hi\",\"temperature\":9}",
                "{\"id\":\"f\",\"max_tokens\":3}",
                "{\"id\":\"g\",\"prompt_ids\":[1,999999],\"max_tokens\":3}") + "\n");
        int rc = EngineCli.run(List.of("generate", "--model", model.toString(), "--adapter",
                "x=" + model.resolve("adapters/adapter-01"), "--input", in.toString(), "--output", out.toString()));
        assertEquals(1, rc, "exit status 1 when some lines failed");
        List<JsonNode> lines = new ArrayList<>();
        for (String l : Files.readAllLines(out)) {
            lines.add(JSON.readTree(l));
        }
        assertEquals(7, lines.size(), "one output line per input line, in order");
        JsonNode a = lines.get(0);
        assertEquals("a", a.get("id").asText());
        assertEquals("x", a.get("adapter").asText());
        assertEquals(5, a.get("token_ids").size());
        assertEquals("length", a.get("finish_reason").asText());
        assertEquals(5, a.get("usage").get("completion_tokens").asInt());
        JsonNode b = lines.get(1);
        assertEquals(4, b.get("logprobs").size(), b.toString());
        assertEquals(2, b.get("logprobs").get(0).get("top").size());
        assertEquals("line-3", lines.get(2).get("id").asText());
        assertTrue(lines.get(2).get("error").get("message").asText().contains("not valid JSON"));
        assertEquals("unknown_adapter", lines.get(3).get("error").get("type").asText());
        assertEquals("temperature", lines.get(4).get("error").get("param").asText());
        assertTrue(lines.get(5).get("error").get("message").asText().contains("prompt or prompt_ids"));
        assertTrue(lines.get(6).get("error").get("message").asText().contains("999999"));
    }

    @Test
    void generate_is_reproducible_for_a_seed() throws Exception {
        Path in = dir.resolve("seeded.jsonl");
        Files.writeString(in, "{\"id\":\"s\",\"prompt\":\"Once upon a time\",\"max_tokens\":8,\"seed\":11}\n");
        EngineCli.run(List.of("generate", "--model", model.toString(), "--input", in.toString(), "--output",
                dir.resolve("o1.jsonl").toString()));
        EngineCli.run(List.of("generate", "--model", model.toString(), "--input", in.toString(), "--output",
                dir.resolve("o2.jsonl").toString()));
        String o1 = Files.readString(dir.resolve("o1.jsonl"));
        assertEquals(o1, Files.readString(dir.resolve("o2.jsonl")));
        assertFalse(JSON.readTree(o1).has("error"), o1);
    }

    @Test
    void a_stop_string_ends_generation_and_is_not_emitted() throws Exception {
        Path in = dir.resolve("free.jsonl");
        Files.writeString(in, "{\"id\":\"f\",\"prompt\":\"The river\",\"max_tokens\":40,\"temperature\":0,"
                + "\"ignore_eos\":true}\n");
        EngineCli.run(List.of("generate", "--model", model.toString(), "--input", in.toString(), "--output",
                dir.resolve("free.out").toString()));
        String free = JSON.readTree(Files.readString(dir.resolve("free.out"))).get("text").asText();
        assertTrue(free.length() > 12, "greedy text long enough to cut: " + free);
        // a stop string taken from the middle of the unconstrained output
        int at = free.length() / 2;
        String stop = free.substring(at, at + 3);
        String expected = free.substring(0, free.indexOf(stop));
        ObjectMapper m = new ObjectMapper();
        var req = m.createObjectNode().put("id", "s").put("prompt", "The river").put("max_tokens", 40)
                .put("temperature", 0).put("ignore_eos", true);
        req.putArray("stop").add(stop);
        Files.writeString(dir.resolve("stop.jsonl"), req + "\n");
        EngineCli.run(List.of("generate", "--model", model.toString(), "--input", dir.resolve("stop.jsonl").toString(),
                "--output", dir.resolve("stop.out").toString()));
        JsonNode out = JSON.readTree(Files.readString(dir.resolve("stop.out")));
        assertEquals("stop", out.get("finish_reason").asText(), out.toString());
        assertEquals(expected, out.get("text").asText());
    }

    @Test
    void unknown_options_are_usage_errors() {
        assertEquals(2, EngineCli.run(List.of("model", "make", dir.resolve("m2").toString(), "--colour", "red")));
        assertEquals(2, EngineCli.run(List.of("frobnicate")));
    }
}
