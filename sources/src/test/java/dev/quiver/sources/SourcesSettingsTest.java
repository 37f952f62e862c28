package dev.quiver.sources;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.URI;
import org.junit.jupiter.api.Test;

class SourcesSettingsTest {

    private static Config with(String hocon) {
        return ConfigFactory.parseString(hocon).withFallback(ConfigFactory.defaultReference()).resolve();
    }

    @Test
    void defaults_point_at_the_public_hub_online_without_a_token() {
        SourcesSettings s = SourcesSettings.fromConfig(ConfigFactory.parseString(
                "quiver.sources { offline = \"false\", hf.endpoint = \"https://huggingface.co\", hf.token = \"\" }")
                .withFallback(ConfigFactory.defaultReference()).resolve());
        assertEquals(URI.create("https://huggingface.co"), s.hfEndpoint());
        assertFalse(s.offline());
        assertEquals("", s.hfToken());
    }

    @Test
    void hf_hub_offline_1_means_offline_as_in_the_hugging_face_tools() {
        assertTrue(SourcesSettings.fromConfig(with("quiver.sources.offline = \"1\"")).offline());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SourcesSettings.fromConfig(with("quiver.sources.offline = \"maybe\"")));
        assertTrue(e.getMessage().contains("quiver.sources.offline"), e.getMessage());
    }

    @Test
    void a_mirror_endpoint_loses_its_trailing_slash_and_a_non_http_one_is_refused() {
        assertEquals(URI.create("http://mirror.local:8080"), SourcesSettings.fromConfig(
                with("quiver.sources.hf.endpoint = \"http://mirror.local:8080/\"")).hfEndpoint());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SourcesSettings.fromConfig(with("quiver.sources.hf.endpoint = \"ftp://x\"")));
        assertTrue(e.getMessage().contains("quiver.sources.hf.endpoint"), e.getMessage());
    }

    @Test
    void the_token_is_never_printed() {
        SourcesSettings s = SourcesSettings.fromConfig(with("quiver.sources.hf.token = \"hf_abcdef\""));
        assertEquals("hf_abcdef", s.hfToken());
        assertFalse(s.toString().contains("hf_abcdef"), s.toString());
    }
}
