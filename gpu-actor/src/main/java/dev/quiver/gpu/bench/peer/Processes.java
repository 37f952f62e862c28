package dev.quiver.gpu.bench.peer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the external tools of the peer benchmark (npm, tar, git, cmake, c++, the llama.cpp driver), each bounded. */
final class Processes {
    private Processes() {
    }

    /**
     * Runs {@code cmd} in {@code dir} with stdout and stderr into {@code log}, waiting at most {@code limit}; a
     * non-zero exit or a timeout fails with the command and the end of its log.
     */
    static void run(List<String> cmd, Path dir, Path log, Duration limit) {
        try {
            Files.createDirectories(log.getParent());
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", cmd) + " did not finish in " + limit.toMinutes()
                        + " min; see " + log + tail(log));
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " exited with " + p.exitValue() + "; see "
                        + log + tail(log));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + cmd.get(0) + " (is it installed?): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + cmd.get(0), e);
        }
    }

    /** Runs {@code cmd} and returns its stdout (stderr into {@code log}), bounded as {@link #run}. */
    static String output(List<String> cmd, Path dir, Path log, Duration limit) {
        Path out = log.resolveSibling(log.getFileName() + ".out");
        try {
            Files.createDirectories(log.getParent());
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectError(log.toFile())
                    .redirectOutput(out.toFile()).start();
            if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", cmd) + " did not finish in " + limit.toSeconds()
                        + " s" + tail(log));
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " exited with " + p.exitValue() + tail(log));
            }
            return Files.readString(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + cmd.get(0) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + cmd.get(0), e);
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return "\n  " + String.join("\n  ", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
        } catch (IOException | UncheckedIOException e) {
            return "";
        }
    }
}
