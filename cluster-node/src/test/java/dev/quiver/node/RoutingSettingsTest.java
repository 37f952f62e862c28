package dev.quiver.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** {@code quiver.node.routing} read into {@link NodeSettings.Routing}, and the failure detector it relies on. */
class RoutingSettingsTest {

    private static Config with(String hocon) {
        return ConfigFactory.parseString(hocon + "\nquiver.node.model-dir = \"/tmp/model\"")
                .withFallback(ConfigFactory.defaultReference()).resolve();
    }

    @Test
    void bounds_an_entity_ask_by_half_a_second_while_a_member_is_unreachable() {
        NodeSettings.Routing r = NodeSettings.fromConfig(with("")).routing();
        assertEquals(Duration.ofSeconds(3), r.routeTimeout());
        assertEquals(Duration.ofMillis(500), r.unreachableRouteTimeout());
    }

    @Test
    void refuses_an_unreachable_route_timeout_longer_than_the_route_timeout_naming_it() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NodeSettings.fromConfig(
                with("quiver.node.routing.unreachable-route-timeout = 5s")));
        assertTrue(e.getMessage().contains("quiver.node.routing.unreachable-route-timeout"), e.getMessage());
    }

    @Test
    void the_three_argument_routing_keeps_its_meaning_with_the_default_unreachable_bound() {
        assertEquals(Duration.ofMillis(500), new NodeSettings.Routing(Duration.ofSeconds(60), Duration.ofSeconds(3),
                Duration.ofMillis(250)).unreachableRouteTimeout());
        assertEquals(Duration.ofMillis(200), new NodeSettings.Routing(Duration.ofSeconds(60), Duration.ofMillis(200),
                Duration.ofMillis(250)).unreachableRouteTimeout());
    }

    @Test
    void a_node_is_downed_only_after_about_as_much_silence_as_before_the_faster_detector() {
        // NOTE: detection got faster (a resume on unreachability is cheap), downing did not: acceptable pause plus
        // stable-after stays at least the earlier 3 s + 5 s minus one second of margin for the detector's own.
        Config c = with("");
        long pause = c.getDuration("pekko.cluster.failure-detector.acceptable-heartbeat-pause").toMillis();
        long stable = c.getDuration("pekko.cluster.split-brain-resolver.stable-after").toMillis();
        assertTrue(pause <= 1500, "unreachable within about 2-3 s: pause " + pause + " ms");
        assertTrue(pause + stable >= 7000, "downed after about 8 s of silence: " + (pause + stable) + " ms");
    }
}
