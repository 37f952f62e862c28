package dev.quiver.sources;

import com.typesafe.config.ConfigFactory;

/**
 * {@code bin/quiver fetch SOURCE [--adapter]}: downloads a model (or, with {@code --adapter}, an adapter) into the
 * download cache with a progress bar per file, and prints the local directory on stdout (so scripts can pass it
 * on, e.g. to {@code bin/quiver generate --model}). Settings: {@code quiver.sources.*}, {@code HF_ENDPOINT},
 * {@code HF_TOKEN}, {@code HF_HUB_OFFLINE}. Exit status 0, or 1 with the reason on stderr.
 */
public final class SourcesCli {
    private SourcesCli() {
    }

    public static void main(String[] args) {
        String source = null;
        FileSet set = FileSet.MODEL;
        for (String a : args) {
            switch (a) {
                case "--adapter" -> set = FileSet.ADAPTER;
                case "-h", "--help" -> {
                    System.out.println("usage: bin/quiver fetch hf://ORG/REPO[@REVISION][/SUBDIR] | s3://BUCKET/PREFIX [--adapter]");
                    return;
                }
                default -> {
                    if (source != null || a.startsWith("--")) {
                        System.err.println("quiver: unexpected argument '" + a + "'");
                        System.exit(2);
                    }
                    source = a;
                }
            }
        }
        if (source == null) {
            System.err.println("usage: bin/quiver fetch hf://ORG/REPO[@REVISION][/SUBDIR] | s3://BUCKET/PREFIX [--adapter]");
            System.exit(2);
        }
        try {
            Sources sources = Sources.create(SourcesSettings.fromConfig(ConfigFactory.load()));
            // NOTE: this tool has no logging backend: progress goes to stderr itself, bars on a terminal, else lines.
            Fetched f;
            try (DownloadProgress p = System.console() != null ? DownloadProgress.toTerminal(System.err)
                    : DownloadProgress.toLog(line -> System.err.println("quiver: " + line),
                    sources.settings().logInterval())) {
                f = sources.fetch(SourceUri.parse(source), set, p);
            }
            System.err.println("quiver: " + f.describe() + ": " + f.files());
            System.out.println(f.dir());
        } catch (SourceException | IllegalArgumentException e) {
            System.err.println("quiver: " + e.getMessage());
            System.exit(1);
        }
    }
}
