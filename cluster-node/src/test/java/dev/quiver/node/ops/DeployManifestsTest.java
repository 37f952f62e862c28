package dev.quiver.node.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.quiver.edge.EdgeSettings;
import dev.quiver.node.Client;
import dev.quiver.node.NodeSettings;
import dev.quiver.node.QuiverNode;
import dev.quiver.node.TestNodes;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * deploy/ says what the code does: the Kubernetes manifests parse, their container ports are the ports the
 * ConfigMap's quiver.conf makes the node bind, the probes hit Pekko Management's health paths, every environment
 * variable they set is one the code reads, the pod labels are what bootstrap discovery selects and RBAC lets it list
 * pods; the Dockerfile exposes those ports and starts the node's main with that config; the Grafana dashboard only
 * queries metrics a running node exports.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DeployManifestsTest {
    static final Path DEPLOY = Path.of("..", "deploy").toAbsolutePath().normalize();
    static final ObjectMapper JSON = new ObjectMapper();

    Map<String, JsonNode> byKindAndName = new LinkedHashMap<>();
    JsonNode pod;
    JsonNode container;
    String quiverConf;
    Config node;

    @BeforeAll
    void read() throws IOException {
        YAMLMapper yaml = new YAMLMapper();
        try (var parser = new YAMLFactory().createParser(DEPLOY.resolve("kubernetes/quiver.yaml").toFile())) {
            for (JsonNode doc : yaml.readValues(parser, JsonNode.class).readAll()) {
                byKindAndName.put(doc.path("kind").asText() + "/" + doc.at("/metadata/name").asText(), doc);
            }
        }
        pod = get("StatefulSet/quiver").at("/spec/template");
        container = pod.at("/spec/containers/0");
        quiverConf = get("ConfigMap/quiver-config").at("/data/quiver.conf").asText();
        // The include of the Secret's file is checked below; the file exists only in the pod.
        String withoutInclude = quiverConf.replaceAll("(?m)^include required\\(file\\(\"[^\"]+\"\\)\\)$", "");
        node = ConfigFactory.parseString(withoutInclude)
                .withFallback(ConfigFactory.parseMap(Map.of("POD_IP", "10.1.2.3", "HOSTNAME", "quiver-0")))
                .withFallback(ConfigFactory.defaultReference()).resolve();
    }

    JsonNode get(String kindAndName) {
        JsonNode n = byKindAndName.get(kindAndName);
        assertNotNull(n, kindAndName + " in deploy/kubernetes/quiver.yaml; found " + byKindAndName.keySet());
        return n;
    }

    int containerPort(String name) {
        for (JsonNode p : container.path("ports")) {
            if (p.path("name").asText().equals(name)) {
                return p.path("containerPort").asInt();
            }
        }
        throw new AssertionError("no container port named " + name);
    }

    @Test
    void container_ports_are_the_ports_the_configmap_makes_the_node_bind() {
        assertEquals(EdgeSettings.fromConfig(node).port(), containerPort("http"));
        assertEquals(node.getInt("pekko.management.http.port"), containerPort("management"));
        assertEquals(node.getInt("pekko.remote.artery.canonical.port"), containerPort("remoting"));
        assertEquals("0.0.0.0", EdgeSettings.fromConfig(node).host(), "the edge listens on the pod's interfaces");
        assertEquals("10.1.2.3", node.getString("pekko.management.http.hostname"), "peers reach the pod IP");
        assertEquals("10.1.2.3", node.getString("pekko.remote.artery.canonical.hostname"));
        assertEquals("http", get("Service/quiver").at("/spec/ports/0/targetPort").asText());
        assertEquals(String.valueOf(containerPort("http")),
                pod.at("/metadata/annotations/prometheus.io~1port").asText(), "Prometheus scrapes the edge");
    }

    @Test
    void probes_hit_pekko_managements_health_paths_on_the_management_port() {
        assertEquals("/" + node.getString("pekko.management.health-checks.readiness-path"),
                container.at("/readinessProbe/httpGet/path").asText());
        assertEquals("/" + node.getString("pekko.management.health-checks.liveness-path"),
                container.at("/livenessProbe/httpGet/path").asText());
        for (String probe : List.of("readinessProbe", "livenessProbe", "startupProbe")) {
            assertEquals("management", container.at("/" + probe + "/httpGet/port").asText(), probe);
        }
        assertEquals("dev.quiver.node.ops.NodeHealth$Readiness",
                node.getString("pekko.management.health-checks.readiness-checks.quiver"));
    }

    @Test
    void shutdown_timing_lets_the_balancer_drain_and_streams_finish_before_the_kill() {
        OpsSettings ops = OpsSettings.fromConfig(node);
        JsonNode ready = container.path("readinessProbe");
        long detectSeconds = ready.path("periodSeconds").asLong() * ready.path("failureThreshold").asLong();
        assertTrue(ops.readinessGrace().toSeconds() >= detectSeconds, "readiness-grace " + ops.readinessGrace()
                + " covers the probe's detection time " + detectSeconds + " s");
        long needed = ops.readinessGrace().toSeconds() + EdgeSettings.fromConfig(node).shutdownDeadline().toSeconds();
        assertTrue(pod.at("/spec/terminationGracePeriodSeconds").asLong() > needed,
                "terminationGracePeriodSeconds above readiness-grace + shutdown-deadline = " + needed);
        // the phase in which the edge and the worker wait for streams in flight is not cut short before the deadline
        java.time.Duration phase = node.getDuration("pekko.coordinated-shutdown.phases.service-requests-done.timeout");
        assertTrue(phase.compareTo(EdgeSettings.fromConfig(node).shutdownDeadline()) > 0,
                "service-requests-done.timeout " + phase + " above shutdown-deadline");
    }

    @Test
    void bootstrap_discovers_exactly_the_pods_of_the_statefulset_and_rbac_lets_it() {
        OpsSettings ops = OpsSettings.fromConfig(node);
        assertEquals(OpsSettings.Formation.BOOTSTRAP, ops.formation());
        assertTrue(ops.management());
        String p = "pekko.management.cluster.bootstrap.contact-point-discovery.";
        assertEquals("kubernetes-api", node.getString(p + "discovery-method"));
        String selector = node.getString("pekko.discovery.kubernetes-api.pod-label-selector")
                .replace("%s", node.getString(p + "service-name"));
        String[] kv = selector.split("=");
        assertEquals(kv[1], pod.at("/metadata/labels/" + kv[0]).asText(), "pod labels match " + selector);
        assertEquals(get("StatefulSet/quiver").at("/spec/replicas").asInt(), node.getInt(p
                + "required-contact-point-nr"), "all replicas must answer before the first forms the cluster");
        assertEquals("Parallel", get("StatefulSet/quiver").at("/spec/podManagementPolicy").asText());
        JsonNode rule = get("Role/quiver-pod-reader").at("/rules/0");
        assertTrue(rule.path("resources").toString().contains("\"pods\""));
        for (String verb : List.of("get", "list", "watch")) {
            assertTrue(rule.path("verbs").toString().contains("\"" + verb + "\""), verb);
        }
        JsonNode binding = get("RoleBinding/quiver-pod-reader");
        assertEquals(pod.at("/spec/serviceAccountName").asText(), binding.at("/subjects/0/name").asText());
        assertTrue(get("Service/quiver-internal").at("/spec/publishNotReadyAddresses").asBoolean());
        assertEquals(NodeSettings.fromConfig(node).nodeId(), "quiver-0", "the pod name is a valid node id");
    }

    @Test
    void the_pod_requests_a_gpu_and_the_engine_uses_cuda() {
        assertEquals(1, container.at("/resources/limits/nvidia.com~1gpu").asInt());
        assertEquals("cuda", node.getString("quiver.engine.backend"));
    }

    @Test
    void every_environment_variable_the_pod_sets_is_read_by_the_code() throws IOException {
        Set<String> read = new TreeSet<>();
        Pattern optional = Pattern.compile("\\$\\{\\??([A-Z][A-Z0-9_]*)}");
        List<String> sources = new ArrayList<>(referenceConfs());
        sources.add(quiverConf);
        sources.add(Files.readString(DEPLOY.resolve("Dockerfile")).replaceAll("\\$([A-Z][A-Z0-9_]*)", "\\${$1}"));
        for (String text : sources) {
            Matcher m = optional.matcher(text);
            while (m.find()) {
                read.add(m.group(1));
            }
        }
        Map<String, String> secret = new LinkedHashMap<>();
        get("Secret/quiver-secrets").path("stringData").fields().forEachRemaining(e -> secret.put(e.getKey(),
                e.getValue().asText()));
        for (JsonNode env : container.path("env")) {
            String name = env.path("name").asText();
            assertTrue(read.contains(name), name + " is set in the pod but no reference.conf, the ConfigMap or the "
                    + "Dockerfile reads it");
            JsonNode ref = env.at("/valueFrom/secretKeyRef");
            if (!(ref instanceof MissingNode)) {
                assertEquals("quiver-secrets", ref.path("name").asText());
                assertTrue(secret.containsKey(ref.path("key").asText()), name + " from a key the Secret has");
            }
        }
        Matcher include = Pattern.compile("include required\\(file\\(\"([^\"]+)\"\\)\\)").matcher(quiverConf);
        assertTrue(include.find(), "the ConfigMap includes the API keys from the Secret");
        String mount = null;
        for (JsonNode m : container.path("volumeMounts")) {
            if (m.path("name").asText().equals("secrets")) {
                mount = m.path("mountPath").asText();
            }
        }
        assertEquals(include.group(1), mount + "/api-keys.conf");
        assertTrue(secret.get("api-keys.conf").contains("quiver.edge.api-keys"));
    }

    static List<String> referenceConfs() throws IOException {
        List<String> out = new ArrayList<>();
        Enumeration<URL> urls = DeployManifestsTest.class.getClassLoader().getResources("reference.conf");
        while (urls.hasMoreElements()) {
            try (InputStream in = urls.nextElement().openStream()) {
                out.add(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    @Test
    void the_dockerfile_exposes_the_pod_ports_and_starts_the_node_main_with_the_configmap() throws Exception {
        String docker = Files.readString(DEPLOY.resolve("Dockerfile"));
        Matcher expose = Pattern.compile("(?m)^EXPOSE (.+)$").matcher(docker);
        assertTrue(expose.find());
        Set<Integer> exposed = new TreeSet<>();
        for (String p : expose.group(1).trim().split("\\s+")) {
            exposed.add(Integer.parseInt(p));
        }
        assertEquals(Set.of(containerPort("http"), containerPort("management"), containerPort("remoting")),
                exposed);
        assertTrue(docker.contains("dev.quiver.node.NodeMain --config /etc/quiver/quiver.conf"));
        Class.forName("dev.quiver.node.NodeMain");
        String configMount = null;
        for (JsonNode m : container.path("volumeMounts")) {
            if (m.path("name").asText().equals("config")) {
                configMount = m.path("mountPath").asText();
            }
        }
        assertEquals("/etc/quiver/quiver.conf", configMount);
    }

    @Test
    void the_grafana_dashboard_queries_only_metrics_a_running_node_exports() throws Exception {
        JsonNode dashboard = JSON.readTree(DEPLOY.resolve("grafana/quiver-dashboard.json").toFile());
        Set<String> queried = new TreeSet<>();
        Pattern metric = Pattern.compile("\\bquiver_[a-z0-9_]+");
        for (JsonNode panel : dashboard.path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                Matcher m = metric.matcher(target.path("expr").asText());
                while (m.find()) {
                    queried.add(m.group());
                }
            }
        }
        assertFalse(queried.isEmpty());
        QuiverNode n = TestNodes.startWithDemoAdapters("");
        try {
            Client c = new Client(n.baseUrl());
            assertEquals(200, c.post("/v1/completions", TestNodes.USER_A, "{\"model\":\"adapter-01\",\"prompt\":"
                    + "\"Hi\",\"max_tokens\":4,\"seed\":1}").status());
            assertEquals(200, c.stream("/v1/completions", TestNodes.USER_A, "{\"model\":\"adapter-02\",\"prompt\":"
                    + "\"Hi\",\"max_tokens\":4,\"seed\":1,\"stream\":true}").isEmpty() ? 0 : 200);
            Set<String> missing = new TreeSet<>(queried);
            String text = "";
            for (int i = 0; i < 50 && !missing.isEmpty(); i++) {
                Thread.sleep(200);
                text = c.get("/metrics", TestNodes.ADMIN_A).body();
                Set<String> exported = new TreeSet<>();
                Matcher m = Pattern.compile("(?m)^(quiver_[a-z0-9_]+)").matcher(text);
                while (m.find()) {
                    exported.add(m.group(1));
                }
                missing.removeAll(exported);
            }
            assertTrue(missing.isEmpty(), "the dashboard queries metrics no node exports: " + missing);
        } finally {
            n.stop();
        }
    }
}
