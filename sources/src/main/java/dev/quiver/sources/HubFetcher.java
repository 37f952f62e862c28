package dev.quiver.sources;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Hugging Face Hub client, speaking the Hub's HTTP protocol:
 * <ol>
 *   <li>{@code GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true}: the commit sha the revision points at and
 *       the repo's files ({@code siblings}: name, size, git blob id, and for LFS files their sha256 and size);</li>
 *   <li>{@code GET {endpoint}/{repo}/resolve/{commit}/{file}} per wanted file, following redirects (LFS files are
 *       redirected to a CDN); the first response carries the expected digest: {@code X-Linked-Etag} (sha256) for LFS
 *       files, {@code ETag} (git blob sha1) for the others.</li>
 * </ol>
 * Every file is checked against its size and digest before it enters the {@link DownloadCache}; a dropped connection
 * resumes with {@code Range} from the bytes already on disk, and so does one whose body stops sending for the read
 * timeout (the stalled connection is closed); a corrupt download is discarded and fetched again, up to
 * {@code retries} times. The token goes only to the endpoint's own scheme, host and port (never to a redirect
 * target such as the CDN) and is never logged.
 */
final class HubFetcher implements Fetcher {
    private static final Logger log = LoggerFactory.getLogger(HubFetcher.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern SHA1 = Pattern.compile("[0-9a-f]{40}");
    private static final int MAX_REDIRECTS = 10;
    private static final int BUFFER = 1 << 20;
    /**
     * Closes the body of a download that sent nothing for the read timeout: {@code java.net.http} bounds the wait for
     * response headers only, and a read blocked on a stalled connection returns once its stream is closed.
     */
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "quiver-sources-read-timeout");
        t.setDaemon(true);
        return t;
    });

    private final SourcesSettings settings;
    private final DownloadCache cache;
    private final HttpClient http;
    /** One fetch per (repo, commit, set) at a time in this process; the others wait and then read the cache. */
    private final Map<String, Object> locks = new ConcurrentHashMap<>();

    HubFetcher(SourcesSettings settings, DownloadCache cache) {
        this.settings = settings;
        this.cache = cache;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(settings.connectTimeout()).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** A repo file as the Hub lists it. {@code sha256} is set for LFS files, {@code gitSha1} for the others. */
    record RemoteFile(String path, long size, String gitSha1, String sha256) {
    }

    @Override
    public Fetched fetch(SourceUri source, FileSet set, DownloadProgress progress) {
        SourceUri.Hub hub = (SourceUri.Hub) source;
        String key = sourceKey(hub);
        String setKey = set.name().toLowerCase() + (hub.subdir().isEmpty() ? "" : "@" + hub.subdir());
        String commit = hub.pinned() ? hub.revision() : null;
        if (settings.offline()) {
            if (commit == null) {
                commit = cache.ref(key, hub.revision()).orElseThrow(() -> offlineMiss(hub));
            }
            String c = commit;
            return cached(hub, key, c, setKey).orElseThrow(() -> offlineMiss(hub.at(c)));
        }
        if (commit != null) {
            Optional<Fetched> hit = cached(hub, key, commit, setKey);
            if (hit.isPresent()) {
                return hit.get();
            }
        }
        JsonNode info = revisionInfo(hub);
        commit = info.path("sha").asText("");
        if (!SHA1.matcher(commit).matches()) {
            throw new SourceException(SourceException.Kind.UNAVAILABLE, "the Hub's answer for " + hub.canonical()
                    + " has no commit sha");
        }
        try {
            cache.writeRef(key, hub.revision(), commit);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Object lock = locks.computeIfAbsent(key + "@" + commit + "/" + setKey, k -> new Object());
        synchronized (lock) {
            Optional<Fetched> hit = cached(hub, key, commit, setKey);
            if (hit.isPresent()) {
                return hit.get();
            }
            List<RemoteFile> files = select(hub, info, set);
            return download(hub, key, commit, setKey, files, progress);
        }
    }

    private Optional<Fetched> cached(SourceUri.Hub hub, String key, String commit, String setKey) {
        return cache.manifest(key, commit, setKey).map(files -> {
            try {
                Path dir = cache.snapshot(key, commit, hub.subdir());
                for (Map.Entry<String, String> f : files.entrySet()) {
                    cache.link(dir, f.getKey(), f.getValue());
                }
                return new Fetched(dir, hub, commit, List.copyOf(files.keySet()), 0);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the download cache " + cache.root(), e);
            }
        });
    }

    private JsonNode revisionInfo(SourceUri.Hub hub) {
        URI uri = URI.create(endpoint() + "/api/models/" + hub.repo() + "/revision/"
                + URLEncoder.encode(hub.revision(), StandardCharsets.UTF_8) + "?blobs=true");
        IOException last = null;
        for (int attempt = 0; attempt <= settings.retries(); attempt++) {
            try {
                HttpResponse<byte[]> r = http.send(request(uri).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
                if (r.statusCode() == 200) {
                    return JSON.readTree(r.body());
                }
                if (r.statusCode() >= 500 && attempt < settings.retries()) {
                    backoff(attempt);
                    continue;
                }
                throw statusError(r.statusCode(), r.headers().firstValue("X-Error-Message").orElse(null), hub, null);
            } catch (IOException e) {
                last = e;
                backoff(attempt);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SourceException(SourceException.Kind.UNAVAILABLE, "interrupted fetching " + hub.canonical());
            }
        }
        throw new SourceException(SourceException.Kind.UNAVAILABLE, "cannot reach the Hub at " + endpoint() + " for "
                + hub.canonical() + ": " + (last.getMessage() != null ? last.getMessage() : last.toString()), last);
    }

    private List<RemoteFile> select(SourceUri.Hub hub, JsonNode info, FileSet set) {
        String prefix = hub.subdir().isEmpty() ? "" : hub.subdir() + "/";
        List<RemoteFile> out = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (JsonNode s : info.path("siblings")) {
            String path = s.path("rfilename").asText("");
            if (!path.startsWith(prefix)) {
                continue;
            }
            String rel = path.substring(prefix.length());
            if (!set.wants(rel)) {
                skipped.add(rel);
                continue;
            }
            JsonNode lfs = s.path("lfs");
            String sha256 = lfs.isObject() ? lfs.path("sha256").asText(null) : null;
            long size = lfs.isObject() ? lfs.path("size").asLong(-1) : s.path("size").asLong(-1);
            String blobId = s.path("blobId").asText(null);
            out.add(new RemoteFile(rel, size, sha256 == null ? blobId : null, sha256));
        }
        List<String> names = out.stream().map(RemoteFile::path).toList();
        List<String> missing = set.required().stream().filter(r -> !names.contains(r)).sorted().toList();
        boolean noWeights = set == FileSet.MODEL && names.stream().noneMatch(n -> n.endsWith(".safetensors"));
        if (!missing.isEmpty() || noWeights) {
            boolean pickle = skipped.stream().anyMatch(n -> n.endsWith(".bin") || n.endsWith(".pt")
                    || n.endsWith(".pth") || n.endsWith(".pkl"));
            throw new SourceException(SourceException.Kind.NOT_FOUND, hub.canonical() + " has no "
                    + (missing.isEmpty() ? "*.safetensors weights" : String.join(", ", missing))
                    + (pickle ? " (its pickle weights, *.bin/*.pt, are never fetched: the repo needs safetensors)" : ""));
        }
        return out;
    }

    private Fetched download(SourceUri.Hub hub, String key, String commit, String setKey, List<RemoteFile> files,
                             DownloadProgress progress) {
        AtomicLong received = new AtomicLong();
        Map<String, String> manifest = new TreeMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(settings.maxParallel(), files.size()), r -> {
            Thread t = new Thread(r, "quiver-hub-download");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<String>> futures = new ArrayList<>();
            for (RemoteFile f : files) {
                futures.add(pool.submit(() -> downloadOne(hub, commit, f, progress, received)));
            }
            for (int i = 0; i < files.size(); i++) {
                try {
                    manifest.put(files.get(i).path(), futures.get(i).get());
                } catch (ExecutionException e) {
                    pool.shutdownNow();
                    if (e.getCause() instanceof RuntimeException re) {
                        throw re;
                    }
                    throw new SourceException(SourceException.Kind.UNAVAILABLE, "fetching " + hub.canonical()
                            + " failed: " + e.getCause(), e.getCause());
                }
            }
            Path dir = cache.snapshot(key, commit, hub.subdir());
            for (Map.Entry<String, String> f : manifest.entrySet()) {
                cache.link(dir, f.getKey(), f.getValue());
            }
            cache.writeManifest(key, commit, setKey, manifest);
            log.info("fetched {} at commit {}: {} files, {} downloaded", hub.canonical(), commit, manifest.size(),
                    DownloadProgress.bytes(received.get()));
            return new Fetched(dir, hub, commit, List.copyOf(manifest.keySet()), received.get());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SourceException(SourceException.Kind.UNAVAILABLE, "interrupted fetching " + hub.canonical());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the download cache " + cache.root(), e);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Downloads one file into the blob store, verified; returns its sha256. */
    private String downloadOne(SourceUri.Hub hub, String commit, RemoteFile f, DownloadProgress progress,
                               AtomicLong received) throws IOException, InterruptedException {
        if (f.sha256() != null && cache.hasBlob(f.sha256(), f.size())) {
            return f.sha256();
        }
        URI uri = URI.create(endpoint() + "/" + hub.repo() + "/resolve/" + commit + "/" + encodePath(
                hub.subdir().isEmpty() ? f.path() : hub.subdir() + "/" + f.path()));
        Path part = cache.partial(f.sha256() != null ? f.sha256() : f.gitSha1() != null ? "git-" + f.gitSha1()
                : "path-" + hub.repo() + "@" + commit + "/" + f.path());
        DownloadProgress.Task task = progress.start(f.path(), f.size());
        String lastProblem = null;
        try {
            for (int attempt = 0; attempt <= settings.retries(); attempt++) {
                if (attempt > 0) {
                    backoff(attempt - 1);
                }
                long have = Files.exists(part) ? Files.size(part) : 0;
                if (f.size() >= 0 && have > f.size()) {
                    Files.delete(part);
                    have = 0;
                }
                task.resumedAt(have);
                Response r;
                try {
                    r = open(uri, have, hub, f.path());
                } catch (IOException e) {
                    lastProblem = e.toString();
                    continue;
                }
                try (InputStream in = r.body()) {
                    Expected exp = expected(f, r, hub);
                    boolean append = have > 0 && r.status() == 206;
                    if (have > 0 && !append) {
                        have = 0;
                        task.resumedAt(0);
                    }
                    if (append) {
                        log.info("resuming {} of {} at byte {}", f.path(), hub.canonical(), have);
                    }
                    Digests d = Digests.forHub(exp.gitSha1 != null ? exp.size : -1);
                    if (append) {
                        d.updateFrom(part);
                    }
                    AtomicLong lastRead = new AtomicLong(System.nanoTime());
                    AtomicBoolean stalled = new AtomicBoolean();
                    long timeout = settings.readTimeout().toNanos();
                    long period = Math.max(10, Math.min(1000, settings.readTimeout().toMillis() / 4));
                    ScheduledFuture<?> guard = WATCHDOG.scheduleWithFixedDelay(() -> {
                        if (System.nanoTime() - lastRead.get() > timeout && !stalled.getAndSet(true)) {
                            try {
                                in.close();
                            } catch (IOException | RuntimeException ignored) {
                                // the reader sees the stream closed either way
                            }
                        }
                    }, period, period, TimeUnit.MILLISECONDS);
                    try (OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE,
                            append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING,
                            StandardOpenOption.WRITE)) {
                        byte[] buf = new byte[BUFFER];
                        int n;
                        while ((n = in.read(buf)) >= 0 && !stalled.get()) {
                            lastRead.set(System.nanoTime());
                            out.write(buf, 0, n);
                            d.update(buf, n);
                            task.advance(n);
                            received.addAndGet(n);
                        }
                        if (stalled.get()) {
                            throw new IOException("stream closed");
                        }
                    } catch (IOException e) {
                        lastProblem = stalled.get()
                                ? "the connection stalled after " + Files.size(part) + " bytes (nothing for "
                                        + settings.readTimeout().toMillis() / 1000.0 + " s, quiver.sources.read-timeout)"
                                : "the connection dropped after " + Files.size(part) + " bytes (" + e + ")";
                        log.warn("download of {} from {} interrupted: {}; resuming", f.path(), hub.canonical(),
                                lastProblem);
                        continue;
                    } finally {
                        guard.cancel(false);
                    }
                    long size = Files.size(part);
                    if (exp.size >= 0 && size < exp.size) {
                        // NOTE: a connection cut mid-body can read as a short, clean end of stream: resume it.
                        lastProblem = "the body ended after " + size + " of " + exp.size + " bytes";
                        log.warn("download of {} from {} ended early: {}; resuming", f.path(), hub.canonical(),
                                lastProblem);
                        continue;
                    }
                    String sha256 = d.sha256();
                    String problem = null;
                    if (exp.size >= 0 && size != exp.size) {
                        problem = "size " + size + " bytes, expected " + exp.size;
                    } else if (exp.sha256 != null && !exp.sha256.equals(sha256)) {
                        problem = "sha256 " + sha256 + ", expected " + exp.sha256;
                    } else if (exp.gitSha1 != null && !exp.gitSha1.equals(d.gitSha1())) {
                        problem = "git blob sha1 " + d.gitSha1() + ", expected " + exp.gitSha1;
                    }
                    if (problem != null) {
                        lastProblem = problem;
                        log.warn("download of {} from {} is corrupt ({}); fetching it again", f.path(),
                                hub.canonical(), problem);
                        Files.deleteIfExists(part);
                        if (attempt == settings.retries()) {
                            throw new SourceException(SourceException.Kind.CORRUPT, "file " + f.path() + " of "
                                    + hub.at(commit).canonical() + " is corrupt: " + problem + " (after "
                                    + (attempt + 1) + " attempts)");
                        }
                        continue;
                    }
                    cache.adopt(part, sha256);
                    task.finish();
                    return sha256;
                }
            }
            throw new SourceException(SourceException.Kind.UNAVAILABLE, "cannot download " + f.path() + " of "
                    + hub.at(commit).canonical() + " after " + (settings.retries() + 1) + " attempts: " + lastProblem);
        } catch (RuntimeException | IOException | InterruptedException e) {
            task.fail();
            throw e;
        }
    }

    /** A response body and the headers that tell what it should be. */
    private record Response(int status, InputStream body, Map<String, List<String>> firstHeaders,
                            Map<String, List<String>> headers) {
    }

    private record Expected(long size, String sha256, String gitSha1) {
    }

    /**
     * GETs {@code uri} from byte {@code from}, following redirects itself so that the token is sent to the endpoint
     * only; the first (Hub) response's headers are kept, since they name the digest.
     */
    private Response open(URI uri, long from, SourceUri.Hub hub, String file) throws IOException,
            InterruptedException {
        Map<String, List<String>> first = null;
        URI current = uri;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder b = request(current).GET();
            if (from > 0) {
                b.header("Range", "bytes=" + from + "-");
            }
            HttpResponse<InputStream> r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            if (first == null) {
                first = r.headers().map();
            }
            int s = r.statusCode();
            if (s == 301 || s == 302 || s == 303 || s == 307 || s == 308) {
                r.body().close();
                String loc = r.headers().firstValue("Location").orElseThrow(() -> new IOException(
                        "redirect without Location from " + hostOf(r.uri())));
                current = r.uri().resolve(loc);
                continue;
            }
            if (s == 200 || s == 206) {
                return new Response(s, r.body(), first, r.headers().map());
            }
            String msg = r.headers().firstValue("X-Error-Message").orElse(null);
            r.body().close();
            if (s == 416) {
                throw new IOException("range not satisfiable at byte " + from);
            }
            if (s >= 500 || s == 429) {
                throw new IOException("HTTP " + s + " from " + hostOf(current));
            }
            throw statusError(s, msg, hub, file);
        }
        throw new SourceException(SourceException.Kind.UNAVAILABLE, "too many redirects fetching " + file + " of "
                + hub.canonical());
    }

    private Expected expected(RemoteFile f, Response r, SourceUri.Hub hub) {
        String linked = etag(header(r.firstHeaders(), "X-Linked-Etag"));
        String etag = etag(header(r.firstHeaders(), "ETag"));
        String linkedSize = header(r.firstHeaders(), "X-Linked-Size");
        String sha256 = f.sha256();
        String headerSha = linked != null && SHA256.matcher(linked).matches() ? linked
                : etag != null && SHA256.matcher(etag).matches() ? etag : null;
        if (sha256 != null && headerSha != null && !sha256.equals(headerSha)) {
            throw new SourceException(SourceException.Kind.CORRUPT, "file " + f.path() + " of " + hub.canonical()
                    + ": the Hub lists sha256 " + sha256 + " but serves " + headerSha);
        }
        if (sha256 == null) {
            sha256 = headerSha;
        }
        String git = null;
        if (sha256 == null) {
            git = f.gitSha1() != null ? f.gitSha1() : etag != null && SHA1.matcher(etag).matches() ? etag : null;
        }
        long size = f.size();
        if (size < 0 && linkedSize != null) {
            size = Long.parseLong(linkedSize.strip());
        }
        if (sha256 == null && git == null) {
            throw new SourceException(SourceException.Kind.CORRUPT, "file " + f.path() + " of " + hub.canonical()
                    + " comes without a digest (no LFS sha256, no ETag): it cannot be verified and is not used");
        }
        return new Expected(size, sha256, git);
    }

    private static String header(Map<String, List<String>> h, String name) {
        for (Map.Entry<String, List<String>> e : h.entrySet()) {
            if (e.getKey() != null && e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) {
                return e.getValue().get(0);
            }
        }
        return null;
    }

    /** An ETag's value without W/ and quotes. */
    private static String etag(String v) {
        if (v == null) {
            return null;
        }
        String s = v.strip();
        if (s.startsWith("W/")) {
            s = s.substring(2);
        }
        if (s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"")) {
            s = s.substring(1, s.length() - 1);
        }
        return s.toLowerCase();
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(settings.requestTimeout())
                .header("User-Agent", "quiver-sources/1");
        if (!settings.hfToken().isEmpty() && sameOrigin(uri, settings.hfEndpoint())) {
            b.header("Authorization", "Bearer " + settings.hfToken());
        }
        return b;
    }

    static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost() != null
                && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    private static String hostOf(URI u) {
        return u.getScheme() + "://" + u.getAuthority();
    }

    private String endpoint() {
        return settings.hfEndpoint().toString();
    }

    private SourceException statusError(int status, String hubMessage, SourceUri.Hub hub, String file) {
        String what = file == null ? hub.canonical() : "file " + file + " of " + hub.canonical();
        String detail = hubMessage == null || hubMessage.isBlank() ? "" : " (the Hub says: " + hubMessage + ")";
        if (status == 401 || status == 403) {
            return new SourceException(SourceException.Kind.UNAUTHORIZED, what + " is gated or private (HTTP "
                    + status + "): accept the licence on the Hub or set HF_TOKEN (quiver.sources.hf.token)"
                    + (settings.hfToken().isEmpty() ? "" : "; the token given was refused") + detail);
        }
        if (status == 404) {
            return new SourceException(SourceException.Kind.NOT_FOUND, "no such repo/revision/file: " + what
                    + detail);
        }
        return new SourceException(SourceException.Kind.UNAVAILABLE, "the Hub answered HTTP " + status + " for "
                + what + detail);
    }

    private SourceException offlineMiss(SourceUri.Hub hub) {
        return new SourceException(SourceException.Kind.OFFLINE_MISS, "offline (HF_HUB_OFFLINE) and " + hub.canonical()
                + " is not in the download cache " + cache.root());
    }

    private static String sourceKey(SourceUri.Hub hub) {
        return "hf/" + hub.repo().replace("/", "--");
    }

    private static String encodePath(String path) {
        StringBuilder sb = new StringBuilder();
        for (String seg : path.split("/")) {
            sb.append(sb.length() == 0 ? "" : "/").append(URLEncoder.encode(seg, StandardCharsets.UTF_8)
                    .replace("+", "%20"));
        }
        return sb.toString();
    }

    private static void backoff(int attempt) throws SourceException {
        try {
            Thread.sleep(Math.min(2_000, 100L << Math.min(attempt, 4)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SourceException(SourceException.Kind.UNAVAILABLE, "interrupted");
        }
    }
}
