package dev.quiver.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.quiver.sources.FileSet;
import dev.quiver.sources.Fetched;
import dev.quiver.sources.SourceException;
import dev.quiver.sources.SourceUri;
import dev.quiver.sources.Sources;
import dev.quiver.sources.SourcesSettings;

/**
 * The base model's source at node start: {@code quiver.node.model-dir} may be {@code hf://ORG/REPO[@REV][/SUBDIR]}
 * or {@code s3://BUCKET/PREFIX}; it is fetched into the download cache (verified, with progress) and the
 * config is rewritten to the local snapshot directory, so everything after start reads a plain directory. With no
 * {@code served-model-name}, the repo's name (after the org) or the prefix's last segment is the model's name, as a
 * local directory's name is.
 */
final class ModelSource {
    private ModelSource() {
    }

    /** The sources of this node, from {@code quiver.sources} (the module's defaults where the config lacks it). */
    static Sources sources(Config config) {
        Config c = config.hasPath("quiver.sources") ? config : ConfigFactory.defaultReference();
        return Sources.create(SourcesSettings.fromConfig(c));
    }

    /** {@code config} with a remote model-dir fetched and replaced by its local directory; else unchanged. */
    static Config materialize(Config config, Sources sources) {
        if (!config.hasPath("quiver.node.model-dir")) {
            return config;
        }
        String dir = config.getString("quiver.node.model-dir").strip();
        if (!dir.startsWith("hf://") && !dir.startsWith("s3://")) {
            return config;
        }
        SourceUri uri;
        try {
            uri = SourceUri.parse(dir);
        } catch (SourceException e) {
            throw new IllegalArgumentException("quiver.node.model-dir: " + e.getMessage());
        }
        Fetched f;
        try {
            f = sources.fetch(uri, FileSet.MODEL);
        } catch (SourceException e) {
            throw new IllegalStateException("cannot fetch the base model (quiver.node.model-dir): " + e.getMessage(), e);
        }
        Config out = config.withValue("quiver.node.model-dir", ConfigValueFactory.fromAnyRef(f.dir().toString()));
        if (config.getString("quiver.node.served-model-name").isBlank()) {
            out = out.withValue("quiver.node.served-model-name", ConfigValueFactory.fromAnyRef(defaultName(uri)));
        }
        return out;
    }

    /** The repo's name after the org (hf://org/NAME), or the last segment of an S3 prefix (s3://b/models/NAME/). */
    private static String defaultName(SourceUri uri) {
        if (uri instanceof SourceUri.Hub h) {
            return h.repo().substring(h.repo().indexOf('/') + 1);
        }
        SourceUri.S3 s = (SourceUri.S3) uri;
        String p = s.prefix().endsWith("/") ? s.prefix().substring(0, s.prefix().length() - 1) : s.prefix();
        return p.isEmpty() ? s.bucket() : p.substring(p.lastIndexOf('/') + 1);
    }
}
