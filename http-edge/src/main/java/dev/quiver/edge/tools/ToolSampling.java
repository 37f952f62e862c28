package dev.quiver.edge.tools;

import dev.quiver.gpu.constraint.ConstraintSpec;
import dev.quiver.gpu.sampling.SamplingParams;

/** What tools change in a choice's sampling parameters. */
public final class ToolSampling {
    private ToolSampling() {
    }

    /**
     * {@code p} with the forced-call constraint ({@link ToolConstraints#forRequest}, null for none) and, when the
     * format's call marker is a special token (Mistral's {@code [TOOL_CALLS]}), special tokens kept in the text so
     * that the parser sees the marker (as vLLM does for Mistral).
     */
    public static SamplingParams apply(SamplingParams p, ToolRequest tools, ToolFormat format,
                                       ConstraintSpec constraint) {
        if (!tools.active()) {
            return p;
        }
        SamplingParams out = constraint == null ? p : p.withConstraint(constraint);
        if (format.needsSpecialTokens() && out.skipSpecialTokens()) {
            out = new SamplingParams(out.maxTokens(), out.temperature(), out.topP(), out.topK(), out.seed(), out.stop(),
                    out.logprobs(), out.ignoreEos(), out.presencePenalty(), out.frequencyPenalty(),
                    out.repetitionPenalty(), out.logitBias(), out.minTokens(), out.stopTokenIds(), false,
                    out.promptLogprobs(), out.constraint());
        }
        return out;
    }
}
