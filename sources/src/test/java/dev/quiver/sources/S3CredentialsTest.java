package dev.quiver.sources;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * s3:// credentials against S3Proxy, an S3 server that verifies every request's signature: the right key and secret
 * fetch the adapter; a wrong secret or an unknown key is a clear UNAUTHORIZED error that names the S3 error code and
 * says where credentials come from, never the secret.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class S3CredentialsTest {
    static final String KEY = "quiver-test-key";
    static final String SECRET = "quiver-test-secret-0123456789";

    @TempDir
    static Path tmp;
    S3ProxyServer server;
    final byte[] weights = HubSourcesTest.random(150_000, 41);
    int caches;

    @BeforeAll
    void start() throws Exception {
        server = S3ProxyServer.start(tmp.resolve("s3proxy"), KEY, SECRET);
        try (S3Client admin = S3Client.builder().region(Region.US_EAST_1).endpointOverride(server.endpoint())
                .forcePathStyle(true).requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(KEY, SECRET)))
                .httpClient(UrlConnectionHttpClient.create()).build()) {
            admin.createBucket(b -> b.bucket("private-adapters"));
            admin.putObject(b -> b.bucket("private-adapters").key("sql/adapter_config.json"),
                    RequestBody.fromBytes("{\"r\":8}".getBytes()));
            admin.putObject(b -> b.bucket("private-adapters").key("sql/adapter_model.safetensors"),
                    RequestBody.fromBytes(weights));
        }
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    Sources sources(String key, String secret) {
        SourcesSettings.S3 s3 = new SourcesSettings.S3("", server.endpoint(), true, key, secret);
        return Sources.create(SourcesSettings.of(tmp.resolve("cache-" + caches++), URI.create("http://localhost:1"))
                .withS3(s3).withRetries(1).withProgress(SourcesSettings.Progress.OFF, Duration.ofSeconds(5)));
    }

    @Test
    void the_right_key_and_secret_fetch_the_adapter() throws IOException {
        Fetched f = sources(KEY, SECRET).fetch("s3://private-adapters/sql", FileSet.ADAPTER);
        assertArrayEquals(weights, Files.readAllBytes(f.dir().resolve("adapter_model.safetensors")));
    }

    @Test
    void a_wrong_secret_is_refused_naming_the_signature_mismatch_and_where_credentials_come_from() {
        SourceException e = assertThrows(SourceException.class, () -> sources(KEY, "not-the-secret-at-all")
                .fetch("s3://private-adapters/sql", FileSet.ADAPTER));
        assertEquals(SourceException.Kind.UNAUTHORIZED, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains("s3://private-adapters/sql") && e.getMessage().contains("refused")
                && e.getMessage().contains("SignatureDoesNotMatch") && e.getMessage().contains("AWS_ACCESS_KEY_ID"),
                e.getMessage());
        assertFalse(e.getMessage().contains("not-the-secret-at-all"), "the secret is never in a message");
    }

    @Test
    void an_unknown_access_key_is_refused_naming_it_as_such() {
        SourceException e = assertThrows(SourceException.class, () -> sources("nobody-key", SECRET)
                .fetch("s3://private-adapters/sql", FileSet.ADAPTER));
        assertEquals(SourceException.Kind.UNAUTHORIZED, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains("InvalidAccessKeyId") && e.getMessage().contains("check the credentials"),
                e.getMessage());
        assertFalse(e.getMessage().contains(SECRET), "the secret is never in a message");
    }
}
