package dev.quiver.sources;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Adobe S3Mock (a real S3-protocol server, from Maven Central) started as a child JVM from
 * {@code target/s3mock/s3mock.jar} (copied there by the build) on a free loopback port; stopped on close.
 */
public final class S3MockServer implements AutoCloseable {
    private final Process process;
    private final int port;
    private final Path log;

    private S3MockServer(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** From this module's directory (its own tests). */
    static S3MockServer start(Path root) throws IOException, InterruptedException {
        return start(root, Path.of("target/s3mock/s3mock.jar").toAbsolutePath());
    }

    /** With the jar where another module finds it ({@code ../sources/target/s3mock/s3mock.jar}). */
    public static S3MockServer start(Path root, Path jar) throws IOException, InterruptedException {
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing: run the build through Maven (process-test-resources "
                    + "copies S3Mock there)");
        }
        int http = freePort();
        int https = freePort();
        Files.createDirectories(root);
        Path log = root.resolveSibling("s3mock.log");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(List.of(java, "-Xmx512m", "-XX:TieredStopAtLevel=1", "-jar", jar.toString(),
                "--server.port=" + https, "--http.port=" + http, "--com.adobe.testing.s3mock.httpPort=" + http,
                "--server.address=127.0.0.1", "--com.adobe.testing.s3mock.store.root=" + root,
                "--com.adobe.testing.s3mock.store.retainFilesOnExit=false"))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        S3MockServer s = new S3MockServer(p, http, log);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IllegalStateException("S3Mock exited: " + Files.readString(log));
            }
            try {
                HttpURLConnection c = (HttpURLConnection) s.endpoint().toURL().openConnection();
                c.setConnectTimeout(500);
                c.setReadTimeout(5000);
                if (c.getResponseCode() == 200) {
                    return s;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        s.close();
        throw new IllegalStateException("S3Mock did not start within 180 s: " + Files.readString(log));
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
