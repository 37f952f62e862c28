package dev.quiver.sources;

import java.net.URI;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * Where a model or an adapter lives, parsed once from what a person typed:
 * <ul>
 *   <li>{@code hf://ORG/REPO[@REVISION][/SUBDIR]}: a Hugging Face Hub model repo; the revision is a branch, tag or
 *       commit (default {@code main}); SUBDIR selects the files under one folder of the repo.</li>
 *   <li>{@code s3://BUCKET/PREFIX}: the objects under a prefix of an S3-compatible bucket.</li>
 *   <li>{@code file:///ABS/PATH} or a plain path: a local directory.</li>
 * </ul>
 * {@link #parse} refuses anything else with an {@link SourceException.Kind#INVALID} error that says what is wrong.
 */
public sealed interface SourceUri permits SourceUri.Hub, SourceUri.S3, SourceUri.Local {

    /** The canonical form, e.g. {@code hf://org/repo@main/sub}. */
    String canonical();

    /** True for sources fetched over the network (Hub, S3), false for local directories. */
    default boolean remote() {
        return !(this instanceof Local);
    }

    /** A Hub repo at a revision; {@code subdir} is "" for the repo root. */
    record Hub(String repo, String revision, String subdir) implements SourceUri {
        /** True when the revision is a full commit sha (40 hex digits): pinned, it never moves. */
        public boolean pinned() {
            return COMMIT.matcher(revision).matches();
        }

        /** This repo and subdir at another revision (a resolved commit). */
        public Hub at(String rev) {
            return new Hub(repo, rev, subdir);
        }

        @Override
        public String canonical() {
            return "hf://" + repo + "@" + revision + (subdir.isEmpty() ? "" : "/" + subdir);
        }
    }

    /** The objects under {@code prefix} ("" = the whole bucket) in {@code bucket}. */
    record S3(String bucket, String prefix) implements SourceUri {
        @Override
        public String canonical() {
            return "s3://" + bucket + "/" + prefix;
        }
    }

    /** A local directory (absolute or relative to the working directory, as given). */
    record Local(Path path) implements SourceUri {
        @Override
        public String canonical() {
            return path.toString();
        }
    }

    Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");
    /** The Hub's rule for org and repo names: letters, digits, '-', '_', '.', not starting or ending with - or . */
    Pattern HUB_NAME = Pattern.compile("[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?");
    Pattern REVISION = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,199}");
    Pattern S3_BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");

    /** Parses a source; throws {@link SourceException} (kind INVALID) naming what is wrong. */
    static SourceUri parse(String text) {
        if (text == null || text.isBlank()) {
            throw SourceException.invalid("the source is empty: give hf://ORG/REPO[@REVISION][/SUBDIR], "
                    + "s3://BUCKET/PREFIX, file:///PATH or a path");
        }
        String s = text.strip();
        if (s.startsWith("hf://")) {
            return parseHub(s);
        }
        if (s.startsWith("s3://")) {
            return parseS3(s);
        }
        if (s.startsWith("file:")) {
            try {
                URI u = URI.create(s);
                if (u.getAuthority() != null && !u.getAuthority().isEmpty() && !u.getAuthority().equals("localhost")) {
                    throw SourceException.invalid("file:// sources name a local path; '" + s + "' names host '"
                            + u.getAuthority() + "' (write file:///ABS/PATH)");
                }
                return new Local(Path.of(new URI("file", null, u.getPath(), null)));
            } catch (IllegalArgumentException | java.net.URISyntaxException e) {
                throw SourceException.invalid("'" + s + "' is not a valid file:// URI: " + e.getMessage());
            }
        }
        int scheme = s.indexOf("://");
        if (scheme > 0) {
            throw SourceException.invalid("unknown source scheme '" + s.substring(0, scheme) + "://' in '" + s
                    + "': use hf://, s3://, file:// or a path");
        }
        try {
            return new Local(Path.of(s));
        } catch (InvalidPathException e) {
            throw SourceException.invalid("'" + s + "' is not a valid path: " + e.getMessage());
        }
    }

    private static Hub parseHub(String s) {
        String rest = s.substring("hf://".length());
        String[] parts = rest.split("/", -1);
        if (parts.length < 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
            throw SourceException.invalid("'" + s + "' must name a Hub repo as hf://ORG/REPO[@REVISION][/SUBDIR]");
        }
        String org = parts[0];
        String repoAndRev = parts[1];
        String revision = "main";
        int at = repoAndRev.indexOf('@');
        String repoName = at < 0 ? repoAndRev : repoAndRev.substring(0, at);
        if (at >= 0) {
            revision = repoAndRev.substring(at + 1);
            if (revision.isEmpty()) {
                throw SourceException.invalid("'" + s + "' has an empty revision after '@'");
            }
        }
        if (!HUB_NAME.matcher(org).matches()) {
            throw SourceException.invalid("'" + org + "' in '" + s + "' is not a valid Hub organisation or user name");
        }
        if (!HUB_NAME.matcher(repoName).matches()) {
            throw SourceException.invalid("'" + repoName + "' in '" + s + "' is not a valid Hub repo name");
        }
        if (!REVISION.matcher(revision).matches() || revision.contains("..")) {
            throw SourceException.invalid("'" + revision + "' in '" + s + "' is not a valid revision (a branch, tag "
                    + "or commit sha)");
        }
        StringBuilder sub = new StringBuilder();
        for (int i = 2; i < parts.length; i++) {
            String p = parts[i];
            if (p.isEmpty() && i == parts.length - 1) {
                continue;
            }
            if (p.isEmpty() || p.equals(".") || p.equals("..") || p.contains("\\")) {
                throw SourceException.invalid("the subdirectory in '" + s + "' must be a relative path without "
                        + "empty, '.' or '..' segments");
            }
            if (p.indexOf('@') >= 0) {
                throw SourceException.invalid("'" + s + "': the revision goes after the repo name "
                        + "(hf://ORG/REPO@REVISION/SUBDIR)");
            }
            sub.append(sub.length() == 0 ? "" : "/").append(p);
        }
        return new Hub(org + "/" + repoName, revision, sub.toString());
    }

    private static S3 parseS3(String s) {
        String rest = s.substring("s3://".length());
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String prefix = slash < 0 ? "" : rest.substring(slash + 1);
        if (!S3_BUCKET.matcher(bucket).matches() || bucket.contains("..")) {
            throw SourceException.invalid("'" + bucket + "' in '" + s + "' is not a valid S3 bucket name "
                    + "(3-63 lowercase letters, digits, '.' and '-')");
        }
        for (String seg : prefix.split("/", -1)) {
            if (seg.equals("..") || seg.equals(".")) {
                throw SourceException.invalid("the prefix in '" + s + "' must not contain '.' or '..' segments");
            }
        }
        if (!prefix.isEmpty() && !prefix.endsWith("/")) {
            prefix = prefix + "/";
        }
        return new S3(bucket, prefix);
    }
}
