package dev.quiver.sources;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

/**
 * The content-addressed download cache shared by model and adapter fetches, on local disk:
 * <pre>
 *   blobs/&lt;sha256&gt;                         every verified file, once, named by its digest
 *   partial/&lt;key&gt;.part                     downloads in progress (resumed from where they stopped)
 *   snapshots/&lt;source&gt;/&lt;commit&gt;[/SUBDIR]/  the files of one resolved revision, hard links to blobs
 *   manifests/&lt;source&gt;/&lt;commit&gt;/&lt;set&gt;.json  written last: this snapshot is complete for that file set
 *   refs/&lt;source&gt;/&lt;revision&gt;             the commit a branch or tag last resolved to (offline mode)
 * </pre>
 * A blob enters only by {@link #adopt} after its digest was checked, so a snapshot never points at unverified bytes.
 */
public final class DownloadCache {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path root;

    public DownloadCache(Path root) {
        this.root = root.toAbsolutePath().normalize();
        try {
            for (String d : new String[] {"blobs", "partial", "snapshots", "manifests", "refs"}) {
                Files.createDirectories(this.root.resolve(d));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the download cache " + this.root, e);
        }
    }

    public Path root() {
        return root;
    }

    public Path blob(String sha256) {
        return root.resolve("blobs").resolve(sha256);
    }

    public boolean hasBlob(String sha256, long size) {
        Path b = blob(sha256);
        try {
            return Files.isRegularFile(b) && (size < 0 || Files.size(b) == size);
        } catch (IOException e) {
            return false;
        }
    }

    /** Where a download of {@code key} is kept while in progress. */
    Path partial(String key) {
        return root.resolve("partial").resolve(escape(key) + ".part");
    }

    /** Moves a verified download into the blob store (atomically; a concurrent identical blob wins harmlessly). */
    Path adopt(Path partial, String sha256) throws IOException {
        Path target = blob(sha256);
        if (Files.exists(target)) {
            Files.deleteIfExists(partial);
            return target;
        }
        Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return target;
    }

    /** The snapshot directory of a source key at a commit (created). */
    Path snapshot(String sourceKey, String commit, String subdir) throws IOException {
        Path dir = root.resolve("snapshots").resolve(sourceKey).resolve(commit);
        if (!subdir.isEmpty()) {
            dir = dir.resolve(subdir);
        }
        Files.createDirectories(dir);
        return dir;
    }

    /** Puts blob {@code sha256} into {@code dir} as {@code name}: a hard link, or a copy where links fail. */
    void link(Path dir, String name, String sha256) throws IOException {
        Path target = dir.resolve(name);
        Path blob = blob(sha256);
        if (Files.exists(target)) {
            if (Files.isSameFile(target, blob)) {
                return;
            }
            Files.delete(target);
        }
        try {
            Files.createLink(target, blob);
        } catch (FileAlreadyExistsException e) {
            // a concurrent fetch of the same snapshot linked it first
        } catch (IOException | UnsupportedOperationException e) {
            Path tmp = dir.resolve("." + name + "." + UUID.randomUUID() + ".tmp");
            Files.copy(blob, tmp);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The files (name → sha256) of a complete snapshot, if one was recorded and its blobs are still there. */
    Optional<Map<String, String>> manifest(String sourceKey, String commit, String setKey) {
        Path m = manifestPath(sourceKey, commit, setKey);
        if (!Files.isRegularFile(m)) {
            return Optional.empty();
        }
        try {
            Map<String, String> files = JSON.readValue(m.toFile(), new TypeReference<TreeMap<String, String>>() { });
            for (String sha : files.values()) {
                if (!Files.isRegularFile(blob(sha))) {
                    return Optional.empty();
                }
            }
            return Optional.of(files);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    void writeManifest(String sourceKey, String commit, String setKey, Map<String, String> files) throws IOException {
        Path m = manifestPath(sourceKey, commit, setKey);
        Files.createDirectories(m.getParent());
        Path tmp = m.resolveSibling(m.getFileName() + "." + UUID.randomUUID() + ".tmp");
        JSON.writeValue(tmp.toFile(), new TreeMap<>(files));
        Files.move(tmp, m, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    Optional<String> ref(String sourceKey, String revision) {
        Path r = root.resolve("refs").resolve(sourceKey).resolve(escape(revision));
        try {
            return Files.isRegularFile(r) ? Optional.of(Files.readString(r).strip()) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    void writeRef(String sourceKey, String revision, String commit) throws IOException {
        Path r = root.resolve("refs").resolve(sourceKey).resolve(escape(revision));
        Files.createDirectories(r.getParent());
        Path tmp = r.resolveSibling("." + UUID.randomUUID() + ".tmp");
        Files.writeString(tmp, commit);
        Files.move(tmp, r, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private Path manifestPath(String sourceKey, String commit, String setKey) {
        return root.resolve("manifests").resolve(sourceKey).resolve(commit).resolve(escape(setKey) + ".json");
    }

    /** A file-name-safe form of a revision, subdir or key (branch names may hold '/'). */
    static String escape(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("*", "%2A");
    }
}
