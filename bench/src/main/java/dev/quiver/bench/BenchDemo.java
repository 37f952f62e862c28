package dev.quiver.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * {@code bin/quiver bench demo [--adapters 100] [--rates 1,2,4] [--duration 60] [--warmup 10] [--out DIR]
 * [--model-dir DIR] [load options...]}: the recorded benchmark in one command. It makes the tiny demo model with N
 * adapters (when the directory does not already hold one with enough adapters), starts a node as a child process
 * ({@code bin/quiver serve --config conf/quiver.conf}, adapters registered at start, registry in memory, port
 * chosen by the OS on loopback), runs a short warm-up and then {@link LoadGenerator} once per rate, and writes
 * {@code rate-R.html}, {@code rate-R.json}, {@code node.log} and {@code summary.md} under the output directory
 * (default {@code .quiver/bench/demo-TIMESTAMP}). The node is stopped at the end, on failure and on Ctrl-C.
 * Options it does not know are passed to every load run (e.g. {@code --zipf 1.2 --output-tokens fixed:64}).
 */
public final class BenchDemo {
    private static final String USAGE = "usage: bin/quiver bench demo [--adapters 100] [--rates 1,2,4] "
            + "[--duration 60] [--warmup 10] [--out DIR] [--model-dir DIR] [bench load options...]";

    private BenchDemo() {
    }

    public static void main(String[] argv) {
        try {
            System.exit(run(argv));
        } catch (IllegalArgumentException e) {
            System.err.println("quiver: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
        } catch (IllegalStateException | IOException e) {
            System.err.println("quiver: " + e.getMessage());
            System.exit(1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            System.exit(130);
        }
    }

    static int run(String[] argv) throws IOException, InterruptedException {
        Path home = Path.of(System.getProperty("quiver.home", ".")).toAbsolutePath().normalize();
        int adapters = 100;
        List<Double> rates = List.of(1.0, 2.0, 4.0);
        double duration = 60;
        double warmup = 10;
        Path out = null;
        Path modelDir = null;
        List<String> pass = new ArrayList<>();
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "-h", "--help" -> {
                    System.out.println(USAGE);
                    return 0;
                }
                case "--adapters" -> adapters = Integer.parseInt(value(argv, ++i));
                case "--rates" -> rates = Arrays.stream(value(argv, ++i).split(",")).map(String::trim)
                        .map(Double::parseDouble).toList();
                case "--duration" -> duration = Double.parseDouble(value(argv, ++i));
                case "--warmup" -> warmup = Double.parseDouble(value(argv, ++i));
                case "--out" -> out = Path.of(value(argv, ++i));
                case "--model-dir" -> modelDir = Path.of(value(argv, ++i));
                case "--url", "--rate", "--requests", "--adapter-names", "--adapter-format", "--html", "--json" ->
                        throw new IllegalArgumentException(argv[i] + " is set by bench demo itself");
                default -> {
                    pass.add(argv[i]);
                    if (argv[i].startsWith("--") && i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
                        pass.add(argv[++i]);
                    }
                }
            }
        }
        if (adapters < 1 || rates.isEmpty() || duration <= 0) {
            throw new IllegalArgumentException("needs --adapters >= 1, at least one rate and --duration > 0");
        }
        if (out == null) {
            out = home.resolve(".quiver/bench/demo-" + LocalDateTime.now().format(
                    DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }
        out = out.toAbsolutePath().normalize();
        Files.createDirectories(out);
        if (modelDir == null) {
            modelDir = home.resolve(".quiver/bench/demo-model-" + adapters);
        }
        modelDir = modelDir.toAbsolutePath().normalize();
        ensureModel(home, modelDir, adapters);

        Node node = Node.start(home, modelDir, out);
        Thread hook = new Thread(node::stop, "bench-demo-stop-node");
        Runtime.getRuntime().addShutdownHook(hook);
        List<BenchReport> reports = new ArrayList<>();
        try {
            System.out.println("quiver bench demo: node up at " + node.url + " with " + adapters + " adapters; log "
                    + out.resolve("node.log"));
            if (warmup > 0) {
                List<String> args = loadArgs(node, adapters, rates.get(0), warmup, pass);
                args.add("--quiet");
                System.out.printf("quiver bench demo: warm-up, %.0f s at %s req/s (not recorded)%n", warmup,
                        BenchReport.num(rates.get(0)));
                new LoadGenerator(LoadSettings.parse(args.toArray(String[]::new)), System.err).run();
            }
            for (double rate : rates) {
                List<String> args = loadArgs(node, adapters, rate, duration, pass);
                String tag = "rate-" + BenchReport.num(rate);
                args.addAll(List.of("--html", out.resolve(tag + ".html").toString(),
                        "--json", out.resolve(tag + ".json").toString()));
                LoadSettings s = LoadSettings.parse(args.toArray(String[]::new));
                System.out.printf("%nquiver bench demo: %s req/s for %s s%n", BenchReport.num(rate),
                        BenchReport.num(duration));
                BenchReport r = new LoadGenerator(s, System.err).run();
                r.write(s.html(), s.json());
                System.out.print(r.text());
                reports.add(r);
            }
        } finally {
            node.stop();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // already shutting down: the hook runs (stop is idempotent)
            }
        }
        String summary = summary(reports, adapters, duration, warmup, pass, modelDir);
        Files.writeString(out.resolve("summary.md"), summary, StandardCharsets.UTF_8);
        System.out.println();
        System.out.print(summary);
        System.out.println("reports: " + out);
        return reports.stream().allMatch(r -> r.completed() > 0) ? 0 : 1;
    }

    private static List<String> loadArgs(Node node, int adapters, double rate, double duration, List<String> pass) {
        List<String> a = new ArrayList<>(List.of("--url", node.url, "--api-key", node.key, "--rate",
                Double.toString(rate), "--duration", Double.toString(duration), "--adapters",
                Integer.toString(adapters)));
        a.addAll(pass);
        return a;
    }

    static String summary(List<BenchReport> reports, int adapters, double duration, double warmup, List<String> pass,
                          Path model) {
        StringBuilder b = new StringBuilder();
        b.append("Demo model ").append(model.getFileName()).append(" with ").append(adapters).append(" adapters, ")
                .append(BenchReport.num(duration)).append(" s per rate after a ").append(BenchReport.num(warmup))
                .append(" s warm-up")
                .append(pass.isEmpty() ? "" : "; load options " + String.join(" ", pass)).append(".\n\n");
        if (reports.isEmpty()) {
            return b.toString();
        }
        Map<String, String> first = reports.get(0).row();
        b.append("| ").append(String.join(" | ", first.keySet())).append(" |\n|");
        b.append("---|".repeat(first.size())).append('\n');
        for (BenchReport r : reports) {
            b.append("| ").append(String.join(" | ", r.row().values())).append(" |\n");
        }
        for (BenchReport r : reports) {
            if (!r.failures().isEmpty()) {
                b.append("\nFailures at ").append(String.format("%.2f", r.offeredRate())).append(" req/s: ")
                        .append(r.failures()).append('\n');
            }
        }
        return b.toString();
    }

    /** Makes the demo model with {@code adapters} adapters unless {@code dir} already has them. */
    private static void ensureModel(Path home, Path dir, int adapters) throws IOException, InterruptedException {
        if (Files.isRegularFile(dir.resolve("config.json")) && Files.isDirectory(dir.resolve("adapters"))) {
            long have;
            try (Stream<Path> s = Files.list(dir.resolve("adapters"))) {
                have = s.filter(Files::isDirectory).count();
            }
            if (have >= adapters) {
                return;
            }
            throw new IllegalStateException(dir + " holds " + have + " adapters, fewer than " + adapters
                    + "; remove it or give another --model-dir");
        }
        System.out.println("quiver bench demo: making the demo model with " + adapters + " adapters in " + dir);
        Process p = new ProcessBuilder(home.resolve("bin/quiver").toString(), "model", "make", dir.toString(),
                "--size", "tiny", "--adapters", Integer.toString(adapters)).directory(home.toFile()).inheritIO()
                .start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("bin/quiver model make failed (exit " + p.exitValue() + ")");
        }
    }

    private static String value(String[] argv, int i) {
        if (i >= argv.length) {
            throw new IllegalArgumentException(argv[i - 1] + " needs a value");
        }
        return argv[i];
    }

    /** The node child process: its URL and admin key as it printed them, and its log. */
    static final class Node {
        final Process process;
        final String url;
        final String key;

        private Node(Process process, String url, String key) {
            this.process = process;
            this.url = url;
            this.key = key;
        }

        static Node start(Path home, Path model, Path out) throws IOException, InterruptedException {
            ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/quiver").toString(), "serve", "--config",
                    home.resolve("conf/quiver.conf").toString(), "--model-dir", model.toString(), "--port", "0",
                    "--register-adapters", model.resolve("adapters").toString())
                    .directory(home.toFile()).redirectErrorStream(true);
            // NOTE: the registry stays in memory (no Cassandra beside the node on a 2-core machine) and accepted
            // adapter copies go under this run's output directory.
            String opts = System.getenv().getOrDefault("QUIVER_JAVA_OPTS", "");
            pb.environment().put("QUIVER_JAVA_OPTS", (opts + " -Dquiver.node.persistence=in-memory"
                    + " -Dquiver.node.adapter-store=" + out.resolve("adapter-store")).trim());
            Process p = pb.start();
            CompletableFuture<String> url = new CompletableFuture<>();
            CompletableFuture<String> key = new CompletableFuture<>();
            Thread pump = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                        StandardCharsets.UTF_8));
                     PrintWriter log = new PrintWriter(Files.newBufferedWriter(out.resolve("node.log")), true)) {
                    for (String line; (line = in.readLine()) != null; ) {
                        log.println(line);
                        int up = line.indexOf("Quiver is up: ");
                        if (up >= 0) {
                            url.complete(line.substring(up + 14).trim().split("\\s+")[0]);
                        }
                        int k = line.indexOf("generated for this run): ");
                        if (k >= 0) {
                            key.complete(line.substring(k + 25).trim());
                        }
                    }
                } catch (IOException ignored) {
                    // the node went away; the waits below report it
                } finally {
                    url.complete(null);
                    key.complete(null);
                }
            }, "bench-demo-node-log");
            pump.setDaemon(true);
            pump.start();
            Node n;
            try {
                String u = url.get(180, TimeUnit.SECONDS);
                String k = u == null ? null : key.get(5, TimeUnit.SECONDS);
                if (u == null || k == null) {
                    throw new IllegalStateException("the node did not start (see " + out.resolve("node.log") + ")");
                }
                n = new Node(p, u, k);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException
                     | RuntimeException e) {
                new Node(p, null, null).stop();
                throw e instanceof IllegalStateException ise ? ise
                        : new IllegalStateException("the node did not start in time (see " + out.resolve("node.log")
                        + ")");
            }
            return n;
        }

        /** SIGTERM (the node drains and stops), then a kill after 30 s; every descendant too. Idempotent. */
        synchronized void stop() {
            if (!process.isAlive()) {
                return;
            }
            List<ProcessHandle> kids = process.descendants().toList();
            process.destroy();
            kids.forEach(ProcessHandle::destroy);
            try {
                if (!process.waitFor(30, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
            kids.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
            System.out.println("quiver bench demo: node stopped");
        }
    }
}
