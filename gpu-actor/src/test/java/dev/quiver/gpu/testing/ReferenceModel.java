package dev.quiver.gpu.testing;

import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.lora.LoraModule;
import dev.quiver.gpu.model.ModelConfig;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.model.WeightMatrix;

/**
 * An independent float64 Llama forward pass in plain loops, with a LoRA adapter merged into the weights
 * (W' = W + scale · B · A) — the textbook computation the engine's unmerged, batched, paged, float32 path must
 * agree with. No KV cache: every call recomputes the whole sequence.
 */
public final class ReferenceModel {
    private final ModelConfig c;
    private final double[][] emb;
    private final double[][] head;
    private final double[] finalNorm;
    private final double[][][][] w;   // [layer][module][out][in], merged
    private final double[][][] bias; // [layer][q,k,v][out] or null
    private final double[][][] norms; // [layer][attn, mlp][hidden]

    public ReferenceModel(ModelWeights mw, LoraAdapter adapter) {
        c = mw.config;
        emb = dense(mw.embedding);
        head = dense(mw.lmHead);
        finalNorm = toDouble(mw.finalNorm);
        w = new double[c.numLayers()][LoraModule.COUNT][][];
        bias = new double[c.numLayers()][][];
        norms = new double[c.numLayers()][2][];
        for (int l = 0; l < c.numLayers(); l++) {
            ModelWeights.Layer lw = mw.layers[l];
            norms[l][0] = toDouble(lw.attnNorm());
            norms[l][1] = toDouble(lw.mlpNorm());
            if (c.qkvBias()) {
                bias[l] = new double[][] {toDouble(lw.qBias()), toDouble(lw.kBias()), toDouble(lw.vBias())};
            }
            for (LoraModule m : LoraModule.values()) {
                double[][] d = dense(lw.module(m.peftName));
                if (adapter != null && adapter.a(l, m) != null) {
                    float[] a = adapter.a(l, m);
                    float[] b = adapter.b(l, m);
                    int r = adapter.rank;
                    int in = m.in(c);
                    for (int o = 0; o < d.length; o++) {
                        for (int i = 0; i < in; i++) {
                            double s = 0;
                            for (int k = 0; k < r; k++) {
                                s += (double) b[o * r + k] * a[k * in + i];
                            }
                            d[o][i] += adapter.scale * s;
                        }
                    }
                }
                w[l][m.ordinal()] = d;
            }
        }
    }

    /** Logits [tokens.length][vocab] at every position. */
    public double[][] logits(int[] tokens) {
        int n = tokens.length;
        int h = c.hiddenSize();
        int hd = c.headDim();
        double[][] x = new double[n][];
        for (int t = 0; t < n; t++) {
            x[t] = emb[tokens[t]].clone();
        }
        double[] inv = c.ropeInverseFrequencies();
        for (int l = 0; l < c.numLayers(); l++) {
            double[][] q = new double[n][], k = new double[n][], v = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] xn = rms(x[t], norms[l][0]);
                q[t] = mv(w[l][0], xn);
                k[t] = mv(w[l][1], xn);
                v[t] = mv(w[l][2], xn);
                if (bias[l] != null) {
                    add(q[t], bias[l][0]);
                    add(k[t], bias[l][1]);
                    add(v[t], bias[l][2]);
                }
                rope(q[t], c.numHeads(), hd, t, inv);
                rope(k[t], c.numKvHeads(), hd, t, inv);
            }
            int group = c.numHeads() / c.numKvHeads();
            for (int t = 0; t < n; t++) {
                double[] att = new double[c.qDim()];
                for (int hh = 0; hh < c.numHeads(); hh++) {
                    int kvh = hh / group;
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= t; j++) {
                        double d = 0;
                        for (int i = 0; i < hd; i++) {
                            d += q[t][hh * hd + i] * k[j][kvh * hd + i];
                        }
                        s[j] = d / Math.sqrt(hd);
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= t; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int j = 0; j <= t; j++) {
                        for (int i = 0; i < hd; i++) {
                            att[hh * hd + i] += s[j] / sum * v[j][kvh * hd + i];
                        }
                    }
                }
                add(x[t], mv(w[l][3], att));
            }
            for (int t = 0; t < n; t++) {
                double[] xn = rms(x[t], norms[l][1]);
                double[] g = mv(w[l][4], xn);
                double[] u = mv(w[l][5], xn);
                for (int i = 0; i < g.length; i++) {
                    g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
                }
                add(x[t], mv(w[l][6], g));
            }
        }
        double[][] out = new double[n][];
        for (int t = 0; t < n; t++) {
            out[t] = mv(head, rms(x[t], finalNorm));
        }
        return out;
    }

    private double[] rms(double[] x, double[] w) {
        double ss = 0;
        for (double v : x) {
            ss += v * v;
        }
        double inv = 1 / Math.sqrt(ss / x.length + c.rmsNormEps());
        double[] o = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            o[i] = w[i] * x[i] * inv;
        }
        return o;
    }

    private static void rope(double[] v, int heads, int hd, int pos, double[] inv) {
        int half = hd / 2;
        for (int hh = 0; hh < heads; hh++) {
            for (int i = 0; i < half; i++) {
                double a = pos * inv[i];
                double x1 = v[hh * hd + i];
                double x2 = v[hh * hd + i + half];
                v[hh * hd + i] = x1 * Math.cos(a) - x2 * Math.sin(a);
                v[hh * hd + i + half] = x2 * Math.cos(a) + x1 * Math.sin(a);
            }
        }
    }

    private static double[] mv(double[][] m, double[] x) {
        double[] y = new double[m.length];
        for (int o = 0; o < m.length; o++) {
            double s = 0;
            for (int i = 0; i < x.length; i++) {
                s += m[o][i] * x[i];
            }
            y[o] = s;
        }
        return y;
    }

    private static void add(double[] a, double[] b) {
        for (int i = 0; i < a.length; i++) {
            a[i] += b[i];
        }
    }

    private static double[][] dense(WeightMatrix m) {
        double[][] d = new double[m.rows()][m.cols()];
        for (int r = 0; r < m.rows(); r++) {
            for (int col = 0; col < m.cols(); col++) {
                d[r][col] = m.get(r, col);
            }
        }
        return d;
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /** Index of the largest value, lowest index on ties. */
    public static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
