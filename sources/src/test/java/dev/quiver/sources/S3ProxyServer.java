package dev.quiver.sources;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * S3Proxy (org.gaul:s3proxy from Maven Central) started as a child JVM from {@code target/s3proxy/s3proxy.jar}
 * (copied there by the build) on a free loopback port, over a filesystem blob store: unlike S3Mock it checks each
 * request's AWS signature (V2 or V4) against one access key and secret, so wrong credentials are refused the way
 * AWS refuses them (403 with an S3 error code). Stopped on close.
 */
public final class S3ProxyServer implements AutoCloseable {
    private final Process process;
    private final int port;

    private S3ProxyServer(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    /** A server accepting only {@code accessKey}/{@code secret}, storing buckets as directories under {@code root}. */
    static S3ProxyServer start(Path root, String accessKey, String secret) throws IOException, InterruptedException {
        Path jar = Path.of("target/s3proxy/s3proxy.jar").toAbsolutePath();
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing: run the build through Maven (process-test-resources "
                    + "copies S3Proxy there)");
        }
        int port = S3MockServer.freePort();
        Path blobs = Files.createDirectories(root.resolve("blobs"));
        Path conf = root.resolve("s3proxy.conf");
        Files.writeString(conf, String.join("\n",
                "s3proxy.endpoint=http://127.0.0.1:" + port,
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.identity=" + accessKey,
                "s3proxy.credential=" + secret,
                "jclouds.provider=filesystem",
                "jclouds.filesystem.basedir=" + blobs,
                // the SDK asks for checksums (x-amz-checksum-mode), which S3Proxy does not implement (501 otherwise)
                "s3proxy.ignore-unknown-headers=true",
                ""));
        Path log = root.resolve("s3proxy.log");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(List.of(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", jar.toString(),
                "org.gaul.s3proxy.Main", "--properties", conf.toString()))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        S3ProxyServer s = new S3ProxyServer(p, port);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IllegalStateException("S3Proxy exited: " + Files.readString(log));
            }
            try {
                HttpURLConnection c = (HttpURLConnection) s.endpoint().toURL().openConnection();
                c.setConnectTimeout(500);
                c.setReadTimeout(5000);
                c.getResponseCode();        // any answer (an anonymous request is refused) means it is up
                return s;
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        s.close();
        throw new IllegalStateException("S3Proxy did not start within 120 s: " + Files.readString(log));
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
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
