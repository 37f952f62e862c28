package dev.quiver.gpu.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import dev.quiver.gpu.constraint.ConstraintSpec;
import dev.quiver.gpu.sampling.SamplingParams;
import dev.quiver.gpu.testing.Collector;
import dev.quiver.gpu.testing.TinyModels;
import dev.quiver.gpu.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Structured outputs end to end on the engine, on a tiny model with random weights: whatever the model prefers,
 * the constraint alone makes the output conform, so every output is checked by an independent JSON Schema
 * validator (networknt), a regex engine or the list of choices.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StructuredOutputEngineTest {
    static final String ADAPTER = "adapter-01";
    static final ObjectMapper JSON = new ObjectMapper();
    static final SchemaRegistry SCHEMAS = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);

    static final Map<String, String> SCHEMA_TABLE = Map.of(
            "flat", """
                    {"type":"object","properties":{"name":{"type":"string","maxLength":6},"age":{"type":"integer"},
                     "ok":{"type":"boolean"}},"required":["name","age","ok"],"additionalProperties":false}""",
            "nested", """
                    {"type":"object","properties":{"user":{"type":"object","properties":{
                     "id":{"type":"integer"},"email":{"type":["string","null"],"maxLength":4}},"required":["id"]},
                     "tags":{"type":"array","items":{"enum":["red","green",3]},"minItems":1,"maxItems":3}},
                     "required":["user","tags"]}""",
            "refs_anyof", """
                    {"$defs":{"pt":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},
                     "required":["x","y"],"additionalProperties":false}},
                     "type":"object","properties":{"at":{"$ref":"#/$defs/pt"},
                     "kind":{"anyOf":[{"const":"dot"},{"type":"null"}]},
                     "code":{"type":"string","pattern":"^[A-Z]{2}[0-9]$"}},"required":["at","kind","code"]}""",
            "array_root", """
                    {"type":"array","items":{"type":"string","minLength":1,"maxLength":3},"maxItems":4}""");

    Path model;
    Engine engine;
    Tokenizer tokenizer;
    int[] prompt;
    int requests;

    @BeforeAll
    void start() {
        model = TinyModels.textModel(2);
        engine = Engine.start(model, EngineSettings.defaults().withThreads(2).withKvCacheBytes(16L << 20)
                .withLoras(2, 4), "engine-structured-test");
        engine.registerAdapter(ADAPTER, model.resolve("adapters").resolve(ADAPTER));
        tokenizer = engine.tokenizer();
        prompt = tokenizer.encode("Describe the user as JSON:", true);
    }

    @AfterAll
    void stop() {
        engine.close();
    }

    static SamplingParams params(int maxTokens, long seed, boolean greedy, ConstraintSpec c) {
        return new SamplingParams(maxTokens, greedy ? 0f : 1f, 1f, -1, seed, List.of(), -1, false).withConstraint(c);
    }

    Collector submit(String adapter, SamplingParams p, int[] resume) {
        Collector c = new Collector();
        engine.submit(new GenerateRequest("s" + requests++, adapter, null, prompt, p, resume), c);
        return c;
    }

    static Stream<Arguments> table() {
        List<Arguments> out = new ArrayList<>();
        for (String schema : SCHEMA_TABLE.keySet().stream().sorted().toList()) {
            for (String adapter : new String[] {"base", ADAPTER}) {
                out.add(Arguments.of(schema, adapter));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("table")
    void every_output_validates_against_its_schema(String name, String adapter) throws Exception {
        String schemaText = SCHEMA_TABLE.get(name);
        ConstraintSpec spec = new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, schemaText);
        Schema validator = SCHEMAS.getSchema(schemaText);
        List<Collector> runs = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        // greedy once, sampled with four seeds, all in one batch
        for (int seed = -1; seed < 4; seed++) {
            runs.add(submit(adapter.equals("base") ? null : adapter, params(400, seed, seed < 0, spec), null));
            labels.add(seed < 0 ? "greedy" : "seed " + seed);
        }
        for (int i = 0; i < runs.size(); i++) {
            Collector c = runs.get(i).await();
            String at = name + " on " + adapter + ", " + labels.get(i) + ": ";
            assertNull(c.error, () -> at + c.error);
            assertEquals(EngineListener.FinishReason.STOP, c.finish, at + "ends at EOS, got " + c.text);
            JsonNode value = JSON.readTree(c.text.toString());
            assertTrue(compact(c.text.toString()), at + "no whitespace outside strings: " + c.text);
            assertEquals(List.of(), validator.validate(value), at + c.text);
        }
    }

    /** Whether {@code json} has no whitespace outside its strings. */
    static boolean compact(String json) {
        boolean inString = false;
        for (int i = 0; i < json.length(); i++) {
            char ch = json.charAt(i);
            if (inString && ch == '\\') {
                i++;
            } else if (ch == '"') {
                inString = !inString;
            } else if (!inString && Character.isWhitespace(ch)) {
                return false;
            }
        }
        return true;
    }

    @Test
    void regex_and_choice_outputs_match() {
        List<Collector> regex = new ArrayList<>();
        List<Collector> choice = new ArrayList<>();
        ConstraintSpec r = new ConstraintSpec(ConstraintSpec.Kind.REGEX, "(\\d{3}-[a-f]{2,4}|N/A)( é)?");
        ConstraintSpec ch = new ConstraintSpec(ConstraintSpec.Kind.CHOICE, "[\"positive\",\"négatif\",\"neutral\"]");
        for (int seed = 0; seed < 6; seed++) {
            regex.add(submit(seed % 2 == 0 ? null : ADAPTER, params(40, seed, seed == 0, r), null));
            choice.add(submit(seed % 2 == 0 ? ADAPTER : null, params(40, seed, seed == 0, ch), null));
        }
        for (Collector c : regex) {
            c.await();
            assertNull(c.error);
            assertEquals(EngineListener.FinishReason.STOP, c.finish);
            assertTrue(c.text.toString().matches("(\\d{3}-[a-f]{2,4}|N/A)( é)?"), c.text.toString());
        }
        for (Collector c : choice) {
            c.await();
            assertNull(c.error);
            assertTrue(List.of("positive", "négatif", "neutral").contains(c.text.toString()), c.text.toString());
        }
    }

    @Test
    void a_mixed_batch_of_constrained_penalised_and_plain_requests_gives_each_the_tokens_it_gets_alone() {
        ConstraintSpec flat = new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, SCHEMA_TABLE.get("flat"));
        ConstraintSpec obj = new ConstraintSpec(ConstraintSpec.Kind.JSON_OBJECT, "");
        List<Object[]> cases = List.of(
                new Object[] {null, params(48, 7, false, flat)},
                new Object[] {ADAPTER, params(48, 8, false, null)},
                new Object[] {ADAPTER, params(48, 9, false, obj)},
                new Object[] {null, params(48, 10, true, null)},
                new Object[] {ADAPTER, params(48, 11, true, flat)},
                new Object[] {ADAPTER, penalised(48, 12, flat)},
                new Object[] {null, penalised(48, 13, null)});
        List<int[]> alone = new ArrayList<>();
        for (Object[] c : cases) {
            Collector x = submit((String) c[0], (SamplingParams) c[1], null).await();
            assertNull(x.error);
            alone.add(x.tokenArray());
        }
        List<Collector> together = new ArrayList<>();
        for (Object[] c : cases) {
            together.add(submit((String) c[0], (SamplingParams) c[1], null));
        }
        for (int i = 0; i < cases.size(); i++) {
            assertArrayEqualsInt(alone.get(i), together.get(i).await().tokenArray(), "case " + i);
        }
    }

    /** Sampled with presence, frequency and repetition penalties, a logit bias and min_tokens. */
    static SamplingParams penalised(int maxTokens, long seed, ConstraintSpec c) {
        return new SamplingParams(maxTokens, 1f, 1f, -1, seed, List.of(), -1, false, 0.8f, 0.5f, 1.3f,
                java.util.Map.of(5, 3.0f, 40, -2.0f), 4, List.of(), true, -1, c);
    }

    static void assertArrayEqualsInt(int[] expected, int[] actual, String what) {
        assertEquals(Arrays.toString(expected), Arrays.toString(actual), what);
    }

    @Test
    void resuming_after_k_delivered_tokens_continues_identically() {
        ConstraintSpec nested = new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, SCHEMA_TABLE.get("nested"));
        SamplingParams p = params(400, 5, false, nested);
        Collector full = submit(ADAPTER, p, null).await();
        assertNull(full.error);
        int[] all = full.tokenArray();
        assertTrue(all.length > 6);
        for (int k : new int[] {1, 3, all.length / 2, all.length - 1}) {
            Collector resumed = submit(ADAPTER, p, Arrays.copyOf(all, k)).await();
            assertNull(resumed.error, () -> "resume at " + k + ": " + resumed.error);
            assertArrayEqualsInt(Arrays.copyOfRange(all, k, all.length), resumed.tokenArray(), "resume at " + k);
            assertEquals(full.finish, resumed.finish);
        }
    }

    @Test
    void resume_tokens_that_break_the_constraint_fail_the_request() {
        ConstraintSpec obj = new ConstraintSpec(ConstraintSpec.Kind.JSON_OBJECT, "");
        Collector c = submit(null, params(40, 1, false, obj), tokenizer.encode("x", false)).await();
        assertNotNull(c.error);
        assertEquals(EngineError.Kind.INVALID_REQUEST, c.error.kind());
    }

    @Test
    void max_tokens_cutting_the_value_off_finishes_with_length() {
        ConstraintSpec flat = new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, SCHEMA_TABLE.get("flat"));
        Collector c = submit(null, params(3, 2, false, flat), null).await();
        assertNull(c.error);
        assertEquals(EngineListener.FinishReason.LENGTH, c.finish);
        assertTrue(c.text.toString().startsWith("{"), c.text.toString());
    }

    @Test
    void an_unsupported_spec_fails_that_request_alone_naming_the_keyword() {
        ConstraintSpec bad = new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, "{\"type\":\"string\",\"format\":\"uri\"}");
        Collector other = submit(null, params(8, 1, false, null), null);
        Collector c = submit(null, params(8, 1, false, bad), null).await();
        assertNotNull(c.error);
        assertEquals(EngineError.Kind.INVALID_REQUEST, c.error.kind());
        assertTrue(c.error.message().contains("'format'"), c.error.message());
        assertNull(other.await().error);
    }
}
