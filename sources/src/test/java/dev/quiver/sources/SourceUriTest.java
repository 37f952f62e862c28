package dev.quiver.sources;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class SourceUriTest {

    @Test
    void parses_hub_repo_with_default_revision_main() {
        SourceUri.Hub h = (SourceUri.Hub) SourceUri.parse("hf://my-org/sql-lora");
        assertEquals("my-org/sql-lora", h.repo());
        assertEquals("main", h.revision());
        assertEquals("", h.subdir());
        assertFalse(h.pinned());
        assertTrue(h.remote());
    }

    @Test
    void parses_hub_revision_and_subdirectory() {
        SourceUri.Hub h = (SourceUri.Hub) SourceUri.parse("hf://Org_1/Repo.v2@v1.0/adapters/sql/");
        assertEquals("Org_1/Repo.v2", h.repo());
        assertEquals("v1.0", h.revision());
        assertEquals("adapters/sql", h.subdir());
        assertEquals("hf://Org_1/Repo.v2@v1.0/adapters/sql", h.canonical());
    }

    @Test
    void a_forty_hex_digit_revision_is_pinned() {
        SourceUri.Hub h = (SourceUri.Hub) SourceUri.parse("hf://o/r@" + "a".repeat(40));
        assertTrue(h.pinned());
    }

    @Test
    void parses_s3_bucket_and_prefix_with_a_trailing_slash() {
        SourceUri.S3 s = (SourceUri.S3) SourceUri.parse("s3://my-bucket/adapters/sql");
        assertEquals("my-bucket", s.bucket());
        assertEquals("adapters/sql/", s.prefix());
    }

    @Test
    void parses_file_uris_and_plain_paths_as_local() {
        assertEquals(Path.of("/srv/models/llama"), ((SourceUri.Local) SourceUri.parse("file:///srv/models/llama")).path());
        assertEquals(Path.of("models/llama"), ((SourceUri.Local) SourceUri.parse("models/llama")).path());
        assertFalse(SourceUri.parse("/abs/dir").remote());
    }

    @Test
    void refuses_unknown_scheme_naming_it() {
        SourceException e = assertThrows(SourceException.class, () -> SourceUri.parse("gs://bucket/x"));
        assertEquals(SourceException.Kind.INVALID, e.kind());
        assertTrue(e.getMessage().contains("gs://"), e.getMessage());
    }

    @Test
    void refuses_hub_uri_without_a_repo_name() {
        SourceException e = assertThrows(SourceException.class, () -> SourceUri.parse("hf://just-an-org"));
        assertTrue(e.getMessage().contains("hf://ORG/REPO"), e.getMessage());
    }

    @Test
    void refuses_invalid_hub_names_empty_revisions_and_dot_dot_subdirectories() {
        for (String bad : new String[] {"hf://-org/repo", "hf://org/re po", "hf://org/repo@", "hf://org/repo/../x",
                "hf://org/repo@a..b", "hf://org/repo/sub@rev", ""}) {
            SourceException e = assertThrows(SourceException.class, () -> SourceUri.parse(bad), bad);
            assertEquals(SourceException.Kind.INVALID, e.kind(), bad);
        }
    }

    @Test
    void refuses_invalid_s3_bucket_names() {
        SourceException e = assertThrows(SourceException.class, () -> SourceUri.parse("s3://Bad_Bucket/x"));
        assertTrue(e.getMessage().contains("bucket"), e.getMessage());
        assertThrows(SourceException.class, () -> SourceUri.parse("s3://bucket/a/../b"));
    }

    @Test
    void refuses_file_uris_that_name_a_remote_host() {
        SourceException e = assertThrows(SourceException.class, () -> SourceUri.parse("file://server/share/x"));
        assertTrue(e.getMessage().contains("server"), e.getMessage());
    }
}
