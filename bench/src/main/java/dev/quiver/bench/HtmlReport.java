package dev.quiver.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Renders a {@link BenchReport} as one self-contained HTML page: the summary table and inline SVG charts drawn
 * here (no script, no stylesheet or font from anywhere else): CDFs of TTFT, inter-token and end-to-end latency, a
 * per-second time series of output tokens and of requests sent/completed/failed, and requests per adapter rank
 * against the Zipf expectation. Every chart is an {@code <svg id="chart-...">}; every plotted series carries
 * {@code data-series} and {@code data-points}, so tests and scripts can find them.
 */
public final class HtmlReport {
    static final int W = 660;
    static final int H = 300;
    static final int ML = 64;
    static final int MR = 20;
    static final int MT = 34;
    static final int MB = 46;
    private static final int CDF_POINTS = 400;
    private static final int MAX_RANKS = 40;

    private HtmlReport() {
    }

    /** One polyline (or bar set) of a chart. */
    record Line(String name, String color, double[] x, double[] y, boolean bars) {
    }

    public static String render(BenchReport r) {
        StringBuilder b = new StringBuilder(64 * 1024);
        b.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>quiver bench: ")
                .append(esc(String.format(Locale.ROOT, "%.2f req/s, %d adapters", r.offeredRate(),
                        r.settings().adapterNames().size())))
                .append("</title>\n<style>\nbody{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}\n"
                        + "table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;"
                        + "text-align:left;font-size:14px}th{background:#f3f3f3}\n"
                        + ".charts{display:flex;flex-wrap:wrap;gap:16px}svg{background:#fff;border:1px solid #ddd}\n"
                        + "svg text{font-size:11px;fill:#333}svg .title{font-size:13px;font-weight:600}\n"
                        + "</style></head><body>\n");
        b.append("<h1>quiver bench load</h1>\n<table>\n");
        for (String line : r.text().split("\n")) {
            int colon = line.indexOf(':');
            if (line.startsWith("====") || colon < 0) {
                continue;
            }
            b.append("<tr><th>").append(esc(line.substring(0, colon).trim())).append("</th><td>")
                    .append(esc(line.substring(colon + 1).trim())).append("</td></tr>\n");
        }
        b.append("</table>\n<h2>Latency</h2>\n<div class=\"charts\">\n");
        b.append(cdf("chart-ttft", "Time to first token (CDF)", "ttft", r.ttftMs(), "#1f77b4"));
        b.append(cdf("chart-itl", "Inter-token latency (CDF)", "itl", r.interTokenMs(), "#2ca02c"));
        b.append(cdf("chart-e2e", "End-to-end latency (CDF)", "e2e", r.endToEndMs(), "#d62728"));
        b.append("</div>\n<h2>Throughput over time</h2>\n<div class=\"charts\">\n");
        BenchReport.Series s = r.series();
        double[] t = new double[s.sent().length];
        for (int i = 0; i < t.length; i++) {
            t[i] = i + 0.5;
        }
        b.append(chart("chart-throughput", "Output tokens per second", "time since start (s)", "tokens/s", false,
                List.of(new Line("output-tokens", "#9467bd", t, s.outputTokens(), false)), List.of()));
        b.append(chart("chart-requests", "Requests per second", "time since start (s)", "requests/s", false,
                List.of(new Line("sent", "#1f77b4", t, s.sent(), false),
                        new Line("completed", "#2ca02c", t, s.completed(), false),
                        new Line("failed", "#d62728", t, s.failed(), false)), List.of()));
        b.append("</div>\n");
        int[] byRank = r.requestsByRank();
        if (byRank.length > 1) {
            int shown = Math.min(MAX_RANKS, byRank.length - 1);
            double[] x = new double[shown];
            double[] got = new double[shown];
            double[] want = new double[shown];
            int adapterRequests = 0;
            for (int k = 1; k < byRank.length; k++) {
                adapterRequests += byRank[k];
            }
            Distributions.Zipf z = new Distributions.Zipf(byRank.length - 1, r.settings().zipf());
            for (int k = 1; k <= shown; k++) {
                x[k - 1] = k;
                got[k - 1] = byRank[k];
                want[k - 1] = adapterRequests * z.probability(k);
            }
            b.append("<h2>Adapter popularity</h2>\n<p>Requests per adapter, by Zipf rank (")
                    .append(shown < byRank.length - 1 ? "first " + shown + " of " + (byRank.length - 1) : "all")
                    .append(" ranks); ").append(byRank[0]).append(" requests went to the base model.</p>\n")
                    .append("<div class=\"charts\">\n")
                    .append(chart("chart-adapters", "Requests per adapter rank", "Zipf rank", "requests", false,
                            List.of(new Line("requests", "#ff7f0e", x, got, true),
                                    new Line("zipf-expected", "#333333", x, want, false)), List.of()))
                    .append("</div>\n");
        }
        if (!r.failures().isEmpty()) {
            b.append("<h2>Failures</h2>\n<table><tr><th>kind</th><th>requests</th></tr>\n");
            for (Map.Entry<String, Integer> e : r.failures().entrySet()) {
                b.append("<tr><td>").append(esc(e.getKey())).append("</td><td>").append(e.getValue())
                        .append("</td></tr>\n");
            }
            b.append("</table>\n");
        }
        b.append("<p>Latencies are of completed requests, measured from the moment each request was sent. "
                + "Inter-token latency is the gap between consecutive streamed chunks.</p>\n</body></html>\n");
        return b.toString();
    }

    /** A CDF chart of sorted samples, with p50 and p99 marked; a log x axis when the samples span 50x or more. */
    static String cdf(String id, String title, String series, Stats.Summary s, String color) {
        double[] v = s.sorted();
        if (v.length == 0) {
            return chart(id, title + ": no samples", "ms", "fraction", false, List.of(), List.of());
        }
        int m = Math.min(CDF_POINTS, v.length);
        double[] x = new double[m];
        double[] y = new double[m];
        for (int i = 0; i < m; i++) {
            int idx = m == 1 ? v.length - 1 : (int) Math.round((double) i * (v.length - 1) / (m - 1));
            x[i] = v[idx];
            y[i] = (idx + 1.0) / v.length;
        }
        boolean log = v[0] > 0 && v[v.length - 1] / v[0] >= 50;
        return chart(id, title, "milliseconds" + (log ? " (log scale)" : ""), "fraction of samples", log,
                List.of(new Line(series, color, x, y, false)),
                List.of(new double[] {s.p50(), 50}, new double[] {s.p99(), 99}));
    }

    /** A line/bar chart; {@code markers} are vertical dashed lines at {x, percentile}. */
    static String chart(String id, String title, String xLabel, String yLabel, boolean logX, List<Line> lines,
                        List<double[]> markers) {
        double xmin = Double.POSITIVE_INFINITY;
        double xmax = Double.NEGATIVE_INFINITY;
        double ymax = 0;
        boolean bars = false;
        for (Line l : lines) {
            for (int i = 0; i < l.x().length; i++) {
                xmin = Math.min(xmin, l.x()[i]);
                xmax = Math.max(xmax, l.x()[i]);
                ymax = Math.max(ymax, l.y()[i]);
            }
            bars |= l.bars();
        }
        if (xmin > xmax) {
            xmin = 0;
            xmax = 1;
        }
        if (bars) {
            xmin -= 0.5;
            xmax += 0.5;
        }
        Axis ax = logX ? Axis.log(xmin, xmax) : Axis.linear(Math.min(xmin, bars ? xmin : 0), xmax);
        Axis ay = Axis.linear(0, ymax <= 0 ? 1 : ymax);
        int pw = W - ML - MR;
        int ph = H - MT - MB;
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "<svg id=\"%s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                + "role=\"img\" aria-label=\"%s\">\n", id, W, H, W, H, esc(title)));
        b.append(String.format(Locale.ROOT, "<text class=\"title\" x=\"%d\" y=\"18\">%s</text>\n", ML, esc(title)));
        for (double tv : ay.ticks) {
            double py = MT + ph - ay.frac(tv) * ph;
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
                    + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", ML, py, ML + pw, py, ML - 6,
                    py + 4, label(tv)));
        }
        for (double tv : ax.ticks) {
            double px = ML + ax.frac(tv) * pw;
            b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>"
                    + "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", px, MT, px, MT + ph, px,
                    MT + ph + 15, label(tv)));
        }
        b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                + "stroke=\"#999\"/>\n", ML, MT, pw, ph));
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                ML + pw / 2, H - 8, esc(xLabel)));
        b.append(String.format(Locale.ROOT, "<text x=\"14\" y=\"%d\" text-anchor=\"middle\" "
                + "transform=\"rotate(-90 14 %d)\">%s</text>\n", MT + ph / 2, MT + ph / 2, esc(yLabel)));
        for (Line l : lines) {
            if (l.bars()) {
                double bw = Math.max(1, pw / Math.max(1.0, ax.max - ax.min) * 0.8);
                b.append(String.format(Locale.ROOT, "<g data-series=\"%s\" data-points=\"%d\" fill=\"%s\">",
                        esc(l.name()), l.x().length, l.color()));
                for (int i = 0; i < l.x().length; i++) {
                    double px = ML + ax.frac(l.x()[i]) * pw;
                    double py = MT + ph - ay.frac(l.y()[i]) * ph;
                    b.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                            + "<title>%s: %s</title></rect>", px - bw / 2, py, bw, MT + ph - py, label(l.x()[i]),
                            label(l.y()[i])));
                }
                b.append("</g>\n");
                continue;
            }
            List<String> pts = new ArrayList<>();
            for (int i = 0; i < l.x().length; i++) {
                pts.add(String.format(Locale.ROOT, "%.1f,%.1f", ML + ax.frac(l.x()[i]) * pw,
                        MT + ph - ay.frac(l.y()[i]) * ph));
            }
            b.append(String.format(Locale.ROOT, "<polyline data-series=\"%s\" data-points=\"%d\" fill=\"none\" "
                    + "stroke=\"%s\" stroke-width=\"1.8\" points=\"%s\"/>\n", esc(l.name()), l.x().length, l.color(),
                    String.join(" ", pts)));
        }
        for (double[] mk : markers) {
            if (Double.isNaN(mk[0])) {
                continue;
            }
            double px = ML + ax.frac(mk[0]) * pw;
            b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#555\" "
                    + "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%d\">p%d %s</text>\n", px, MT, px, MT + ph,
                    px + 3, MT + 12 + (mk[1] > 50 ? 14 : 0), (int) mk[1], label(mk[0])));
        }
        int lx = ML + 10;
        for (Line l : lines) {
            b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                    + "<text x=\"%d\" y=\"%d\">%s</text>\n", lx + 250, MT + 6, l.color(), lx + 264, MT + 15,
                    esc(l.name())));
            lx += 24 + 7 * l.name().length();
        }
        b.append("</svg>\n");
        return b.toString();
    }

    /** An axis with "nice" ticks; log axes put ticks at 1, 2 and 5 times powers of ten (only 1 over > 3 decades). */
    static final class Axis {
        final double min;
        final double max;
        final boolean log;
        final List<Double> ticks = new ArrayList<>();

        private Axis(double min, double max, boolean log) {
            this.min = min;
            this.max = max;
            this.log = log;
        }

        static Axis linear(double lo, double hi) {
            if (hi <= lo) {
                hi = lo + 1;
            }
            double step = niceStep((hi - lo) / 5);
            double start = Math.floor(lo / step) * step;
            double end = Math.ceil(hi / step) * step;
            Axis a = new Axis(start, end, false);
            for (double v = start; v <= end + step / 2; v += step) {
                a.ticks.add(Math.abs(v) < step * 1e-9 ? 0 : v);
            }
            return a;
        }

        /** A log axis; below 10^-5 of the top value, samples are drawn at the left edge. */
        static Axis log(double lo, double hi) {
            double end = Math.pow(10, Math.ceil(Math.log10(hi)));
            double start = Math.max(Math.pow(10, Math.floor(Math.log10(lo))), end / 1e5);
            Axis a = new Axis(start, end, true);
            int[] mults = Math.log10(end / start) > 3 ? new int[] {1} : new int[] {1, 2, 5};
            for (double d = start; d <= end * 1.0001; d *= 10) {
                for (int m : mults) {
                    if (d * m <= end * 1.0001) {
                        a.ticks.add(d * m);
                    }
                }
            }
            return a;
        }

        double frac(double v) {
            if (log) {
                double lv = Math.log10(Math.max(v, min));
                return (lv - Math.log10(min)) / (Math.log10(max) - Math.log10(min));
            }
            return (v - min) / (max - min);
        }

        static double niceStep(double raw) {
            double mag = Math.pow(10, Math.floor(Math.log10(raw)));
            double f = raw / mag;
            return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
        }
    }

    static String label(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e9) {
            return Long.toString((long) v);
        }
        return Math.abs(v) >= 10 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.2g", v);
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
