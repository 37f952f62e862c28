package dev.quiver.sources;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A Hugging Face Hub of the tests' own, over real sockets (the JDK's HTTP server), speaking the endpoints Quiver
 * uses: {@code GET /api/models/{repo}/revision/{rev}?blobs=true} and {@code GET /{repo}/resolve/{rev}/{file}}.
 * Files ending in {@code .safetensors} are LFS: their resolve answers 302 with {@code X-Linked-Etag} (sha256) and
 * {@code X-Linked-Size} to a "CDN" on the other loopback name (127.0.0.1 instead of localhost, so a token sent there
 * shows); other files are answered directly with their git blob sha1 as {@code ETag}. The CDN honours {@code Range}.
 * Gated repos answer 401 without the right token. Fault switches: drop the connection after N bytes, corrupt a
 * byte, answer slowly, stall mid-body (send some bytes, then nothing while the connection stays open).
 */
public final class TestHub implements AutoCloseable {
    /** One request as the server saw it. */
    public record Seen(String host, String path, String authorization, String range) {
    }

    private final HttpServer server;
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final Map<String, Map<String, String>> refs = new ConcurrentHashMap<>();            // repo -> rev -> commit
    private final Map<String, Map<String, byte[]>> commits = new ConcurrentHashMap<>();         // commit -> files
    private final Map<String, byte[]> lfs = new ConcurrentHashMap<>();                          // sha256 -> bytes
    private final Set<String> gated = ConcurrentHashMap.newKeySet();
    private volatile String token = "";
    public final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final AtomicInteger commitCounter = new AtomicInteger();
    private final AtomicInteger inFlight = new AtomicInteger();
    public final AtomicInteger maxInFlight = new AtomicInteger();

    // fault switches (CDN downloads)
    public volatile long dropAfterBytes = -1;
    public final AtomicInteger dropTimes = new AtomicInteger();
    public final AtomicInteger corruptTimes = new AtomicInteger();
    public volatile int slowBytesPerChunk = 0;
    public volatile long slowChunkMillis = 0;
    /** The next {@code stallTimes} CDN downloads send {@code stallAfterBytes} bytes, then nothing, connection open. */
    public volatile long stallAfterBytes = -1;
    public final AtomicInteger stallTimes = new AtomicInteger();
    /** How long a stalled download keeps its connection open without sending (bounded, then it is closed). */
    public volatile long stallMillis = 60_000;

    public TestHub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        server.createContext("/", this::handle);
        server.setExecutor(pool);
        server.start();
    }

    /** The endpoint (as HF_ENDPOINT): http://localhost:PORT. */
    public URI endpoint() {
        return URI.create("http://localhost:" + server.getAddress().getPort());
    }

    /** Pushes a commit with {@code files} to {@code branch} of {@code repo}; returns the commit sha. */
    public String push(String repo, String branch, Map<String, byte[]> files) {
        String commit = sha1Hex(("commit " + commitCounter.incrementAndGet() + repo + branch)
                .getBytes(StandardCharsets.UTF_8));
        commits.put(commit, new LinkedHashMap<>(files));
        refs.computeIfAbsent(repo, r -> new ConcurrentHashMap<>()).put(branch, commit);
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            if (isLfs(f.getKey())) {
                lfs.put(sha256Hex(f.getValue()), f.getValue());
            }
        }
        return commit;
    }

    public void tag(String repo, String tag, String commit) {
        refs.get(repo).put(tag, commit);
    }

    public void gate(String repo, String requiredToken) {
        gated.add(repo);
        token = requiredToken;
    }

    public List<Seen> downloads() {
        return seen.stream().filter(s -> s.path().startsWith("/cdn/") || s.path().contains("/resolve/")).toList();
    }

    public void forget() {
        seen.clear();
    }

    public static boolean isLfs(String name) {
        return name.endsWith(".safetensors");
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getRawPath();
        seen.add(new Seen(ex.getRequestHeaders().getFirst("Host"), URLDecoder.decode(path, StandardCharsets.UTF_8),
                ex.getRequestHeaders().getFirst("Authorization"), ex.getRequestHeaders().getFirst("Range")));
        try {
            if (path.startsWith("/api/models/")) {
                api(ex, path.substring("/api/models/".length()));
            } else if (path.startsWith("/cdn/")) {
                cdn(ex, path.substring("/cdn/".length()));
            } else if (path.contains("/resolve/")) {
                resolve(ex, path);
            } else {
                error(ex, 404, "RepoNotFound", "no route");
            }
        } finally {
            ex.close();
        }
    }

    private void api(HttpExchange ex, String rest) throws IOException {
        int i = rest.indexOf("/revision/");
        if (i < 0) {
            error(ex, 404, "RepoNotFound", "no route");
            return;
        }
        String repo = rest.substring(0, i);
        String rev = URLDecoder.decode(rest.substring(i + "/revision/".length()), StandardCharsets.UTF_8);
        if (!authorized(ex, repo)) {
            return;
        }
        String commit = commitOf(repo, rev);
        if (commit == null) {
            error(ex, 404, refs.containsKey(repo) ? "RevisionNotFound" : "RepoNotFound",
                    refs.containsKey(repo) ? "Invalid rev id: " + rev : "Repository not found");
            return;
        }
        ObjectMapper m = new ObjectMapper();
        ObjectNode info = m.createObjectNode().put("id", repo).put("sha", commit);
        ArrayNode siblings = info.putArray("siblings");
        for (Map.Entry<String, byte[]> f : commits.get(commit).entrySet()) {
            ObjectNode s = siblings.addObject().put("rfilename", f.getKey()).put("size", f.getValue().length);
            if (isLfs(f.getKey())) {
                s.put("blobId", sha1Hex(("lfs-pointer " + f.getKey()).getBytes(StandardCharsets.UTF_8)))
                        .putObject("lfs").put("sha256", sha256Hex(f.getValue())).put("size", f.getValue().length)
                        .put("pointerSize", 134);
                s.put("size", 134);
            } else {
                s.put("blobId", gitBlobSha1(f.getValue()));
            }
        }
        byte[] body = m.writeValueAsBytes(info);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(200, body.length);
        ex.getResponseBody().write(body);
    }

    private void resolve(HttpExchange ex, String rawPath) throws IOException {
        String p = rawPath.substring(1);
        int r = p.indexOf("/resolve/");
        String repo = p.substring(0, r);
        String rest = p.substring(r + "/resolve/".length());
        int slash = rest.indexOf('/');
        String rev = URLDecoder.decode(rest.substring(0, slash), StandardCharsets.UTF_8);
        String file = URLDecoder.decode(rest.substring(slash + 1), StandardCharsets.UTF_8);
        if (!authorized(ex, repo)) {
            return;
        }
        String commit = commitOf(repo, rev);
        byte[] data = commit == null ? null : commits.get(commit).get(file);
        if (data == null) {
            error(ex, 404, "EntryNotFound", file + " does not exist on \"" + rev + "\"");
            return;
        }
        ex.getResponseHeaders().add("X-Repo-Commit", commit);
        if (isLfs(file)) {
            String sha = sha256Hex(data);
            ex.getResponseHeaders().add("X-Linked-Etag", "\"" + sha + "\"");
            ex.getResponseHeaders().add("X-Linked-Size", Long.toString(data.length));
            ex.getResponseHeaders().add("ETag", "\"" + gitBlobSha1(data) + "\"");
            ex.getResponseHeaders().add("Location", "http://127.0.0.1:" + server.getAddress().getPort() + "/cdn/"
                    + sha);
            ex.sendResponseHeaders(302, -1);
            return;
        }
        ex.getResponseHeaders().add("ETag", "\"" + gitBlobSha1(data) + "\"");
        ex.sendResponseHeaders(200, data.length);
        ex.getResponseBody().write(data);
    }

    private void cdn(HttpExchange ex, String sha) throws IOException {
        byte[] data = lfs.get(sha);
        if (data == null) {
            error(ex, 404, "EntryNotFound", "no such object");
            return;
        }
        int now = inFlight.incrementAndGet();
        maxInFlight.accumulateAndGet(now, Math::max);
        try {
            long from = 0;
            String range = ex.getRequestHeaders().getFirst("Range");
            if (range != null && range.startsWith("bytes=") && range.endsWith("-")) {
                from = Long.parseLong(range.substring(6, range.length() - 1));
            }
            if (from >= data.length && data.length > 0) {
                ex.sendResponseHeaders(416, -1);
                return;
            }
            byte[] out = data;
            if (corruptTimes.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                out = data.clone();
                out[out.length / 2] ^= 0x5A;
            }
            long len = out.length - from;
            if (from > 0) {
                ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (out.length - 1) + "/"
                        + out.length);
            }
            ex.sendResponseHeaders(from > 0 ? 206 : 200, len);
            OutputStream os = ex.getResponseBody();
            long limit = len;
            if (dropAfterBytes >= 0 && dropTimes.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                limit = Math.min(len, dropAfterBytes);
            }
            boolean stall = false;
            if (stallAfterBytes >= 0 && stallTimes.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                limit = Math.min(len, stallAfterBytes);
                stall = true;
            }
            int chunk = slowBytesPerChunk > 0 ? slowBytesPerChunk : 64 * 1024;
            long written = 0;
            while (written < limit) {
                int n = (int) Math.min(chunk, limit - written);
                os.write(out, (int) (from + written), n);
                os.flush();
                written += n;
                if (slowChunkMillis > 0) {
                    try {
                        Thread.sleep(slowChunkMillis);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
            if (stall) {
                try {
                    Thread.sleep(stallMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            // On a drop, closing with fewer bytes than announced makes the server close the connection.
        } finally {
            inFlight.decrementAndGet();
        }
    }

    private boolean authorized(HttpExchange ex, String repo) throws IOException {
        if (!gated.contains(repo)) {
            return true;
        }
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (auth == null) {
            error(ex, 401, "GatedRepo", "Access to model " + repo + " is restricted. You must have access to it "
                    + "and be authenticated to access it.");
            return false;
        }
        if (!auth.equals("Bearer " + token)) {
            error(ex, 403, "GatedRepo", "Access to model " + repo + " is restricted and you are not in the "
                    + "authorized list.");
            return false;
        }
        return true;
    }

    private String commitOf(String repo, String rev) {
        Map<String, String> r = refs.get(repo);
        if (r == null) {
            return null;
        }
        if (r.containsKey(rev)) {
            return r.get(rev);
        }
        return r.containsValue(rev) ? rev : null;
    }

    private static void error(HttpExchange ex, int status, String code, String message) throws IOException {
        ex.getResponseHeaders().add("X-Error-Code", code);
        ex.getResponseHeaders().add("X-Error-Message", message);
        byte[] body = ("{\"error\":\"" + message.replace("\"", "'") + "\"}").getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, body.length);
        ex.getResponseBody().write(body);
    }

    public static String sha256Hex(byte[] b) {
        return digest("SHA-256", b);
    }

    public static String sha1Hex(byte[] b) {
        return digest("SHA-1", b);
    }

    public static String gitBlobSha1(byte[] b) {
        byte[] header = ("blob " + b.length + "\0").getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[header.length + b.length];
        System.arraycopy(header, 0, all, 0, header.length);
        System.arraycopy(b, 0, all, header.length, b.length);
        return sha1Hex(all);
    }

    private static String digest(String alg, byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance(alg).digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Map<String, byte[]> files(Object... nameThenBytes) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (int i = 0; i < nameThenBytes.length; i += 2) {
            Object v = nameThenBytes[i + 1];
            m.put((String) nameThenBytes[i], v instanceof String s ? s.getBytes(StandardCharsets.UTF_8) : (byte[]) v);
        }
        return m;
    }

    @Override
    public void close() {
        server.stop(0);
        pool.shutdownNow();
    }
}
