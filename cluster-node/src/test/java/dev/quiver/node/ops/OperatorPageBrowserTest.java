package dev.quiver.node.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.node.Client;
import dev.quiver.node.QuiverNode;
import dev.quiver.node.TestNodes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code /ui} in a real browser: headless Chromium (the Debian package {@code chromium}) loads the page of a serving
 * node with an admin key in the URL fragment, and the rendered DOM shows the cluster member, the worker, a resident
 * adapter and its lifecycle events; a screenshot is kept in {@code target/ui/}. Skipped, saying so, where no Chromium
 * is installed ({@code QUIVER_CHROMIUM} names another binary).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OperatorPageBrowserTest {
    Path chromium;
    QuiverNode node;

    @BeforeAll
    void start() {
        chromium = findChromium().orElse(null);
        Assumptions.assumeTrue(chromium != null, "no Chromium here (apt-get install chromium, or set "
                + "QUIVER_CHROMIUM): the /ui browser test is skipped");
        node = TestNodes.startWithDemoAdapters("");
        Client c = new Client(node.baseUrl());
        assertEquals(200, c.post("/v1/completions", TestNodes.ADMIN_A, "{\"model\":\"adapter-01\",\"prompt\":\"Hi\","
                + "\"max_tokens\":2,\"seed\":1}").status());
    }

    @AfterAll
    void stop() {
        if (node != null) {
            node.stop();
        }
    }

    static Optional<Path> findChromium() {
        List<String> candidates = new ArrayList<>();
        Optional.ofNullable(System.getenv("QUIVER_CHROMIUM")).ifPresent(candidates::add);
        candidates.addAll(List.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"));
        return candidates.stream().map(Path::of).filter(Files::isExecutable).findFirst();
    }

    String chromium(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir="
                        + Files.createTempDirectory("quiver-chromium")));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "chromium finished");
        return new String(out, StandardCharsets.UTF_8);
    }

    static String tbody(String dom, String id) {
        Matcher m = Pattern.compile("<tbody id=\"" + id + "\">(.*?)</tbody>", Pattern.DOTALL).matcher(dom);
        assertTrue(m.find(), "no #" + id + " in\n" + dom);
        return m.group(1);
    }

    @Test
    void the_page_shows_members_workers_a_resident_adapter_and_events_and_a_screenshot_is_kept() throws Exception {
        String url = node.baseUrl() + "/ui#key=" + TestNodes.ADMIN_A;
        String dom = "";
        // The page renders after its first round of fetches; the virtual time budget lets them finish.
        for (int attempt = 0; attempt < 3 && !dom.contains("adapter-01"); attempt++) {
            dom = chromium("--virtual-time-budget=10000", "--dump-dom", url);
        }
        String members = tbody(dom, "members");
        assertTrue(members.contains(node.system().address().toString()) && members.contains(">Up<"), members);
        String workers = tbody(dom, "workers");
        assertTrue(workers.contains(node.worker().id()) && workers.contains(">ready<"), workers);
        String adapters = tbody(dom, "adapters");
        assertTrue(adapters.contains(">adapter-01<") && adapters.contains(node.worker().id() + ": slot"),
                "adapter-01 resident in a slot of the worker: " + adapters);
        String events = tbody(dom, "events");
        assertTrue(events.contains(">adapter-01<") && events.contains(">PlacedOn<"), events);
        assertEquals(1, events.split(">PlacedOn<", -1).length - 1, "each event shown once, across refreshes: "
                + events);
        assertTrue(dom.contains("node ready"), "the status line says the node is ready");

        Path shots = Files.createDirectories(Path.of("target", "ui").toAbsolutePath());
        Path png = shots.resolve("quiver-ui.png");
        Files.deleteIfExists(png);
        chromium("--virtual-time-budget=10000", "--window-size=1280,1200", "--screenshot=" + png, url);
        assertTrue(Files.size(png) > 10_000, "a screenshot of the page: " + png);
    }

    @Test
    void the_page_is_plain_html_served_without_a_key_and_without_data() {
        Client.Reply r = new Client(node.baseUrl()).get("/ui", null);
        assertEquals(200, r.status());
        assertTrue(r.contentType().startsWith("text/html"), r.contentType());
        assertTrue(r.body().contains("<tbody id=\"adapters\">") && !r.body().contains("adapter-01"));
    }
}
