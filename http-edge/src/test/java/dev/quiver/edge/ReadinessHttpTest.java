package dev.quiver.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import dev.quiver.edge.api.Readiness;
import dev.quiver.edge.tools.ScriptedService;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code GET /ready} over a real socket: 200 "ready", 200 "degraded" naming what is degraded (a dependency that
 * serving does not need is down: a balancer keeps sending), and 503 "not_ready".
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReadinessHttpTest {
    ActorSystem<Void> system;
    EdgeServer server;
    ScriptedService service;
    final HttpClient http = HttpClient.newHttpClient();
    String base;

    @BeforeAll
    void start() throws Exception {
        service = new ScriptedService(Files.createTempDirectory("quiver-ready-http-"), ScriptedService.TOOLS_TEMPLATE,
                prompt -> "ok", 3);
        system = ActorSystem.create(Behaviors.empty(), "ready-http-test", ConfigFactory.load());
        server = EdgeServer.start(system, EdgeSettings.fromConfig(system.settings().config()).withPort(0), service,
                null).toCompletableFuture().get(30, TimeUnit.SECONDS);
        base = "http://127.0.0.1:" + server.address().getPort();
    }

    @AfterAll
    void stop() throws Exception {
        server.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
        system.terminate();
    }

    HttpResponse<String> ready() throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + "/ready")).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void ready_degraded_and_not_ready() throws Exception {
        ObjectMapper json = new ObjectMapper();
        Map<String, Object> journalDown = Map.of("cassandra", Map.of("reachable", false));
        String why = "cassandra: the journal is unreachable; serving goes on, lifecycle writes answer 503";

        service.readiness = new Readiness(true, Map.of("cassandra", Map.of("reachable", true)));
        HttpResponse<String> r = ready();
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("ready", json.readTree(r.body()).path("status").asText(), r.body());
        assertTrue(json.readTree(r.body()).path("degraded").isMissingNode(), r.body());

        service.readiness = new Readiness(true, journalDown, List.of(why));
        r = ready();
        JsonNode body = json.readTree(r.body());
        assertEquals(200, r.statusCode(), "degraded is still ready: " + r.body());
        assertEquals("degraded", body.path("status").asText(), r.body());
        assertEquals(why, body.path("degraded").path(0).asText(), r.body());
        assertEquals(false, body.at("/checks/cassandra/reachable").asBoolean(true), r.body());

        service.readiness = new Readiness(false, journalDown, List.of(why));
        r = ready();
        assertEquals(503, r.statusCode(), r.body());
        assertEquals("not_ready", json.readTree(r.body()).path("status").asText(), r.body());
    }
}
