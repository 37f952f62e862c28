package dev.quiver.edge.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Histogram labels are bounded: with thousands of adapters, a latency histogram per adapter on every node ran a node
 * out of heap. The first N distinct models keep their own label, every later one records under "_other".
 */
class EdgeMetricsHistogramLabelTest {

    @AfterEach
    void restore() {
        EdgeMetrics.resetHistogramLabels(100);
    }

    @Test
    void the_first_models_up_to_the_limit_keep_their_label_and_later_ones_share_other() {
        EdgeMetrics.resetHistogramLabels(3);
        assertEquals("a", EdgeMetrics.histogramLabel("a"));
        assertEquals("b", EdgeMetrics.histogramLabel("b"));
        assertEquals("a", EdgeMetrics.histogramLabel("a"), "a model seen before keeps its label");
        assertEquals("c", EdgeMetrics.histogramLabel("c"));
        assertEquals(EdgeMetrics.OTHER, EdgeMetrics.histogramLabel("d"));
        assertEquals(EdgeMetrics.OTHER, EdgeMetrics.histogramLabel("e"));
        assertEquals("b", EdgeMetrics.histogramLabel("b"), "past the limit, a labelled model still keeps its label");
    }

    @Test
    void a_limit_of_zero_labels_no_histogram_by_model() {
        EdgeMetrics.resetHistogramLabels(0);
        assertEquals(EdgeMetrics.OTHER, EdgeMetrics.histogramLabel("a"));
    }
}
