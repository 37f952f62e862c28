package dev.quiver.sources;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FileSetTest {

    @Test
    void a_model_takes_config_tokenizer_templates_and_safetensors_only() {
        for (String f : new String[] {"config.json", "tokenizer.json", "tokenizer_config.json",
                "generation_config.json", "chat_template.jinja", "model-00001-of-00002.safetensors",
                "model.safetensors.index.json"}) {
            assertTrue(FileSet.MODEL.wants(f), f);
        }
        for (String f : new String[] {"pytorch_model.bin", "model.pt", "consolidated.pth", "README.md",
                "original/model.safetensors", "training_args.bin", "optimizer.pkl"}) {
            assertFalse(FileSet.MODEL.wants(f), f);
        }
    }

    @Test
    void an_adapter_takes_its_config_and_safetensors_weights_only() {
        assertTrue(FileSet.ADAPTER.wants("adapter_config.json"));
        assertTrue(FileSet.ADAPTER.wants("adapter_model.safetensors"));
        assertFalse(FileSet.ADAPTER.wants("adapter_model.bin"));
        assertFalse(FileSet.ADAPTER.wants("model.safetensors"));
        assertFalse(FileSet.ADAPTER.wants("config.json"));
    }
}
