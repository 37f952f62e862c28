package dev.quiver.gpu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelMaker;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Weights are memory-mapped, so a model bigger than the JVM heap loads and generates. */
class LargerThanHeapTest {
    @Test
    void generates_from_a_model_larger_than_the_heap(@TempDir Path dir) throws Exception {
        ModelMaker.Shape shape = new ModelMaker.Shape(512, 1536, 8, 8, 8, 4096, 256, false, false);
        ModelMaker.writeModel(dir, shape, DType.F32, 3, 1, 2);
        long weights = Files.size(dir.resolve("model.safetensors"));
        int heapMb = 64;
        assertTrue(weights > 1.5 * heapMb * (1 << 20), "model of " + weights + " bytes must exceed the heap");
        Files.writeString(dir.resolve("in.jsonl"), "{\"id\":\"1\",\"prompt_ids\":[1,5,9],\"max_tokens\":3,\"temperature\":0}\n");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "-Xmx" + heapMb + "m", "--add-modules", "jdk.incubator.vector",
                "-Dquiver.engine.kv-cache-memory=2MiB", "-Dquiver.engine.threads=1",
                "-cp", System.getProperty("java.class.path"), EngineCli.class.getName(), "generate",
                "--model", dir.toString(), "--input", dir.resolve("in.jsonl").toString(),
                "--output", dir.resolve("out.jsonl").toString()))
                .redirectErrorStream(true).redirectOutput(dir.resolve("log.txt").toFile()).start();
        try {
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "generation finished");
        } finally {
            p.destroyForcibly();
        }
        String log = Files.readString(dir.resolve("log.txt"), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), log);
        String out = Files.readString(dir.resolve("out.jsonl"));
        assertTrue(out.contains("\"finish_reason\":\"length\"") && out.contains("\"completion_tokens\":3"), out);
        assertTrue(!log.contains("OutOfMemoryError"), log);
        assertTrue(new File(dir.toFile(), "out.jsonl").length() > 0);
    }
}
