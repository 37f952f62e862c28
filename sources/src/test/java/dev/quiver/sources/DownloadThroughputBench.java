package dev.quiver.sources;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The download throughput recorded in docs/BENCHMARKS.md: an 84 MB adapter and a 1 GiB model file fetched through
 * {@link Sources} from the local test Hub ({@link TestHub}, serving from memory over loopback) and from S3Mock
 * (serving from its disk store), against {@code cp} of the same bytes on the same disk. Run explicitly:
 * {@code mvn -B -ntp -pl sources test -Dtest=DownloadThroughputBench -Dquiver.bench=downloads}; the table is
 * printed and written to {@code sources/target/download-bench.md}.
 */
@EnabledIfSystemProperty(named = "quiver.bench", matches = "downloads")
class DownloadThroughputBench {
    @TempDir
    Path tmp;

    record Row(String what, long bytes, double seconds) {
        String line() {
            return String.format(Locale.ROOT, "| %s | %,d | %.2f | %.0f |", what, bytes, seconds,
                    bytes / seconds / 1e6);
        }
    }

    static byte[] random(long n, long seed) {
        byte[] b = new byte[(int) n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static double cp(Path src, Path dst) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder("cp", src.toString(), dst.toString()).inheritIO().start();
        assertEquals(0, p.waitFor());
        return (System.nanoTime() - t0) / 1e9;
    }

    @Test
    void records_hub_and_s3_download_throughput_against_cp() throws Exception {
        long adapterBytes = 84L * 1000 * 1000;
        long modelBytes = 1L << 30;
        byte[] adapter = random(adapterBytes, 1);
        Path files = Files.createDirectories(tmp.resolve("files"));
        Files.write(files.resolve("adapter_model.safetensors"), adapter);
        List<Row> rows = new ArrayList<>();
        rows.add(new Row("cp, 84 MB adapter file", adapterBytes, cp(files.resolve("adapter_model.safetensors"),
                tmp.resolve("cp-adapter"))));
        byte[] model = random(modelBytes, 2);
        try (OutputStream out = Files.newOutputStream(files.resolve("model.safetensors"))) {
            out.write(model);
        }
        rows.add(new Row("cp, 1 GiB model file", modelBytes, cp(files.resolve("model.safetensors"),
                tmp.resolve("cp-model"))));

        try (TestHub hub = new TestHub()) {
            hub.push("bench/adapter", "main", TestHub.files("adapter_config.json", "{\"r\":16}",
                    "adapter_model.safetensors", adapter));
            hub.push("bench/model", "main", TestHub.files("config.json", "{}", "model.safetensors", model));
            SourcesSettings s = SourcesSettings.of(tmp.resolve("hub-cache"), hub.endpoint())
                    .withProgress(SourcesSettings.Progress.OFF, Duration.ofSeconds(5));
            rows.add(timed("local test Hub, 84 MB adapter", adapterBytes, Sources.create(s), "hf://bench/adapter",
                    FileSet.ADAPTER));
            rows.add(timed("local test Hub, 1 GiB model file", modelBytes, Sources.create(s), "hf://bench/model",
                    FileSet.MODEL));
        }
        model = null;
        try (S3MockServer s3mock = S3MockServer.start(tmp.resolve("s3mock-root"))) {
            try (S3Client admin = S3Client.builder().region(Region.US_EAST_1).endpointOverride(s3mock.endpoint())
                    .forcePathStyle(true).httpClient(UrlConnectionHttpClient.builder().socketTimeout(Duration.ofMinutes(10))
                            .build())
                    .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("k", "s")))
                    .build()) {
                admin.createBucket(b -> b.bucket("bench"));
                admin.putObject(b -> b.bucket("bench").key("adapter/adapter_config.json"),
                        RequestBody.fromString("{\"r\":16}"));
                admin.putObject(b -> b.bucket("bench").key("adapter/adapter_model.safetensors"),
                        RequestBody.fromFile(files.resolve("adapter_model.safetensors")));
                admin.putObject(b -> b.bucket("bench").key("model/config.json"), RequestBody.fromString("{}"));
                admin.putObject(b -> b.bucket("bench").key("model/model.safetensors"),
                        RequestBody.fromFile(files.resolve("model.safetensors")));
            }
            SourcesSettings s = SourcesSettings.of(tmp.resolve("s3-cache"), java.net.URI.create("http://localhost:1"))
                    .withS3(new SourcesSettings.S3("", s3mock.endpoint(), true, "k", "s"))
                    .withProgress(SourcesSettings.Progress.OFF, Duration.ofSeconds(5));
            rows.add(timed("S3Mock, 84 MB adapter", adapterBytes, Sources.create(s), "s3://bench/adapter/",
                    FileSet.ADAPTER));
            rows.add(timed("S3Mock, 1 GiB model file", modelBytes, Sources.create(s), "s3://bench/model/",
                    FileSet.MODEL));
        }
        List<String> table = new ArrayList<>(List.of("| what | bytes | seconds | MB/s |", "|---|---:|---:|---:|"));
        rows.forEach(r -> table.add(r.line()));
        Files.write(Path.of("target/download-bench.md"), table);
        table.forEach(System.out::println);
    }

    private static Row timed(String what, long bytes, Sources sources, String uri, FileSet set) {
        long t0 = System.nanoTime();
        Fetched f = sources.fetch(uri, set);
        double secs = (System.nanoTime() - t0) / 1e9;
        assertEquals(true, f.downloadedBytes() >= bytes, "downloaded " + f.downloadedBytes());
        return new Row(what, bytes, secs);
    }
}
