package dev.quiver.sources;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Hub client against {@link TestHub} over real sockets. */
class HubSourcesTest {
    @TempDir
    Path tmp;
    TestHub hub;
    SourcesSettings settings;

    @BeforeEach
    void start() throws IOException {
        hub = new TestHub();
        settings = SourcesSettings.of(tmp.resolve("cache"), hub.endpoint()).withRetries(3)
                .withProgress(SourcesSettings.Progress.OFF, Duration.ofSeconds(5));
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private Map<String, byte[]> modelRepo(long seed) {
        return TestHub.files("config.json", "{\"model_type\":\"llama\",\"seed\":" + seed + "}",
                "tokenizer.json", "{\"model\":{}}", "generation_config.json", "{}",
                "model.safetensors", random(300_000, seed), "pytorch_model.bin", random(1000, 9),
                "original/consolidated.pth", random(1000, 10), "README.md", "# model");
    }

    @Test
    void fetches_only_serving_files_verified_and_pinned_to_the_commit() throws IOException {
        Map<String, byte[]> files = modelRepo(1);
        String commit = hub.push("org/model", "main", files);
        Fetched f = Sources.create(settings).fetch("hf://org/model", FileSet.MODEL);
        assertEquals(commit, f.commit());
        assertEquals(List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json"),
                f.files());
        for (String name : f.files()) {
            assertArrayEquals(files.get(name), Files.readAllBytes(f.dir().resolve(name)), name);
        }
        try (Stream<Path> s = Files.list(f.dir())) {
            assertEquals(4, s.count());
        }
        assertTrue(hub.seen.stream().noneMatch(s -> s.path().endsWith(".bin") || s.path().endsWith(".pth")
                || s.path().endsWith("README.md")), "pickle and other files are never requested");
        assertTrue(f.describe().contains("@" + commit), f.describe());
    }

    @Test
    void resumes_a_dropped_download_with_a_range_request() throws IOException {
        Map<String, byte[]> files = modelRepo(2);
        hub.push("org/model", "main", files);
        hub.dropAfterBytes = 100_000;
        hub.dropTimes.set(1);
        Fetched f = Sources.create(settings).fetch("hf://org/model", FileSet.MODEL);
        assertArrayEquals(files.get("model.safetensors"), Files.readAllBytes(f.dir().resolve("model.safetensors")));
        List<TestHub.Seen> cdn = hub.seen.stream().filter(s -> s.path().startsWith("/cdn/")).toList();
        assertEquals(2, cdn.size(), "one dropped download and one resumed: " + cdn);
        assertNull(cdn.get(0).range());
        assertTrue(cdn.get(1).range().startsWith("bytes="), cdn.get(1).range());
        long from = Long.parseLong(cdn.get(1).range().substring(6, cdn.get(1).range().length() - 1));
        assertTrue(from > 0 && from <= 100_000, "resumed where it stopped, not from 0: " + from);
    }

    @Test
    void a_body_that_stalls_mid_file_is_closed_after_the_read_timeout_and_resumed_with_a_range_request()
            throws IOException {
        Map<String, byte[]> files = modelRepo(17);
        hub.push("org/model", "main", files);
        hub.stallAfterBytes = 120_000;
        hub.stallTimes.set(1);
        long t0 = System.nanoTime();
        Fetched f = Sources.create(settings.withReadTimeout(Duration.ofMillis(500))).fetch("hf://org/model",
                FileSet.MODEL);
        long tookMs = (System.nanoTime() - t0) / 1_000_000;
        assertArrayEquals(files.get("model.safetensors"), Files.readAllBytes(f.dir().resolve("model.safetensors")));
        assertTrue(tookMs < 30_000, "the stalled connection was given up after the read timeout, not the Hub's "
                + "60 s stall: " + tookMs + " ms");
        List<TestHub.Seen> cdn = hub.seen.stream().filter(s -> s.path().startsWith("/cdn/")).toList();
        assertEquals(2, cdn.size(), "one stalled download and one resumed: " + cdn);
        assertNull(cdn.get(0).range());
        long from = Long.parseLong(cdn.get(1).range().substring(6, cdn.get(1).range().length() - 1));
        assertTrue(from > 0 && from <= 120_000, "resumed where it stalled, not from 0: " + from);
    }

    @Test
    void a_partial_file_left_by_an_earlier_process_is_resumed() throws IOException {
        Map<String, byte[]> files = modelRepo(3);
        hub.push("org/model", "main", files);
        hub.dropAfterBytes = 50_000;
        hub.dropTimes.set(100);
        assertThrows(SourceException.class, () -> Sources.create(settings.withRetries(0))
                .fetch("hf://org/model", FileSet.MODEL));
        hub.dropTimes.set(0);
        hub.forget();
        Fetched f = Sources.create(settings).fetch("hf://org/model", FileSet.MODEL);
        assertArrayEquals(files.get("model.safetensors"), Files.readAllBytes(f.dir().resolve("model.safetensors")));
        TestHub.Seen cdn = hub.seen.stream().filter(s -> s.path().startsWith("/cdn/")).findFirst().orElseThrow();
        assertEquals("bytes=50000-", cdn.range());
        assertEquals(300_000 - 50_000 + files.get("config.json").length + files.get("tokenizer.json").length
                + files.get("generation_config.json").length, f.downloadedBytes());
    }

    @Test
    void refuses_a_corrupt_file_naming_it_and_keeps_nothing() throws IOException {
        hub.push("org/model", "main", modelRepo(4));
        hub.corruptTimes.set(100);
        SourceException e = assertThrows(SourceException.class, () -> Sources.create(settings)
                .fetch("hf://org/model", FileSet.MODEL));
        assertEquals(SourceException.Kind.CORRUPT, e.kind());
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("sha256"),
                e.getMessage());
        try (Stream<Path> s = Files.list(settings.cacheDir().resolve("blobs"))) {
            for (Path b : s.toList()) {
                assertEquals(b.getFileName().toString(), TestHub.sha256Hex(Files.readAllBytes(b)),
                        "every blob holds the bytes its name says");
            }
        }
        try (Stream<Path> s = Files.list(settings.cacheDir().resolve("partial"))) {
            assertEquals(0, s.count(), "the corrupt bytes are not kept for resuming");
        }
        try (Stream<Path> s = Files.list(settings.cacheDir().resolve("manifests"))) {
            assertEquals(0, s.count(), "no snapshot is recorded as complete");
        }
    }

    @Test
    void fetches_a_file_again_after_one_corrupt_download() throws IOException {
        Map<String, byte[]> files = modelRepo(5);
        hub.push("org/model", "main", files);
        hub.corruptTimes.set(1);
        Fetched f = Sources.create(settings).fetch("hf://org/model", FileSet.MODEL);
        assertArrayEquals(files.get("model.safetensors"), Files.readAllBytes(f.dir().resolve("model.safetensors")));
    }

    @Test
    void a_pinned_commit_fetched_twice_downloads_nothing_the_second_time() {
        String commit = hub.push("org/model", "main", modelRepo(6));
        Sources sources = Sources.create(settings);
        Fetched first = sources.fetch("hf://org/model@" + commit, FileSet.MODEL);
        assertTrue(first.downloadedBytes() > 300_000);
        hub.forget();
        Fetched second = Sources.create(settings).fetch("hf://org/model@" + commit, FileSet.MODEL);
        assertEquals(0, second.downloadedBytes());
        assertEquals(List.of(), hub.seen, "no request at all for a pinned commit in the cache");
        assertEquals(first.dir(), second.dir());
    }

    @Test
    void a_branch_resolves_to_its_commit_and_an_older_commit_stays_reachable() throws IOException {
        Map<String, byte[]> v1 = modelRepo(7);
        Map<String, byte[]> v2 = modelRepo(8);
        String c1 = hub.push("org/model", "main", v1);
        Sources sources = Sources.create(settings);
        assertEquals(c1, sources.fetch("hf://org/model", FileSet.MODEL).commit());
        String c2 = hub.push("org/model", "main", v2);
        Fetched latest = sources.fetch("hf://org/model@main", FileSet.MODEL);
        assertEquals(c2, latest.commit());
        assertArrayEquals(v2.get("model.safetensors"), Files.readAllBytes(latest.dir().resolve("model.safetensors")));
        Fetched pinned = sources.fetch("hf://org/model@" + c1, FileSet.MODEL);
        assertArrayEquals(v1.get("model.safetensors"), Files.readAllBytes(pinned.dir().resolve("model.safetensors")));
        assertNotEquals(latest.dir(), pinned.dir());
    }

    @Test
    void a_blob_already_cached_under_another_commit_is_not_downloaded_again() {
        Map<String, byte[]> v1 = modelRepo(9);
        hub.push("org/model", "main", v1);
        Sources sources = Sources.create(settings);
        sources.fetch("hf://org/model", FileSet.MODEL);
        Map<String, byte[]> v2 = new java.util.LinkedHashMap<>(v1);
        v2.put("config.json", "{\"model_type\":\"llama\",\"changed\":true}".getBytes());
        hub.push("org/model", "main", v2);
        hub.forget();
        Fetched f = sources.fetch("hf://org/model", FileSet.MODEL);
        assertTrue(hub.seen.stream().noneMatch(s -> s.path().startsWith("/cdn/")), "weights came from the cache");
        assertTrue(f.downloadedBytes() < 1000, "only the small changed files: " + f.downloadedBytes());
    }

    @Test
    void offline_mode_serves_from_the_cache_and_refuses_what_it_lacks() {
        hub.push("org/model", "main", modelRepo(10));
        Fetched online = Sources.create(settings).fetch("hf://org/model", FileSet.MODEL);
        hub.forget();
        Sources offline = Sources.create(settings.withOffline(true));
        Fetched f = offline.fetch("hf://org/model", FileSet.MODEL);
        assertEquals(online.commit(), f.commit());
        assertEquals(List.of(), hub.seen, "offline makes no request");
        hub.push("org/other", "main", modelRepo(11));
        SourceException e = assertThrows(SourceException.class, () -> offline.fetch("hf://org/other",
                FileSet.MODEL));
        assertEquals(SourceException.Kind.OFFLINE_MISS, e.kind());
        assertTrue(e.getMessage().contains("HF_HUB_OFFLINE") && e.getMessage().contains("org/other"),
                e.getMessage());
    }

    @Test
    void a_gated_repo_without_a_token_says_to_accept_the_licence_or_set_hf_token() {
        hub.push("org/gated", "main", modelRepo(12));
        hub.gate("org/gated", "hf_secret_token");
        SourceException e = assertThrows(SourceException.class, () -> Sources.create(settings)
                .fetch("hf://org/gated", FileSet.MODEL));
        assertEquals(SourceException.Kind.UNAUTHORIZED, e.kind());
        assertTrue(e.getMessage().contains("gated or private") && e.getMessage().contains("HF_TOKEN")
                && e.getMessage().contains("licence"), e.getMessage());
        SourceException wrong = assertThrows(SourceException.class, () -> Sources.create(
                settings.withToken("hf_wrong")).fetch("hf://org/gated", FileSet.MODEL));
        assertEquals(SourceException.Kind.UNAUTHORIZED, wrong.kind());
        assertFalse(wrong.getMessage().contains("hf_wrong"), "the token is never in a message");
    }

    @Test
    void the_token_goes_to_the_configured_endpoint_and_never_to_a_redirect_target() {
        hub.push("org/gated", "main", modelRepo(13));
        hub.gate("org/gated", "hf_secret_token");
        Sources sources = Sources.create(settings.withToken("hf_secret_token"));
        Fetched f = sources.fetch("hf://org/gated", FileSet.MODEL);
        assertEquals(4, f.files().size());
        List<TestHub.Seen> toHub = hub.seen.stream().filter(s -> s.host().startsWith("localhost:")).toList();
        List<TestHub.Seen> toCdn = hub.seen.stream().filter(s -> s.host().startsWith("127.0.0.1:")).toList();
        assertFalse(toHub.isEmpty());
        assertFalse(toCdn.isEmpty(), "LFS files were redirected to the other host");
        assertTrue(toHub.stream().allMatch(s -> "Bearer hf_secret_token".equals(s.authorization())), toHub.toString());
        assertTrue(toCdn.stream().allMatch(s -> s.authorization() == null), toCdn.toString());
        assertFalse(sources.settings().toString().contains("hf_secret_token"));
    }

    @Test
    void a_missing_repo_revision_or_file_is_no_such_repo_revision_file() {
        hub.push("org/model", "main", modelRepo(14));
        Sources sources = Sources.create(settings);
        for (String uri : new String[] {"hf://org/nothing", "hf://org/model@no-such-branch"}) {
            SourceException e = assertThrows(SourceException.class, () -> sources.fetch(uri, FileSet.MODEL));
            assertEquals(SourceException.Kind.NOT_FOUND, e.kind(), uri);
            assertTrue(e.getMessage().contains("no such repo/revision/file"), e.getMessage());
        }
    }

    @Test
    void an_adapter_fetch_takes_its_two_files_and_refuses_a_pickle_only_adapter() {
        hub.push("org/lora", "main", TestHub.files("adapter_config.json", "{\"r\":8}",
                "adapter_model.safetensors", random(5000, 1), "adapter_model.bin", random(10, 2), "README.md", "x"));
        Fetched f = Sources.create(settings).fetch("hf://org/lora", FileSet.ADAPTER);
        assertEquals(List.of("adapter_config.json", "adapter_model.safetensors"), f.files());
        hub.push("org/pickled", "main", TestHub.files("adapter_config.json", "{}", "adapter_model.bin",
                random(10, 3)));
        SourceException e = assertThrows(SourceException.class, () -> Sources.create(settings)
                .fetch("hf://org/pickled", FileSet.ADAPTER));
        assertEquals(SourceException.Kind.NOT_FOUND, e.kind());
        assertTrue(e.getMessage().contains("adapter_model.safetensors") && e.getMessage().contains("never fetched"),
                e.getMessage());
    }

    @Test
    void a_subdirectory_selects_the_files_under_it() throws IOException {
        byte[] w = random(4000, 4);
        hub.push("org/many", "main", TestHub.files("sql/adapter_config.json", "{\"r\":4}",
                "sql/adapter_model.safetensors", w, "chat/adapter_config.json", "{}",
                "chat/adapter_model.safetensors", random(4000, 5)));
        Fetched f = Sources.create(settings).fetch("hf://org/many/sql", FileSet.ADAPTER);
        assertArrayEquals(w, Files.readAllBytes(f.dir().resolve("adapter_model.safetensors")));
        assertTrue(hub.seen.stream().noneMatch(s -> s.path().contains("chat/")));
    }

    @Test
    void downloads_in_parallel_up_to_the_bound() {
        Map<String, byte[]> files = new java.util.LinkedHashMap<>(TestHub.files("config.json", "{}"));
        for (int i = 0; i < 6; i++) {
            files.put("model-0000" + i + ".safetensors", random(40_000, 20 + i));
        }
        hub.push("org/sharded", "main", files);
        hub.slowBytesPerChunk = 10_000;
        hub.slowChunkMillis = 40;
        Fetched f = Sources.create(settings.withMaxParallel(2)).fetch("hf://org/sharded", FileSet.MODEL);
        assertEquals(7, f.files().size());
        assertEquals(2, hub.maxInFlight.get(), "two at a time, and two did overlap");
    }

    @Test
    void draws_a_bar_per_file_on_a_terminal() {
        hub.push("org/model", "main", modelRepo(16));
        hub.slowBytesPerChunk = 30_000;
        hub.slowChunkMillis = 60;
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (DownloadProgress p = DownloadProgress.toTerminal(new java.io.PrintStream(out, true))) {
            Sources.create(settings).fetch(SourceUri.parse("hf://org/model"), FileSet.MODEL, p);
        }
        String drawn = out.toString();
        assertTrue(drawn.contains("\r\033[2Kmodel.safetensors: ") && drawn.contains("ETA ")
                && drawn.contains("[#"), drawn);
        assertTrue(drawn.contains("downloaded model.safetensors: 293.0 KB in "), drawn);
    }

    @Test
    void reports_progress_in_log_lines_while_a_slow_download_runs() {
        hub.push("org/model", "main", modelRepo(15));
        hub.slowBytesPerChunk = 20_000;
        hub.slowChunkMillis = 50;
        List<String> lines = new CopyOnWriteArrayList<>();
        try (DownloadProgress p = DownloadProgress.toLog(lines::add, Duration.ofMillis(100))) {
            Sources.create(settings).fetch(SourceUri.parse("hf://org/model"), FileSet.MODEL, p);
        }
        assertTrue(lines.stream().filter(l -> l.startsWith("downloading model.safetensors: ")
                && l.contains("/ 293.0 KB (") && l.contains("/s")).count() >= 3, lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("downloaded model.safetensors: 293.0 KB in ")),
                lines.toString());
    }
}
