package dev.quiver.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.quiver.edge.auth.ApiKeys;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelMaker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Test fixtures: the tiny demo model (written once per JVM, as {@code bin/quiver model make} does, with four
 * adapters) and nodes over it on a free loopback port, with API keys of three tenants.
 */
public final class TestNodes {
    public static final String ADMIN_A = "sk-test-admin-a";
    public static final String USER_A = "sk-test-user-a";
    public static final String ADMIN_B = "sk-test-admin-b";
    public static final String USER_B = "sk-test-user-b";
    /** Tenant "limited": one request at a time. */
    public static final String USER_LIMITED = "sk-test-user-limited";
    /** Tenant "metered": 200 tokens per minute. */
    public static final String USER_METERED = "sk-test-user-metered";

    private static Path model;
    private static Path scratch;

    private TestNodes() {
    }

    /** The demo model directory, with adapters under adapters/adapter-01..04. */
    public static synchronized Path model() {
        if (model == null) {
            try {
                scratch = Files.createTempDirectory("quiver-node-test-");
                Path dir = scratch.resolve("demo-model");
                ModelMaker.writeDemo(dir, 512, ModelMaker.Shape::tiny, DType.F32, 1, 4);
                model = dir;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return model;
    }

    private static Path slowModel;

    /**
     * A base model (no adapters) big enough that one long generation takes seconds on a CPU, for tests that must
     * act while a request is still running.
     */
    public static synchronized Path slowModel() {
        if (slowModel == null) {
            Path dir = scratch().resolve("slow-model");
            ModelMaker.writeDemo(dir, 512, vocab -> new ModelMaker.Shape(256, 688, 6, 8, 4, vocab, 4096, false, false),
                    DType.F32, 3, 0);
            slowModel = dir;
        }
        return slowModel;
    }

    /** A scratch directory for a test's own files (an allowed adapter root). */
    public static Path scratch() {
        model();
        return scratch;
    }

    public static Config config(String extra) {
        Path m = model();
        String keys = String.join(",\n",
                key("admin-a", ADMIN_A, "a", "admin"), key("user-a", USER_A, "a", "user"),
                key("admin-b", ADMIN_B, "b", "admin"), key("user-b", USER_B, "b", "user"),
                key("user-limited", USER_LIMITED, "limited", "user"),
                key("user-metered", USER_METERED, "metered", "user"));
        String text = "quiver.node.model-dir = \"" + m + "\"\n"
                + "quiver.node.persistence = in-memory\n"
                + "quiver.node.served-model-name = \"quiver-demo\"\n"
                + "quiver.node.adapter-store = \"" + scratch.resolve("store-" + System.nanoTime()) + "\"\n"
                + "quiver.node.allowed-adapter-roots = [\"" + scratch + "\"]\n"
                + "quiver.node.metrics-interval = 200ms\n"
                + "quiver.edge.port = 0\n"
                + "quiver.edge.max-request-size = 64KiB\n"
                + "quiver.edge.shutdown-deadline = 5s\n"
                + "quiver.edge.tenants { limited { max-concurrent-requests = 1, tokens-per-minute = 0 }, "
                + "metered { max-concurrent-requests = 0, tokens-per-minute = 200 } }\n"
                + "quiver.edge.api-keys = [" + keys + "]\n"
                + "quiver.engine { threads = 2, kv-cache-memory = 2MiB, max-loras = 4, max-cpu-loras = 8 }\n"
                + "kamon.metric.tick-interval = 300ms\n"
                + "pekko.remote.artery.canonical.port = 0\n"
                + extra + "\n";
        return ConfigFactory.parseString(text).withFallback(ConfigFactory.defaultReference()).resolve();
    }

    private static String key(String name, String key, String tenant, String role) {
        return "{ name = \"" + name + "\", sha256 = \"" + ApiKeys.sha256Hex(key) + "\", tenant = \"" + tenant
                + "\", role = \"" + role + "\" }";
    }

    /** A started node with the four demo adapters registered as shared adapters of the default tenant. */
    public static QuiverNode startWithDemoAdapters(String extra) {
        QuiverNode n = QuiverNode.start(config(extra));
        try {
            n.registerAll(model().resolve("adapters"));
        } catch (IOException e) {
            n.stop();
            throw new UncheckedIOException(e);
        }
        return n;
    }
}
