package dev.quiver.gpu.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

/** {@code quiver.engine.max-cpu-lora-memory}: auto or a size, read from config; nonsense refused naming the key. */
class HostCopyBudgetSettingsTest {
    static EngineSettings fromConfig(String value) {
        return EngineSettings.fromConfig(ConfigFactory.parseString("quiver.engine.max-cpu-lora-memory = " + value)
                .withFallback(ConfigFactory.defaultReference()));
    }

    @Test
    void auto_is_a_quarter_of_the_maximum_heap_and_the_default() {
        long quarter = Runtime.getRuntime().maxMemory() / 4;
        assertEquals(EngineSettings.AUTO_CPU_LORA_MEMORY, EngineSettings.defaults().maxCpuLoraMemory());
        assertEquals(quarter, EngineSettings.defaults().hostCopyBudget());
        assertEquals(quarter, fromConfig("auto").hostCopyBudget());
    }

    @Test
    void a_size_is_read_in_bytes_and_kept_by_every_with_method() {
        EngineSettings s = fromConfig("3GiB");
        assertEquals(3L << 30, s.hostCopyBudget());
        assertEquals(3L << 30, s.withLoras(4, 16).withThreads(1).withBatch(8, 64).withKvCacheBytes(1 << 20)
                .withMinSlotSteps(2).withMaxWaiting(3).withWeightsInHeap(false).hostCopyBudget());
        assertEquals(1234, s.withCpuLoraMemory(1234).hostCopyBudget());
    }

    @Test
    void zero_or_a_word_other_than_auto_is_refused_naming_the_key() {
        ConfigException zero = assertThrows(ConfigException.class, () -> fromConfig("0"));
        assertTrue(zero.getMessage().contains("quiver.engine.max-cpu-lora-memory"), zero.getMessage());
        ConfigException word = assertThrows(ConfigException.class, () -> fromConfig("lots"));
        assertTrue(word.getMessage().contains("max-cpu-lora-memory"), word.getMessage());
        assertThrows(IllegalArgumentException.class, () -> EngineSettings.defaults().withCpuLoraMemory(0));
    }
}
