package dev.quiver.gpu.bench.peer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * llama.cpp for the peer benchmark: the source that the npm package {@code node-llama-cpp@3.22.1} bundles (a git
 * bundle, {@code llama/gitRelease.bundle}), fetched with {@code npm pack} into the cache, built for this CPU
 * (cmake, Release, {@code GGML_NATIVE}, OpenMP, shared libraries, the {@code llama} library only), and Quiver's
 * driver ({@code peer_driver.cpp}, a resource of this package) compiled against it. Each step is skipped when its
 * output is already in the cache; {@link #prebuilt} uses a llama.cpp tree built elsewhere instead.
 */
final class LlamaCpp {
    static final String NPM_PACKAGE = "node-llama-cpp@3.22.1";
    private static final Duration FETCH_LIMIT = Duration.ofMinutes(10);
    private static final Duration BUILD_LIMIT = Duration.ofMinutes(60);

    /** The built tree: its source root (headers), the directory with libllama, the driver and the commit. */
    record Build(Path source, Path libDir, Path driver, String commit) {
    }

    private LlamaCpp() {
    }

    /** Fetches, builds and compiles whatever is missing under {@code cache}. */
    static Build ensure(Path cache, int jobs, Log log) {
        Path src = cache.resolve("llama.cpp");
        Path lib = src.resolve("build").resolve("bin");
        if (!Files.exists(lib.resolve("libllama.so"))) {
            Path npm = cache.resolve("npm");
            Path tgz = npm.resolve("node-llama-cpp-3.22.1.tgz");
            mkdirs(npm);
            if (!Files.exists(tgz)) {
                log.say("fetching " + NPM_PACKAGE + " from the npm registry");
                Processes.run(List.of("npm", "pack", NPM_PACKAGE), npm, npm.resolve("npm-pack.log"), FETCH_LIMIT);
            }
            Path bundle = npm.resolve("package/llama/gitRelease.bundle");
            if (!Files.exists(bundle)) {
                Processes.run(List.of("tar", "xzf", tgz.toString(), "package/llama/gitRelease.bundle",
                        "package/llama/llama.cpp.info.json"), npm, npm.resolve("tar.log"), FETCH_LIMIT);
            }
            if (!Files.exists(src.resolve("CMakeLists.txt"))) {
                log.say("cloning the llama.cpp source bundled in " + NPM_PACKAGE);
                Processes.run(List.of("git", "clone", "-q", bundle.toString(), src.toString()), cache,
                        cache.resolve("git-clone.log"), FETCH_LIMIT);
            }
            log.say("building llama.cpp for this CPU (cmake, GGML_NATIVE, OpenMP, " + jobs
                    + " jobs; several minutes; log in " + cache.resolve("cmake-build.log") + ")");
            Processes.run(List.of("cmake", "-S", ".", "-B", "build", "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON",
                    "-DGGML_OPENMP=ON", "-DBUILD_SHARED_LIBS=ON", "-DLLAMA_BUILD_TESTS=OFF",
                    "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_TOOLS=OFF", "-DLLAMA_BUILD_SERVER=OFF",
                    "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF", "-DGGML_CCACHE=OFF"), src,
                    cache.resolve("cmake-configure.log"), FETCH_LIMIT);
            Processes.run(List.of("cmake", "--build", "build", "--target", "llama", "-j", String.valueOf(jobs)), src,
                    cache.resolve("cmake-build.log"), BUILD_LIMIT);
        }
        return withDriver(src, lib, cache, log);
    }

    /** A llama.cpp tree already built (its {@code build/bin} holds libllama.so); only the driver is compiled. */
    static Build prebuilt(Path llamaCppDir, Path cache, Log log) {
        Path lib = llamaCppDir.resolve("build").resolve("bin");
        if (!Files.exists(lib.resolve("libllama.so")) || !Files.exists(llamaCppDir.resolve("include/llama.h"))) {
            throw new IllegalArgumentException("--llama-cpp " + llamaCppDir + ": no include/llama.h and "
                    + "build/bin/libllama.so there (a llama.cpp source tree built with BUILD_SHARED_LIBS=ON)");
        }
        return withDriver(llamaCppDir, lib, cache, log);
    }

    private static Build withDriver(Path src, Path lib, Path cache, Log log) {
        Path dir = cache.resolve("driver");
        mkdirs(dir);
        Path cpp = dir.resolve("peer_driver.cpp");
        Path exe = dir.resolve("peer_driver-" + Integer.toHexString(src.toAbsolutePath().toString().hashCode()));
        byte[] source = resource("peer_driver.cpp");
        try {
            boolean same = Files.exists(cpp) && Arrays.equals(Files.readAllBytes(cpp), source);
            if (!same || !Files.exists(exe)) {
                Files.write(cpp, source);
                log.say("compiling the llama.cpp driver " + exe);
                List<String> cmd = new ArrayList<>(List.of("c++", "-O2", "-std=c++17", "-o", exe.toString(),
                        cpp.toString(), "-I" + src.resolve("include"), "-I" + src.resolve("ggml/include"),
                        "-L" + lib, "-lllama", "-Wl,-rpath," + lib));
                Processes.run(cmd, dir, dir.resolve("compile.log"), FETCH_LIMIT);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + cpp + ": " + e.getMessage(), e);
        }
        String commit = Processes.output(List.of("git", "-C", src.toString(), "rev-parse", "--short", "HEAD"), dir,
                dir.resolve("git-rev.log"), Duration.ofSeconds(30)).strip();
        return new Build(src, lib, exe, commit);
    }

    private static byte[] resource(String name) {
        try (InputStream in = LlamaCpp.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("resource " + name + " is missing from the jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void mkdirs(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Progress lines for the user (stderr), apart from the table (stdout). */
    @FunctionalInterface
    interface Log {
        void say(String line);
    }
}
