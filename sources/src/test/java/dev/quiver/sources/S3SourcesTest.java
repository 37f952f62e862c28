package dev.quiver.sources;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/** s3:// sources through the AWS SDK against Adobe S3Mock, a real S3-protocol server started as a child JVM. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class S3SourcesTest {
    @TempDir
    static Path tmp;
    S3MockServer s3mock;
    FaultProxy proxy;
    S3Client admin;
    final byte[] adapterWeights = HubSourcesTest.random(400_000, 31);
    final byte[] modelWeights = HubSourcesTest.random(600_000, 32);
    int cacheCounter;

    @BeforeAll
    void start() throws Exception {
        s3mock = S3MockServer.start(tmp.resolve("s3mock-root"));
        proxy = new FaultProxy(s3mock.endpoint().getPort());
        admin = S3Client.builder().region(Region.US_EAST_1).endpointOverride(s3mock.endpoint()).forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("test", "test")))
                .httpClient(UrlConnectionHttpClient.create()).build();
        admin.createBucket(b -> b.bucket("quiver-models"));
        put("adapters/sql/adapter_config.json", "{\"r\":8}".getBytes());
        put("adapters/sql/adapter_model.safetensors", adapterWeights);
        put("adapters/sql/adapter_model.bin", new byte[] {1, 2, 3});
        put("adapters/sql/nested/adapter_model.safetensors", new byte[] {4});
        put("adapters/pickled/adapter_config.json", "{}".getBytes());
        put("adapters/pickled/adapter_model.bin", new byte[] {5});
        put("models/tiny/config.json", "{\"model_type\":\"llama\"}".getBytes());
        put("models/tiny/tokenizer.json", "{}".getBytes());
        put("models/tiny/model.safetensors", modelWeights);
        put("models/tiny/pytorch_model.bin", new byte[] {6});
    }

    @AfterAll
    void stop() throws IOException {
        if (admin != null) {
            admin.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        if (s3mock != null) {
            s3mock.close();
        }
    }

    private void put(String key, byte[] bytes) {
        admin.putObject(b -> b.bucket("quiver-models").key(key), RequestBody.fromBytes(bytes));
    }

    /** Sources pointed at S3Mock through the fault proxy, with a cache of its own unless {@code cache} is given. */
    private Sources sources(Path cache) {
        SourcesSettings.S3 s3 = new SourcesSettings.S3("", proxy.endpoint(), true, "test", "test");
        return Sources.create(SourcesSettings.of(cache != null ? cache : tmp.resolve("cache-" + (cacheCounter++)),
                        java.net.URI.create("http://localhost:1")).withS3(s3).withRetries(3)
                .withProgress(SourcesSettings.Progress.OFF, Duration.ofSeconds(5)));
    }

    @Test
    void fetches_an_adapters_two_files_from_a_prefix_and_nothing_else() throws IOException {
        proxy.requests.clear();
        Fetched f = sources(null).fetch("s3://quiver-models/adapters/sql", FileSet.ADAPTER);
        assertEquals(List.of("adapter_config.json", "adapter_model.safetensors"), f.files());
        assertArrayEquals(adapterWeights, Files.readAllBytes(f.dir().resolve("adapter_model.safetensors")));
        assertTrue(proxy.requests.stream().noneMatch(r -> r.contains("adapter_model.bin")
                || r.contains("nested")), "pickle and nested objects are never requested");
    }

    @Test
    void fetches_a_models_serving_files_from_a_prefix() throws IOException {
        Fetched f = sources(null).fetch("s3://quiver-models/models/tiny/", FileSet.MODEL);
        assertEquals(List.of("config.json", "model.safetensors", "tokenizer.json"), f.files());
        assertArrayEquals(modelWeights, Files.readAllBytes(f.dir().resolve("model.safetensors")));
    }

    @Test
    void unchanged_objects_fetched_again_download_nothing() {
        Path cache = tmp.resolve("shared-cache");
        Fetched first = sources(cache).fetch("s3://quiver-models/adapters/sql", FileSet.ADAPTER);
        assertTrue(first.downloadedBytes() >= adapterWeights.length);
        Fetched second = sources(cache).fetch("s3://quiver-models/adapters/sql", FileSet.ADAPTER);
        assertEquals(0, second.downloadedBytes());
        assertEquals(first.dir(), second.dir());
    }

    @Test
    void resumes_a_dropped_download_with_a_ranged_get() throws IOException {
        proxy.requests.clear();
        proxy.dropAfterBytes = 200_000;
        proxy.drops.set(1);
        try {
            Fetched f = sources(null).fetch("s3://quiver-models/models/tiny", FileSet.MODEL);
            assertArrayEquals(modelWeights, Files.readAllBytes(f.dir().resolve("model.safetensors")));
        } finally {
            proxy.dropAfterBytes = -1;
        }
        assertEquals(0, proxy.drops.get(), "the connection was cut once");
        assertTrue(proxy.requests.stream().anyMatch(r -> r.toLowerCase(Locale.ROOT).contains("range: bytes=")),
                "the retry asked for the rest only");
        assertTrue(f(proxy.requests).stream().noneMatch(r -> r.contains("range: bytes=0-")), "not from byte 0");
    }

    private static List<String> f(List<String> requests) {
        return requests.stream().map(r -> r.toLowerCase(Locale.ROOT)).toList();
    }

    @Test
    void a_missing_bucket_is_no_such_bucket_and_a_pickle_only_adapter_is_refused() {
        SourceException e = assertThrows(SourceException.class, () -> sources(null)
                .fetch("s3://no-such-bucket/x", FileSet.ADAPTER));
        assertEquals(SourceException.Kind.NOT_FOUND, e.kind(), e.getMessage());
        SourceException p = assertThrows(SourceException.class, () -> sources(null)
                .fetch("s3://quiver-models/adapters/pickled", FileSet.ADAPTER));
        assertEquals(SourceException.Kind.NOT_FOUND, p.kind());
        assertTrue(p.getMessage().contains("adapter_model.safetensors") && p.getMessage().contains("never fetched"),
                p.getMessage());
    }

    @Test
    void offline_mode_serves_a_fetched_prefix_from_the_cache() {
        Path cache = tmp.resolve("offline-cache");
        sources(cache).fetch("s3://quiver-models/adapters/sql", FileSet.ADAPTER);
        proxy.requests.clear();
        SourcesSettings off = sources(cache).settings().withOffline(true);
        Fetched f = Sources.create(off).fetch("s3://quiver-models/adapters/sql", FileSet.ADAPTER);
        assertEquals(2, f.files().size());
        assertEquals(List.of(), proxy.requests, "offline makes no request");
        assertNull(f.commit());
        assertEquals(SourceException.Kind.OFFLINE_MISS, assertThrows(SourceException.class, () -> Sources.create(off)
                .fetch("s3://quiver-models/models/tiny", FileSet.MODEL)).kind());
    }
}
