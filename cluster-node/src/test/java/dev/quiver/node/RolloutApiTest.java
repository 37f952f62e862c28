package dev.quiver.node;

import static dev.quiver.node.TestNodes.ADMIN_A;
import static dev.quiver.node.TestNodes.ADMIN_B;
import static dev.quiver.node.TestNodes.USER_A;
import static dev.quiver.node.TestNodes.USER_B;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import dev.quiver.edge.AccessLog;
import dev.quiver.node.rollout.SplitChooser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.slf4j.LoggerFactory;

/**
 * Rolling out adapter versions over HTTP on one node: which version served (system_fingerprint and the
 * x-quiver-adapter header, checked against versions with different greedy outputs), staged versions, a traffic
 * split with sticky choice, promote and abort with their audit trail, the opt-in base-model fallback on a corrupt
 * blob, and the access log.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RolloutApiTest {
    QuiverNode node;
    Client client;
    Path adapters;
    Path store;
    final HttpClient http = HttpClient.newHttpClient();
    final ListAppender<ILoggingEvent> accessLines = new ListAppender<>();

    @BeforeAll
    void start() {
        store = TestNodes.scratch().resolve("rollout-store-" + System.nanoTime());
        node = TestNodes.startWithDemoAdapters("quiver.node.adapter-store = \"" + store + "\"");
        client = new Client(node.baseUrl());
        adapters = TestNodes.model().resolve("adapters");
        Logger access = (Logger) LoggerFactory.getLogger(AccessLog.LOGGER);
        access.setLevel(Level.INFO);
        access.setAdditive(false);
        accessLines.start();
        access.addAppender(accessLines);
    }

    @AfterAll
    void stop() {
        ((Logger) LoggerFactory.getLogger(AccessLog.LOGGER)).detachAppender(accessLines);
        node.stop();
    }

    /** A completion's body and its x-quiver-adapter header. */
    record Served(int status, JsonNode body, String header) {
        String fingerprint() {
            return body.path("system_fingerprint").asText(null);
        }

        String text() {
            return body.at("/choices/0/text").asText();
        }
    }

    Served complete(String key, String json) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(node.baseUrl() + "/v1/completions"))
                    .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
            return new Served(r.statusCode(), Client.JSON.readTree(r.body()),
                    r.headers().firstValue("x-quiver-adapter").orElse(null));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    Served greedy(String model, String extra) {
        Served s = complete(USER_A, "{\"model\":\"" + model + "\",\"prompt\":\"Tell me\",\"max_tokens\":10,"
                + "\"temperature\":0,\"ignore_eos\":true" + extra + "}");
        assertEquals(200, s.status(), s.body().toString());
        assertEquals(s.fingerprint(), s.header(), "the header names the same version as the body");
        return s;
    }

    JsonNode admin(String method, String path, String json) {
        Client.Reply r = method.equals("GET") ? client.get(path, ADMIN_A)
                : method.equals("DELETE") ? client.delete(path, ADMIN_A) : client.post(path, ADMIN_A, json);
        assertTrue(r.status() / 100 == 2, method + " " + path + ": " + r.status() + " " + r.body());
        return r.json();
    }

    String sha(JsonNode view, int version) {
        for (JsonNode v : view.path("versions")) {
            if (v.path("version").asInt() == version) {
                return v.path("sha256").asText();
            }
        }
        throw new AssertionError("no version " + version + " in " + view);
    }

    String register(String name, String adapterDir) {
        admin("POST", "/v1/adapters", "{\"name\":\"" + name + "\",\"source\":\"" + adapters.resolve(adapterDir)
                .toUri() + "\"}");
        return name;
    }

    JsonNode publishStaged(String name, String adapterDir) {
        return admin("POST", "/v1/adapters/" + name + "/versions", "{\"source\":\"" + adapters.resolve(adapterDir)
                .toUri() + "\",\"activate\":false}");
    }

    List<String> eventTypes(String name) {
        List<String> types = new ArrayList<>();
        for (JsonNode e : admin("GET", "/v1/adapters/" + name + "/events", null).path("data")) {
            types.add(e.path("type").asText());
        }
        return types;
    }

    @Test
    void fingerprint_and_header_name_the_version_that_generated_the_tokens() {
        register("fp", "adapter-01");
        Served v1 = greedy("fp", "");
        JsonNode view = admin("GET", "/v1/adapters/fp", null);
        assertEquals("fp@v1:" + sha(view, 1).substring(0, 12), v1.fingerprint());

        admin("POST", "/v1/adapters/fp/versions", "{\"source\":\"" + adapters.resolve("adapter-03").toUri() + "\"}");
        Served v2 = greedy("fp", "");
        view = admin("GET", "/v1/adapters/fp", null);
        assertEquals("fp@v2:" + sha(view, 2).substring(0, 12), v2.fingerprint());
        assertNotEquals(v1.text(), v2.text(), "the two versions give different greedy outputs");
        assertEquals(greedy("adapter-03", "").text(), v2.text(), "v2's tokens are v2's weights'");

        Served base = greedy("quiver-demo", "");
        assertTrue(base.fingerprint().matches("quiver-demo:[0-9a-f]{12}"), base.fingerprint());
    }

    @Test
    void the_first_sse_chunk_and_the_stream_header_carry_the_fingerprint() throws Exception {
        register("fps", "adapter-02");
        String expected = greedy("fps", "").fingerprint();
        HttpResponse<java.io.InputStream> r = http.send(HttpRequest.newBuilder(URI.create(node.baseUrl()
                        + "/v1/chat/completions")).header("Authorization", "Bearer " + USER_A)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        "{\"model\":\"fps\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4,"
                                + "\"stream\":true}")).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        assertEquals(expected, r.headers().firstValue("x-quiver-adapter").orElse(null));
        List<JsonNode> chunks = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                if (line.startsWith("data: {")) {
                    chunks.add(Client.JSON.readTree(line.substring(6)));
                }
            }
        }
        assertFalse(chunks.isEmpty());
        assertEquals("assistant", chunks.get(0).at("/choices/0/delta/role").asText());
        for (JsonNode c : chunks) {
            assertEquals(expected, c.path("system_fingerprint").asText(), c.toString());
        }
    }

    @Test
    void a_staged_version_gets_no_traffic_until_a_split_gives_it_some_and_users_stick_to_their_version() {
        register("canary", "adapter-01");
        String v1Text = greedy("canary", "").text();
        JsonNode staged = publishStaged("canary", "adapter-03");
        assertEquals(1, staged.path("active_version").asInt());
        assertEquals(2, staged.path("versions").size());
        assertEquals(v1Text, greedy("canary", "").text(), "a staged version serves nothing");

        JsonNode split = admin("POST", "/v1/adapters/canary/split", "{\"versions\":{\"1\":50,\"2\":50},"
                + "\"reason\":\"a/b\"}");
        assertEquals(50, split.at("/split/versions/2").asInt());
        assertEquals(1, split.at("/split/baseline_version").asInt());
        assertEquals(1, admin("GET", "/v1/adapters/canary", null).at("/split/baseline_version").asInt());

        Map<Integer, String> textOf = new TreeMap<>();
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 24; i++) {
            String user = "user-" + i;
            int expected = SplitChooser.choose("canary", Map.of(1, 50, 2, 50), user);
            Served s = greedy("canary", ",\"user\":\"" + user + "\"");
            assertTrue(s.fingerprint().startsWith("canary@v" + expected + ":"), user + " -> " + s.fingerprint());
            String previous = textOf.putIfAbsent(expected, s.text());
            assertEquals(previous == null ? s.text() : previous, s.text(), "one version, one greedy output");
            seen.add(expected);
        }
        assertEquals(Set.of(1, 2), seen, "both arms serve");
        assertNotEquals(textOf.get(1), textOf.get(2));
        for (int i = 0; i < 4; i++) {
            assertEquals(greedy("canary", ",\"user\":\"user-3\"").fingerprint(),
                    greedy("canary", ",\"user\":\"user-3\"").fingerprint(), "the same user, the same version");
        }

        JsonNode promoted = admin("POST", "/v1/adapters/canary/split", "{\"versions\":{\"2\":100}}");
        assertEquals(2, promoted.path("active_version").asInt());
        assertTrue(promoted.path("split").isNull() || promoted.path("split").isMissingNode(), promoted.toString());
        for (int i = 0; i < 6; i++) {
            assertTrue(greedy("canary", ",\"user\":\"user-" + i + "\"").fingerprint().startsWith("canary@v2:"));
        }
        List<String> types = eventTypes("canary");
        int started = types.indexOf("SplitStarted");
        int ended = types.indexOf("SplitEnded");
        assertTrue(started > types.indexOf("VersionPublished") && ended > started, types.toString());
        JsonNode endEvent = null;
        for (JsonNode e : admin("GET", "/v1/adapters/canary/events", null).path("data")) {
            if (e.path("type").asText().equals("SplitEnded")) {
                endEvent = e;
            }
        }
        assertEquals("promoted", endEvent.at("/detail/outcome").asText());
        assertEquals("admin-a", endEvent.path("actor").asText());
    }

    @Test
    void a_90_10_split_over_2000_users_over_http_keeps_the_share_within_binomial_bounds_and_each_user_on_one_version()
            throws Exception {
        register("ninety-ten", "adapter-02");
        publishStaged("ninety-ten", "adapter-01");
        admin("POST", "/v1/adapters/ninety-ten/split", "{\"versions\":{\"1\":90,\"2\":10},\"reason\":\"canary\"}");

        int users = 2000;
        Map<String, String> first = sendOncePerUser("ninety-ten", users);
        int canary = 0;
        for (Map.Entry<String, String> e : first.entrySet()) {
            assertTrue(e.getValue().startsWith("ninety-ten@v1:") || e.getValue().startsWith("ninety-ten@v2:"),
                    e.getKey() + " -> " + e.getValue());
            canary += e.getValue().startsWith("ninety-ten@v2:") ? 1 : 0;
        }
        // Binomial(2000, 0.1): mean 200, sigma = sqrt(2000 * 0.1 * 0.9) = 13.4; 4.5 sigma either side
        double sigma = Math.sqrt(users * 0.1 * 0.9);
        assertTrue(Math.abs(canary - users * 0.1) <= 4.5 * sigma,
                "v2 served " + canary + " of " + users + " users, expected 200 +- " + Math.round(4.5 * sigma));

        // a sample of the same users again, in another order: each one gets the version it got before
        List<Integer> sample = new ArrayList<>();
        for (int i = 0; i < users; i += 8) {
            sample.add(i);
        }
        Map<String, String> again = sendOncePerUser("ninety-ten", sample);
        again.forEach((user, fingerprint) -> assertEquals(first.get(user), fingerprint,
                user + ": the same user, the same version"));
    }

    Map<String, String> sendOncePerUser(String model, int users) throws Exception {
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < users; i++) {
            all.add(i);
        }
        return sendOncePerUser(model, all);
    }

    /**
     * One completion per user {@code u-N} of {@code userNumbers}, in a shuffled order (max_tokens 1, at most 8 in
     * flight) over real sockets; the fingerprint each user got, after checking that the header names the same.
     */
    Map<String, String> sendOncePerUser(String model, List<Integer> userNumbers) throws Exception {
        Map<String, String> got = new java.util.concurrent.ConcurrentHashMap<>();
        java.util.concurrent.Semaphore inFlight = new java.util.concurrent.Semaphore(8);
        List<java.util.concurrent.CompletableFuture<Void>> all = new ArrayList<>();
        List<Integer> order = new ArrayList<>(userNumbers);
        java.util.Collections.shuffle(order, new java.util.Random(order.size()));
        for (int i : order) {
            String user = "u-" + i;
            inFlight.acquire();
            all.add(http.sendAsync(HttpRequest.newBuilder(URI.create(node.baseUrl() + "/v1/completions"))
                            .header("Authorization", "Bearer " + USER_A).header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"prompt\":\"Hi\","
                                    + "\"max_tokens\":1,\"user\":\"" + user + "\"}")).build(),
                    HttpResponse.BodyHandlers.ofString()).thenAccept(r -> {
                        try {
                            assertEquals(200, r.statusCode(), user + ": " + r.body());
                            String fingerprint = Client.JSON.readTree(r.body()).path("system_fingerprint").asText();
                            assertEquals(fingerprint, r.headers().firstValue("x-quiver-adapter").orElse(null), user);
                            got.put(user, fingerprint);
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    }).whenComplete((v, e) -> inFlight.release()));
        }
        java.util.concurrent.CompletableFuture.allOf(all.toArray(java.util.concurrent.CompletableFuture[]::new))
                .get(5, java.util.concurrent.TimeUnit.MINUTES);
        assertEquals(userNumbers.size(), got.size());
        return new TreeMap<>(got);
    }

    @Test
    void a_preloaded_adapter_keeps_every_version_with_split_traffic_pinned_and_drops_the_canary_on_abort()
            throws Exception {
        register("warm", "adapter-02");
        admin("POST", "/v1/adapters/warm/preload", "{\"replicas\":1}");
        publishStaged("warm", "adapter-04");
        admin("POST", "/v1/adapters/warm/split", "{\"versions\":{\"1\":80,\"2\":20}}");
        String worker = node.settings().workerId();
        assertTrue(await(() -> pinnedOn(worker).containsAll(List.of("warm@v1", "warm@v2"))),
                "both arms pinned on " + worker + ": " + pinnedOn(worker));

        admin("DELETE", "/v1/adapters/warm/split", null);
        assertTrue(await(() -> !residentOn(worker).contains("warm@v2") && pinnedOn(worker).contains("warm@v1")),
                "the aborted canary leaves the worker, the baseline stays pinned: " + residentOn(worker));
        admin("POST", "/v1/adapters/warm/preload", "{\"replicas\":0}");
    }

    List<String> pinnedOn(String worker) {
        return node.directory().load(worker).map(dev.quiver.node.worker.WorkerLoad::pinned).orElse(List.of());
    }

    List<String> residentOn(String worker) {
        return node.directory().load(worker).map(dev.quiver.node.worker.WorkerLoad::resident).orElse(List.of());
    }

    /** Whether {@code condition} holds within 20 s. */
    static boolean await(java.util.function.BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 200; i++) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(100);
        }
        return false;
    }

    @Test
    void an_abort_returns_every_request_to_the_version_active_before_the_split() {
        register("abort", "adapter-02");
        publishStaged("abort", "adapter-04");
        admin("POST", "/v1/adapters/abort/split", "{\"versions\":{\"1\":10,\"2\":90}}");
        JsonNode aborted = admin("DELETE", "/v1/adapters/abort/split", null);
        assertEquals(1, aborted.path("active_version").asInt());
        for (int i = 0; i < 6; i++) {
            assertTrue(greedy("abort", ",\"user\":\"u" + i + "\"").fingerprint().startsWith("abort@v1:"));
        }
        List<String> types = eventTypes("abort");
        int started = types.indexOf("SplitStarted");
        assertTrue(started > 0 && types.indexOf("SplitEnded") > started, types.toString());
        JsonNode ended = admin("GET", "/v1/adapters/abort/events", null).path("data").get(types.indexOf("SplitEnded"));
        assertEquals("aborted", ended.at("/detail/outcome").asText());
        assertEquals(1, ended.path("version").asInt());
    }

    @Test
    void refuses_bad_splits_naming_versions_and_hides_other_tenants_adapters() {
        register("bad-split", "adapter-01");
        publishStaged("bad-split", "adapter-02");
        Client.Reply sum = client.post("/v1/adapters/bad-split/split", ADMIN_A, "{\"versions\":{\"1\":90,\"2\":20}}");
        assertEquals(400, sum.status(), sum.body());
        assertEquals("versions", sum.error().path("param").asText());
        assertTrue(sum.error().path("message").asText().contains("sum to 100"), sum.body());
        Client.Reply unknown = client.post("/v1/adapters/bad-split/split", ADMIN_A,
                "{\"versions\":{\"1\":50,\"9\":50}}");
        assertEquals(400, unknown.status(), unknown.body());
        assertEquals("versions", unknown.error().path("param").asText());
        Client.Reply notObject = client.post("/v1/adapters/bad-split/split", ADMIN_A, "{\"versions\":[1,2]}");
        assertEquals(400, notObject.status());
        assertEquals("versions", notObject.error().path("param").asText());
        Client.Reply noSplit = client.post("/v1/adapters/bad-split/split", ADMIN_A, "{\"versions\":{\"2\":100}}");
        assertEquals(409, noSplit.status(), noSplit.body());
        Client.Reply foreign = client.post("/v1/adapters/bad-split/split", ADMIN_B,
                "{\"versions\":{\"1\":50,\"2\":50}}");
        assertEquals(404, foreign.status(), foreign.body());
        Client.Reply badFallback = client.post("/v1/completions", USER_A, "{\"model\":\"bad-split\",\"prompt\":\"x\","
                + "\"max_tokens\":2,\"fallback\":\"other\"}");
        assertEquals(400, badFallback.status());
        assertEquals("fallback", badFallback.error().path("param").asText());
    }

    @Test
    void fallback_is_opted_into_at_registration_or_later_and_journaled() {
        JsonNode reg = admin("POST", "/v1/adapters", "{\"name\":\"fb-opt\",\"source\":\""
                + adapters.resolve("adapter-02").toUri() + "\",\"fallback\":\"base\"}");
        assertEquals("base", reg.path("fallback").asText());
        assertEquals("base", admin("GET", "/v1/adapters/fb-opt", null).path("fallback").asText());
        assertEquals("none", admin("POST", "/v1/adapters/fb-opt/fallback", "{\"fallback\":\"none\"}")
                .path("fallback").asText());
        assertEquals(List.of("Registered", "FallbackChanged", "FallbackChanged"), eventTypes("fb-opt"));
        Client.Reply bad = client.post("/v1/adapters/fb-opt/fallback", ADMIN_A, "{\"fallback\":\"always\"}");
        assertEquals(400, bad.status(), bad.body());
        assertEquals("fallback", bad.error().path("param").asText());
        Client.Reply badReg = client.post("/v1/adapters", ADMIN_A, "{\"name\":\"fb-bad\",\"source\":\""
                + adapters.resolve("adapter-02").toUri() + "\",\"fallback\":1}");
        assertEquals(400, badReg.status(), badReg.body());
        assertEquals("fallback", badReg.error().path("param").asText());
    }

    /** Removes the version's files from the node's disk cache and corrupts its blob, so loading it fails. */
    void corrupt(String sha) throws IOException {
        Path cached = store.resolve(".blobs").resolve(sha);
        if (Files.isDirectory(cached)) {
            try (var files = Files.walk(cached)) {
                for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        Path blob = store.resolve(".local-blobs").resolve(sha);
        byte[] bytes = Files.readAllBytes(blob);
        bytes[bytes.length / 2] ^= 0x5a;
        Files.write(blob, bytes);
    }

    @Test
    void a_corrupt_version_fails_without_fallback_and_is_served_by_the_base_model_marked_with_it() throws Exception {
        // content of its own (a trailing newline in the config), so corrupting its blob touches no other test's
        Map<String, byte[]> files = new java.util.HashMap<>(Archives.adapterFiles(adapters.resolve("adapter-04")));
        files.put("adapter_config.json", (new String(files.get("adapter_config.json"), StandardCharsets.UTF_8)
                + "\n").getBytes(StandardCharsets.UTF_8));
        byte[] tgz = Archives.tarGz(files, "");
        Client.Reply reg = client.post("/v1/adapters?name=broken", ADMIN_A, "application/gzip", tgz);
        assertEquals(201, reg.status(), reg.body());
        corrupt(sha(reg.json(), 1));

        Served off = complete(USER_A, "{\"model\":\"broken\",\"prompt\":\"Tell me\",\"max_tokens\":4}");
        assertEquals(500, off.status(), off.body().toString());
        assertTrue(off.body().at("/error/message").asText().contains("corrupt"), off.body().toString());

        String baseText = greedy("quiver-demo", "").text();
        Served on = greedy("broken", ",\"fallback\":\"base\"");
        assertEquals(baseText, on.text(), "the base model generated");
        assertTrue(on.fingerprint().startsWith("quiver-demo:"), on.fingerprint());
        assertTrue(on.body().at("/quiver/fallback").asBoolean(), on.body().toString());
        assertEquals("broken@v1", on.body().at("/quiver/requested").asText());
        assertTrue(on.body().at("/quiver/reason").asText().contains("corrupt"), on.body().toString());
        assertTrue(eventTypes("broken").contains("LoadFailed"), eventTypes("broken").toString());

        Client.Reply foreign = client.post("/v1/completions", USER_B, "{\"model\":\"broken\",\"prompt\":\"x\","
                + "\"max_tokens\":2,\"fallback\":\"base\"}");
        assertEquals(404, foreign.status(), "fallback never reveals another tenant's adapter: " + foreign.body());

        JsonNode set = admin("POST", "/v1/adapters/broken/fallback", "{\"fallback\":\"base\"}");
        assertEquals("base", set.path("fallback").asText());
        Served byAdapter = greedy("broken", "");
        assertTrue(byAdapter.body().at("/quiver/fallback").asBoolean(), "the adapter's own opt-in applies");

        assertTrue(awaitSample("quiver_fallback_requests_total", Map.of("adapter", "broken", "outcome", "ok")),
                "quiver_fallback_requests_total counts the fallbacks");
    }

    @Test
    void a_version_whose_files_the_worker_refuses_is_a_422_without_fallback_and_the_base_model_with_it()
            throws Exception {
        Map<String, byte[]> files = new java.util.HashMap<>(Archives.adapterFiles(adapters.resolve("adapter-01")));
        files.put("adapter_config.json", (new String(files.get("adapter_config.json"), StandardCharsets.UTF_8)
                + "\n\n").getBytes(StandardCharsets.UTF_8));
        Client.Reply reg = client.post("/v1/adapters?name=refused", ADMIN_A, "application/gzip",
                Archives.tarGz(files, ""));
        assertEquals(201, reg.status(), reg.body());
        // the node's disk cache now holds damaged weights for this version (the blob itself is intact)
        Files.write(store.resolve(".blobs").resolve(sha(reg.json(), 1)).resolve("adapter_model.safetensors"),
                "not a safetensors file".getBytes(StandardCharsets.UTF_8));

        Served off = complete(USER_A, "{\"model\":\"refused\",\"prompt\":\"Tell me\",\"max_tokens\":4}");
        assertEquals(422, off.status(), off.body().toString());
        assertEquals("adapter_refused", off.body().at("/error/code").asText(), off.body().toString());
        Served on = greedy("refused", ",\"fallback\":\"base\"");
        assertTrue(on.body().at("/quiver/fallback").asBoolean(), on.body().toString());
        assertEquals("refused@v1", on.body().at("/quiver/requested").asText());
        assertTrue(on.fingerprint().startsWith("quiver-demo:"), on.fingerprint());
        // streamed: the engine accepted the request before the load failed, yet nothing went out in the
        // adapter's name: the header and every chunk name the base model and carry the fallback mark
        HttpResponse<java.io.InputStream> r = http.send(HttpRequest.newBuilder(URI.create(node.baseUrl()
                        + "/v1/chat/completions")).header("Authorization", "Bearer " + USER_A)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        "{\"model\":\"refused\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                                + "\"max_tokens\":4,\"stream\":true,\"fallback\":\"base\"}")).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        assertEquals(on.fingerprint(), r.headers().firstValue("x-quiver-adapter").orElse(null));
        int chunks = 0;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                if (line.startsWith("data: {")) {
                    JsonNode c = Client.JSON.readTree(line.substring(6));
                    assertEquals(on.fingerprint(), c.path("system_fingerprint").asText(), c.toString());
                    assertTrue(c.at("/quiver/fallback").asBoolean(), c.toString());
                    chunks++;
                }
            }
        }
        assertTrue(chunks >= 2, "the stream had chunks");
        long loadFailures = eventTypes("refused").stream().filter("LoadFailed"::equals).count();
        assertTrue(loadFailures >= 2, "each refused load is journaled: " + eventTypes("refused"));
    }

    @Test
    void per_version_metrics_and_an_access_log_line_name_the_version_that_served() throws Exception {
        register("metered-rollout", "adapter-01");
        Served s = greedy("metered-rollout", ",\"user\":\"carol\"");
        String id = s.body().path("id").asText();
        JsonNode line = null;
        for (int i = 0; i < 50 && line == null; i++) {
            for (ILoggingEvent e : List.copyOf(accessLines.list)) {
                JsonNode j = Client.JSON.readTree(e.getFormattedMessage());
                if (id.equals(j.path("request_id").asText())) {
                    line = j;
                }
            }
            Thread.sleep(20);
        }
        assertTrue(line != null, "an access log line for " + id);
        assertEquals("a", line.path("tenant").asText());
        assertEquals("metered-rollout", line.path("adapter").asText());
        assertEquals(1, line.path("version").asInt());
        assertEquals(s.fingerprint(), line.path("fingerprint").asText());
        assertFalse(line.path("worker").asText().isEmpty());
        assertEquals(10, line.path("completion_tokens").asInt());
        assertEquals(200, line.path("status").asInt());
        assertFalse(line.path("fallback").asBoolean());
        assertEquals("carol", line.path("user").asText());

        assertTrue(awaitSample("quiver_version_requests_total",
                Map.of("adapter", "metered-rollout", "version", "1", "outcome", "ok")));
        assertTrue(awaitSample("quiver_version_time_to_first_token_seconds_count",
                Map.of("adapter", "metered-rollout", "version", "1")));
        assertTrue(awaitSample("quiver_version_tokens_out_total", Map.of("adapter", "metered-rollout", "version", "1")));
    }

    /**
     * Whether /metrics soon has a positive sample of {@code name} with exactly {@code labels} (in any order; Kamon
     * reports a tick late).
     */
    boolean awaitSample(String name, Map<String, String> labels) throws InterruptedException {
        for (int i = 0; i < 50; i++) {
            for (String line : client.get("/metrics", null).body().split("\n")) {
                if (!line.startsWith(name + "{")) {
                    continue;
                }
                String inside = line.substring(name.length() + 1, line.indexOf('}'));
                Map<String, String> got = new TreeMap<>();
                for (String kv : inside.split(",")) {
                    int eq = kv.indexOf('=');
                    got.put(kv.substring(0, eq), kv.substring(eq + 2, kv.length() - 1));
                }
                double value = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                if (got.equals(new TreeMap<>(labels)) && value > 0) {
                    return true;
                }
            }
            Thread.sleep(100);
        }
        return false;
    }
}
