package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.USER_A;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.sources.S3MockServer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A node whose base model and an adapter come from S3 (Adobe S3Mock, a real S3-protocol server, as a child JVM):
 * {@code quiver.node.model-dir = "s3://..."} with the endpoint override and path style MinIO needs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class S3SourcedNodeTest {
    S3MockServer s3mock;
    QuiverNode node;
    Client client;

    @BeforeAll
    void start() throws Exception {
        Path scratch = TestNodes.scratch().resolve("s3-node-" + System.nanoTime());
        s3mock = S3MockServer.start(scratch.resolve("s3mock-root"),
                Path.of("../sources/target/s3mock/s3mock.jar").toAbsolutePath().normalize());
        Path model = TestNodes.model();
        try (S3Client s3 = S3Client.builder().region(Region.US_EAST_1).endpointOverride(s3mock.endpoint())
                .forcePathStyle(true).httpClient(UrlConnectionHttpClient.create())
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("k", "s"))).build()) {
            s3.createBucket(b -> b.bucket("team-models"));
            for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json",
                    "tokenizer_config.json", "generation_config.json"}) {
                s3.putObject(b -> b.bucket("team-models").key("base/demo-s3/" + f),
                        RequestBody.fromBytes(Files.readAllBytes(model.resolve(f))));
            }
            for (String f : new String[] {"adapter_config.json", "adapter_model.safetensors"}) {
                s3.putObject(b -> b.bucket("team-models").key("adapters/sql/" + f),
                        RequestBody.fromBytes(Files.readAllBytes(model.resolve("adapters/adapter-02").resolve(f))));
            }
        }
        node = QuiverNode.start(TestNodes.config("quiver.node.model-dir = \"s3://team-models/base/demo-s3\"\n"
                + "quiver.node.served-model-name = \"\"\n"
                + "quiver.sources { cache-dir = \"" + scratch.resolve("cache") + "\", progress = off, "
                + "offline = \"false\", s3 { endpoint-override = \"" + s3mock.endpoint() + "\", path-style = true, "
                + "access-key-id = \"k\", secret-access-key = \"s\" } }"));
        client = new Client(node.baseUrl());
    }

    @AfterAll
    void stop() {
        if (node != null) {
            node.stop();
        }
        if (s3mock != null) {
            s3mock.close();
        }
    }

    @Test
    void a_node_started_with_an_s3_model_dir_serves_completions_and_registers_an_s3_adapter() {
        Client.Reply base = client.post("/v1/completions", USER_A, "{\"model\":\"demo-s3\",\"prompt\":\"Hello\","
                + "\"max_tokens\":6,\"temperature\":0,\"ignore_eos\":true}");
        assertEquals(200, base.status(), base.body());
        Client.Reply reg = client.post("/v1/adapters", ADMIN_A, "{\"name\":\"s3-sql\",\"source\":"
                + "\"s3://team-models/adapters/sql/\"}");
        assertEquals(201, reg.status(), reg.body());
        assertTrue(reg.json().at("/versions/0/source").asText().startsWith("s3://team-models/adapters/sql/"),
                reg.body());
        Client.Reply gen = client.post("/v1/completions", USER_A, "{\"model\":\"s3-sql\",\"prompt\":\"Hello\","
                + "\"max_tokens\":4}");
        assertEquals(200, gen.status(), gen.body());
        Client.Reply missing = client.post("/v1/adapters", ADMIN_A, "{\"name\":\"s3-none\",\"source\":"
                + "\"s3://team-models/adapters/none/\"}");
        assertEquals(400, missing.status(), missing.body());
        assertEquals("source", missing.error().path("param").asText(), missing.body());
    }
}
