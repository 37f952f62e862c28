package dev.quiver.sources;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.ChecksumMode;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.ServerSideEncryption;

/**
 * {@code s3://BUCKET/PREFIX} through the AWS SDK for Java v2 (its default region and credential chains, or the
 * static keys, endpoint override and path style of {@code quiver.sources.s3} for MinIO, Ceph, R2). The objects
 * directly under the prefix that the {@link FileSet} wants are downloaded with ranged GETs (a dropped connection
 * resumes where it stopped), checked against their size, their SHA-256 checksum where the object has a full-object
 * one, else the MD5 ETag of a single-part unencrypted upload, and stored in the same {@link DownloadCache} as Hub
 * files. The "commit" of a prefix is the sha256 of its listing (key, size, ETag): unchanged objects are never
 * downloaded twice.
 */
final class S3Fetcher implements Fetcher {
    private static final Logger log = LoggerFactory.getLogger(S3Fetcher.class);
    private static final Pattern MD5_ETAG = Pattern.compile("[0-9a-f]{32}");
    private static final int BUFFER = 1 << 20;

    private final SourcesSettings settings;
    private final DownloadCache cache;
    private final Map<String, Object> locks = new ConcurrentHashMap<>();
    private volatile S3Client client;

    S3Fetcher(SourcesSettings settings, DownloadCache cache) {
        this.settings = settings;
        this.cache = cache;
    }

    private record Remote(String name, String key, long size, String etag) {
    }

    @Override
    public Fetched fetch(SourceUri source, FileSet set, DownloadProgress progress) {
        SourceUri.S3 s3 = (SourceUri.S3) source;
        String key = "s3/" + s3.bucket() + "/" + DownloadCache.escape(s3.prefix().isEmpty() ? "-" : s3.prefix());
        String setKey = set.name().toLowerCase();
        if (settings.offline()) {
            String commit = cache.ref(key, setKey).orElseThrow(() -> offlineMiss(s3));
            return cached(s3, key, commit, setKey).orElseThrow(() -> offlineMiss(s3));
        }
        List<Remote> objects = list(s3, set);
        String commit = listingDigest(objects);
        Object lock = locks.computeIfAbsent(key + "@" + commit + "/" + setKey, k -> new Object());
        synchronized (lock) {
            Optional<Fetched> hit = cached(s3, key, commit, setKey);
            if (hit.isPresent()) {
                return hit.get();
            }
            Fetched f = download(s3, key, commit, setKey, objects, progress);
            try {
                cache.writeRef(key, setKey, commit);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return f;
        }
    }

    private Optional<Fetched> cached(SourceUri.S3 s3, String key, String commit, String setKey) {
        return cache.manifest(key, commit, setKey).map(files -> {
            try {
                Path dir = cache.snapshot(key, commit, "");
                for (Map.Entry<String, String> f : files.entrySet()) {
                    cache.link(dir, f.getKey(), f.getValue());
                }
                return new Fetched(dir, s3, null, List.copyOf(files.keySet()), 0);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the download cache " + cache.root(), e);
            }
        });
    }

    private List<Remote> list(SourceUri.S3 s3, FileSet set) {
        List<Remote> out = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        try {
            for (S3Object o : client().listObjectsV2Paginator(ListObjectsV2Request.builder().bucket(s3.bucket())
                    .prefix(s3.prefix()).delimiter("/").build()).contents()) {
                String name = o.key().substring(s3.prefix().length());
                if (set.wants(name)) {
                    out.add(new Remote(name, o.key(), o.size(), etag(o.eTag())));
                } else {
                    skipped.add(name);
                }
            }
        } catch (SdkException e) {
            throw error(e, s3, null);
        }
        List<String> names = out.stream().map(Remote::name).toList();
        List<String> missing = set.required().stream().filter(r -> !names.contains(r)).sorted().toList();
        boolean noWeights = set == FileSet.MODEL && names.stream().noneMatch(n -> n.endsWith(".safetensors"));
        if (!missing.isEmpty() || noWeights) {
            boolean pickle = skipped.stream().anyMatch(n -> n.endsWith(".bin") || n.endsWith(".pt")
                    || n.endsWith(".pth") || n.endsWith(".pkl"));
            throw new SourceException(SourceException.Kind.NOT_FOUND, s3.canonical() + " has no "
                    + (missing.isEmpty() ? "*.safetensors weights" : String.join(", ", missing))
                    + (pickle ? " (its pickle weights, *.bin/*.pt, are never fetched: it needs safetensors)" : ""));
        }
        return out;
    }

    private Fetched download(SourceUri.S3 s3, String key, String commit, String setKey, List<Remote> objects,
                             DownloadProgress progress) {
        AtomicLong received = new AtomicLong();
        Map<String, String> manifest = new TreeMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(settings.maxParallel(), objects.size()), r -> {
            Thread t = new Thread(r, "quiver-s3-download");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<String>> futures = new ArrayList<>();
            for (Remote o : objects) {
                futures.add(pool.submit(() -> downloadOne(s3, o, progress, received)));
            }
            for (int i = 0; i < objects.size(); i++) {
                try {
                    manifest.put(objects.get(i).name(), futures.get(i).get());
                } catch (ExecutionException e) {
                    pool.shutdownNow();
                    if (e.getCause() instanceof RuntimeException re) {
                        throw re;
                    }
                    throw new SourceException(SourceException.Kind.UNAVAILABLE, "fetching " + s3.canonical()
                            + " failed: " + e.getCause(), e.getCause());
                }
            }
            Path dir = cache.snapshot(key, commit, "");
            for (Map.Entry<String, String> f : manifest.entrySet()) {
                cache.link(dir, f.getKey(), f.getValue());
            }
            cache.writeManifest(key, commit, setKey, manifest);
            log.info("fetched {}: {} files, {} downloaded", s3.canonical(), manifest.size(),
                    DownloadProgress.bytes(received.get()));
            return new Fetched(dir, s3, null, List.copyOf(manifest.keySet()), received.get());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SourceException(SourceException.Kind.UNAVAILABLE, "interrupted fetching " + s3.canonical());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the download cache " + cache.root(), e);
        } finally {
            pool.shutdownNow();
        }
    }

    private String downloadOne(SourceUri.S3 s3, Remote o, DownloadProgress progress, AtomicLong received)
            throws IOException {
        HeadObjectResponse head;
        try {
            head = client().headObject(b -> b.bucket(s3.bucket()).key(o.key()).checksumMode(ChecksumMode.ENABLED));
        } catch (SdkException e) {
            throw error(e, s3, o.name());
        }
        String sha256 = fullObjectSha256(head.checksumSHA256());
        boolean md5Etag = MD5_ETAG.matcher(o.etag()).matches() && head.serverSideEncryption() != ServerSideEncryption.AWS_KMS
                && head.serverSideEncryption() != ServerSideEncryption.AWS_KMS_DSSE;
        if (sha256 != null && cache.hasBlob(sha256, o.size())) {
            return sha256;
        }
        Path part = cache.partial("s3-" + hex("SHA-256", s3.bucket() + "/" + o.key() + "@" + o.etag()));
        DownloadProgress.Task task = progress.start(o.name(), o.size());
        String lastProblem = null;
        try {
            for (int attempt = 0; attempt <= settings.retries(); attempt++) {
                if (attempt > 0) {
                    sleep(attempt - 1);
                }
                long have = Files.exists(part) ? Files.size(part) : 0;
                if (have > o.size()) {
                    Files.delete(part);
                    have = 0;
                }
                task.resumedAt(have);
                GetObjectRequest.Builder req = GetObjectRequest.builder().bucket(s3.bucket()).key(o.key())
                        .ifMatch("\"" + o.etag() + "\"");
                if (have > 0) {
                    req.range("bytes=" + have + "-");
                }
                ResponseInputStream<GetObjectResponse> in;
                try {
                    in = client().getObject(req.build());
                } catch (S3Exception e) {
                    if (e.statusCode() == 416) {
                        Files.deleteIfExists(part);
                        lastProblem = "range not satisfiable at byte " + have;
                        continue;
                    }
                    throw error(e, s3, o.name());
                } catch (SdkClientException e) {
                    lastProblem = e.getMessage();
                    continue;
                }
                boolean append = have > 0 && in.response().contentRange() != null
                        && in.response().contentRange().startsWith("bytes " + have + "-");
                if (have > 0 && !append) {
                    have = 0;
                    task.resumedAt(0);
                }
                if (append) {
                    log.info("resuming {} of {} at byte {}", o.name(), s3.canonical(), have);
                }
                Digests d = Digests.withMd5();
                if (append) {
                    d.updateFrom(part);
                }
                try (InputStream body = in; OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE,
                        append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING,
                        StandardOpenOption.WRITE)) {
                    byte[] buf = new byte[BUFFER];
                    int n;
                    while ((n = body.read(buf)) >= 0) {
                        out.write(buf, 0, n);
                        d.update(buf, n);
                        task.advance(n);
                        received.addAndGet(n);
                    }
                } catch (IOException | SdkClientException e) {
                    lastProblem = "the connection dropped after " + Files.size(part) + " bytes (" + e + ")";
                    log.warn("download of {} from {} interrupted: {}; resuming", o.name(), s3.canonical(),
                            lastProblem);
                    continue;
                }
                long size = Files.size(part);
                if (size < o.size()) {
                    // NOTE: a connection cut mid-body can read as a short, clean end of stream: resume it.
                    lastProblem = "the body ended after " + size + " of " + o.size() + " bytes";
                    log.warn("download of {} from {} ended early: {}; resuming", o.name(), s3.canonical(),
                            lastProblem);
                    continue;
                }
                String problem = null;
                if (size != o.size()) {
                    problem = "size " + size + " bytes, expected " + o.size();
                } else if (sha256 != null && !sha256.equals(d.sha256())) {
                    problem = "sha256 " + d.sha256() + ", expected " + sha256;
                } else if (sha256 == null && md5Etag && !o.etag().equals(d.md5())) {
                    problem = "MD5 " + d.md5() + ", expected the ETag " + o.etag();
                }
                if (problem != null) {
                    lastProblem = problem;
                    Files.deleteIfExists(part);
                    log.warn("download of {} from {} is corrupt ({}); fetching it again", o.name(), s3.canonical(),
                            problem);
                    if (attempt == settings.retries()) {
                        throw new SourceException(SourceException.Kind.CORRUPT, "file " + o.name() + " of "
                                + s3.canonical() + " is corrupt: " + problem + " (after " + (attempt + 1)
                                + " attempts)");
                    }
                    continue;
                }
                String digest = d.sha256();
                cache.adopt(part, digest);
                task.finish();
                return digest;
            }
            throw new SourceException(SourceException.Kind.UNAVAILABLE, "cannot download " + o.name() + " of "
                    + s3.canonical() + " after " + (settings.retries() + 1) + " attempts: " + lastProblem);
        } catch (RuntimeException | IOException e) {
            task.fail();
            throw e;
        }
    }

    private S3Client client() {
        S3Client c = client;
        if (c == null) {
            synchronized (this) {
                if (client == null) {
                    client = build();
                }
                c = client;
            }
        }
        return c;
    }

    private S3Client build() {
        SourcesSettings.S3 s = settings.s3();
        S3ClientBuilder b = S3Client.builder().forcePathStyle(s.pathStyle())
                .httpClientBuilder(UrlConnectionHttpClient.builder().connectionTimeout(settings.connectTimeout())
                        .socketTimeout(settings.requestTimeout()));
        if (!s.region().isEmpty()) {
            b.region(Region.of(s.region()));
        } else if (s.endpointOverride() != null) {
            // NOTE: S3-compatible stores ignore the region but the SDK signs with one.
            b.region(Region.US_EAST_1);
        }
        if (s.endpointOverride() != null) {
            b.endpointOverride(s.endpointOverride());
        }
        AwsCredentialsProvider creds = !s.accessKeyId().isEmpty()
                ? StaticCredentialsProvider.create(AwsBasicCredentials.create(s.accessKeyId(), s.secretAccessKey()))
                : DefaultCredentialsProvider.builder().build();
        b.credentialsProvider(creds);
        try {
            return b.build();
        } catch (SdkClientException e) {
            throw new SourceException(SourceException.Kind.INVALID, "cannot set up the S3 client: " + e.getMessage()
                    + " (set AWS_REGION or quiver.sources.s3.region)", e);
        }
    }

    private SourceException error(SdkException e, SourceUri.S3 s3, String file) {
        String what = file == null ? s3.canonical() : "file " + file + " of " + s3.canonical();
        if (e instanceof S3Exception se) {
            String code = se.awsErrorDetails() == null ? "" : se.awsErrorDetails().errorCode();
            int status = se.statusCode();
            if (status == 404 || "NoSuchBucket".equals(code) || "NoSuchKey".equals(code)) {
                return new SourceException(SourceException.Kind.NOT_FOUND, "no such bucket/prefix/object: " + what
                        + (code == null || code.isEmpty() ? "" : " (" + code + ")"));
            }
            if (status == 401 || status == 403) {
                return new SourceException(SourceException.Kind.UNAUTHORIZED, "access to " + what + " was refused ("
                        + code + "): check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the AWS profile "
                        + "or quiver.sources.s3.access-key-id/secret-access-key) and the bucket policy");
            }
            return new SourceException(SourceException.Kind.UNAVAILABLE, "S3 answered HTTP " + status + " (" + code
                    + ") for " + what);
        }
        String msg = String.valueOf(e.getMessage());
        if (msg.contains("credentials")) {
            return new SourceException(SourceException.Kind.UNAUTHORIZED, "no S3 credentials for " + what + ": "
                    + msg);
        }
        return new SourceException(SourceException.Kind.UNAVAILABLE, "cannot reach S3 for " + what + ": " + msg, e);
    }

    private SourceException offlineMiss(SourceUri.S3 s3) {
        return new SourceException(SourceException.Kind.OFFLINE_MISS, "offline (HF_HUB_OFFLINE) and " + s3.canonical()
                + " is not in the download cache " + cache.root());
    }

    /** A full-object SHA-256 checksum (base64 in S3) as hex; null when absent or composite ("...-N"). */
    private static String fullObjectSha256(String base64) {
        if (base64 == null || base64.isBlank() || base64.contains("-")) {
            return null;
        }
        try {
            byte[] b = Base64.getDecoder().decode(base64);
            return b.length == 32 ? HexFormat.of().formatHex(b) : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String etag(String raw) {
        if (raw == null) {
            return "";
        }
        String s = raw.strip();
        if (s.startsWith("\"") && s.endsWith("\"") && s.length() >= 2) {
            s = s.substring(1, s.length() - 1);
        }
        return s.toLowerCase();
    }

    private static String listingDigest(List<Remote> objects) {
        StringBuilder sb = new StringBuilder();
        objects.stream().sorted((a, b) -> a.name().compareTo(b.name())).forEach(o -> sb.append(o.name()).append('\t')
                .append(o.size()).append('\t').append(o.etag()).append('\n'));
        return hex("SHA-256", sb.toString());
    }

    private static String hex(String alg, String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance(alg).digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void sleep(int attempt) {
        try {
            Thread.sleep(Math.min(2_000, 100L << Math.min(attempt, 4)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SourceException(SourceException.Kind.UNAVAILABLE, "interrupted");
        }
    }
}
