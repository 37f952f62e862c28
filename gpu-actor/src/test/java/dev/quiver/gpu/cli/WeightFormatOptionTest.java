package dev.quiver.gpu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.model.WeightFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code quiver generate --weight-format}: the allowed values, and a usage error naming the option otherwise. */
class WeightFormatOptionTest {
    @Test
    void accepts_native_and_q8_0_in_any_case() {
        assertEquals(WeightFormat.Q8_0, GenerateCommand.weightFormat("q8_0"));
        assertEquals(WeightFormat.Q8_0, GenerateCommand.weightFormat("Q8_0"));
        assertEquals(WeightFormat.NATIVE, GenerateCommand.weightFormat("native"));
    }

    @Test
    void refuses_an_unknown_weight_format_naming_the_option_and_the_allowed_values() {
        CliException e = assertThrows(CliException.class, () -> GenerateCommand.weightFormat("q4_0"));
        assertTrue(e.getMessage().contains("--weight-format") && e.getMessage().contains("q4_0")
                && e.getMessage().contains("native, q8_0"), e.getMessage());
    }

    /** With a readable input and no model, an accepted format would fail later loading the model (status 1). */
    @Test
    void generate_exits_with_usage_status_2_for_an_unknown_weight_format(@TempDir Path dir) throws Exception {
        Path in = Files.writeString(dir.resolve("in.jsonl"), "{\"id\":\"a\",\"prompt_ids\":[1,2]}\n");
        List<String> args = List.of("generate", "--model", dir.resolve("no-model").toString(), "--input", in.toString(),
                "--output", dir.resolve("out.jsonl").toString(), "--weight-format");
        assertEquals(2, EngineCli.run(concat(args, "int4")));
        assertEquals(1, EngineCli.run(concat(args, "q8_0")), "an accepted format gets as far as loading the model");
    }

    private static List<String> concat(List<String> args, String last) {
        List<String> all = new java.util.ArrayList<>(args);
        all.add(last);
        return all;
    }
}
