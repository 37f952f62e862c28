package dev.quiver.node.adapters;

import dev.quiver.edge.api.AdapterSource;
import dev.quiver.edge.api.ServiceError;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.lora.AdapterRefusedException;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.sources.FileSet;
import dev.quiver.sources.Fetched;
import dev.quiver.sources.SourceException;
import dev.quiver.sources.SourceUri;
import dev.quiver.sources.Sources;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The node's local adapter store: every accepted adapter version lives in {@code STORE/NAME/vN/} as
 * {@code adapter_config.json} + {@code adapter_model.safetensors}. A new version is first staged (copied from an
 * allowed {@code file://} directory, fetched from an {@code hf://} or {@code s3://} source through {@link Sources}
 * (into the download cache, verified), unpacked from a tar/tar.gz, or written from multipart parts), then validated
 * with {@link AdapterLoader#load} against the base model (names, shapes, rank, NaN/Inf), and only then moved into
 * place. Nothing else from the source is ever copied.
 */
public final class AdapterStore {
    static final String CONFIG = "adapter_config.json";
    static final String WEIGHTS = "adapter_model.safetensors";

    /**
     * A validated, staged version: where it is staged and what it is. {@code origin} is how the journal names where
     * it came from: for a remote source the source pinned to the commit it resolved to
     * ({@code hf://org/repo@<commit> (main)}), else null (the request's own description).
     */
    public record Staged(Path dir, String sha256, long sizeBytes, int rank, List<String> targets, String origin) {
        public Staged(Path dir, String sha256, long sizeBytes, int rank, List<String> targets) {
            this(dir, sha256, sizeBytes, rank, targets, null);
        }
    }

    private final Path root;
    private final List<Path> allowedRoots;
    private final ModelConfig base;
    private final int maxRank;
    private final long maxFileBytes;
    /** Fetches hf:// and s3:// sources; null = only file:// sources and uploads. */
    private final Sources sources;

    public AdapterStore(Path root, List<Path> allowedRoots, ModelConfig base, int maxRank, long maxFileBytes) {
        this(root, allowedRoots, base, maxRank, maxFileBytes, null);
    }

    public AdapterStore(Path root, List<Path> allowedRoots, ModelConfig base, int maxRank, long maxFileBytes,
                        Sources sources) {
        this.sources = sources;
        this.root = root.toAbsolutePath().normalize();
        this.allowedRoots = allowedRoots.stream().map(p -> p.toAbsolutePath().normalize()).toList();
        this.base = base;
        this.maxRank = maxRank;
        this.maxFileBytes = maxFileBytes;
        try {
            Files.createDirectories(this.root.resolve(".staging"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the adapter store " + this.root, e);
        }
    }

    public Path root() {
        return root;
    }

    /** Stages and validates a source; the caller commits it with {@link #commit} or drops it with {@link #discard}. */
    public Staged stage(String name, AdapterSource source) {
        Path dir = root.resolve(".staging").resolve(UUID.randomUUID().toString());
        try {
            Files.createDirectories(dir);
            String origin = null;
            if (source.uri() != null && remote(source.uri()) != null) {
                Fetched f = fetch(remote(source.uri()));
                copyFrom(f.dir(), dir);
                origin = f.describe();
            } else if (source.uri() != null) {
                copyFrom(resolveAllowed(source.uri()), dir);
            } else if (source.archive() != null) {
                Map<String, byte[]> files;
                try {
                    files = TarReader.read(source.archive(), Set.of(CONFIG, WEIGHTS), maxFileBytes);
                } catch (IOException e) {
                    throw refused("the uploaded archive cannot be read: " + e.getMessage());
                }
                write(files, dir, "the uploaded archive");
            } else {
                write(source.files(), dir, "the upload");
            }
            AdapterLoader.AdapterConfig cfg;
            try {
                cfg = AdapterLoader.readConfig(dir, name, maxRank);
                AdapterLoader.load(dir, name, base, maxRank);
            } catch (AdapterRefusedException e) {
                throw refused(e.getMessage());
            }
            Path weights = dir.resolve(WEIGHTS);
            return new Staged(dir, sha256(weights), Files.size(weights) + Files.size(dir.resolve(CONFIG)), cfg.rank(),
                    cfg.targets().stream().map(m -> m.peftName).sorted().toList(), origin);
        } catch (RuntimeException e) {
            discard(dir);
            throw e;
        } catch (IOException e) {
            discard(dir);
            throw new UncheckedIOException(e);
        }
    }

    /** Moves a staged version to {@code STORE/NAME/vN}. */
    public Path commit(Staged s, String name, int version) {
        Path target = root.resolve(name).resolve("v" + version);
        try {
            Files.createDirectories(target.getParent());
            if (Files.exists(target)) {
                discard(target);
            }
            Files.move(s.dir(), target, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot move adapter '" + name + "' v" + version + " into the store", e);
        }
    }

    public void discard(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a leftover staging directory is harmless
        }
    }

    /** The parsed source when {@code uri} names a remote one (hf://, s3://), else null (file:// and paths). */
    private static SourceUri remote(String uri) {
        if (!uri.startsWith("hf://") && !uri.startsWith("s3://")) {
            return null;
        }
        try {
            return SourceUri.parse(uri);
        } catch (SourceException e) {
            throw ServiceError.invalid("source", e.getMessage()).exception();
        }
    }

    /** Fetches an adapter's two files from a remote source; errors cross to the wire here, once. */
    private Fetched fetch(SourceUri uri) {
        if (sources == null) {
            throw ServiceError.invalid("source", "this node fetches no remote sources; got '" + uri.canonical()
                    + "'").exception();
        }
        try {
            return sources.fetch(uri, FileSet.ADAPTER);
        } catch (SourceException e) {
            throw toServiceError(e).exception();
        }
    }

    /** How a source's failure reads at the edge: the source's fault is a 400 naming it, a bad download a refusal. */
    public static ServiceError toServiceError(SourceException e) {
        return switch (e.kind()) {
            case CORRUPT -> ServiceError.of(ServiceError.Kind.ADAPTER_REFUSED, e.getMessage());
            case UNAVAILABLE -> ServiceError.of(ServiceError.Kind.UNAVAILABLE, e.getMessage());
            default -> ServiceError.invalid("source", e.getMessage());
        };
    }

    /**
     * A {@code file://} URI or absolute path that lies under an allowed root (checked on the normalized path and
     * again on the real path, so {@code ..} and symlinks cannot leave the roots).
     */
    Path resolveAllowed(String uri) {
        Path p;
        try {
            p = uri.startsWith("file:") ? Path.of(URI.create(uri)) : Path.of(uri);
        } catch (IllegalArgumentException | java.nio.file.FileSystemNotFoundException e) {
            throw ServiceError.invalid("source", "source must be a file:// URI or an absolute path: " + e.getMessage())
                    .exception();
        }
        if (!uri.startsWith("file:") && uri.contains("://")) {
            throw ServiceError.invalid("source", "only file://, hf://ORG/REPO[@REVISION][/SUBDIR] and "
                    + "s3://BUCKET/PREFIX sources (or uploads) are supported, got '" + uri + "'").exception();
        }
        if (!p.isAbsolute()) {
            throw ServiceError.invalid("source", "source path must be absolute, got '" + uri + "'").exception();
        }
        if (allowedRoots.isEmpty()) {
            throw ServiceError.invalid("source", "file:// sources are disabled on this node (no "
                    + "quiver.node.allowed-adapter-roots configured); upload the adapter instead").exception();
        }
        Path norm = p.normalize();
        if (allowedRoots.stream().noneMatch(norm::startsWith)) {
            throw ServiceError.invalid("source", "'" + norm + "' is not under an allowed adapter root "
                    + allowedRoots).exception();
        }
        if (!Files.isDirectory(norm)) {
            throw ServiceError.invalid("source", "'" + norm + "' is not a directory").exception();
        }
        try {
            Path real = norm.toRealPath();
            boolean ok = false;
            for (Path r : allowedRoots) {
                if (Files.exists(r) && real.startsWith(r.toRealPath())) {
                    ok = true;
                }
            }
            if (!ok) {
                throw ServiceError.invalid("source", "'" + norm + "' resolves outside the allowed adapter roots")
                        .exception();
            }
            return real;
        } catch (IOException e) {
            throw ServiceError.invalid("source", "cannot read '" + norm + "': " + e.getMessage()).exception();
        }
    }

    private void copyFrom(Path src, Path dir) throws IOException {
        for (String f : List.of(CONFIG, WEIGHTS)) {
            Path file = src.resolve(f);
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                String hint = f.equals(WEIGHTS) && Files.exists(src.resolve("adapter_model.bin"))
                        ? " (adapter_model.bin is a pickle and is never loaded; save with safetensors)" : "";
                throw refused("'" + src + "' has no " + f + hint);
            }
            if (Files.size(file) > maxFileBytes) {
                throw refused(f + " is " + Files.size(file) + " bytes, over the limit of " + maxFileBytes);
            }
            Files.copy(file, dir.resolve(f));
        }
    }

    private static void write(Map<String, byte[]> files, Path dir, String what) throws IOException {
        for (String f : List.of(CONFIG, WEIGHTS)) {
            byte[] data = files.get(f);
            if (data == null) {
                throw refused(what + " has no " + f + " (send adapter_config.json and adapter_model.safetensors)");
            }
            Files.write(dir.resolve(f), data);
        }
    }

    private static RuntimeException refused(String why) {
        return ServiceError.of(ServiceError.Kind.ADAPTER_REFUSED, why).exception();
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

}
