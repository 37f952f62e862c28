package dev.quiver.edge.api;

import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * What the HTTP edge needs to serve the OpenAI API. The single-node application implements it over one local
 * GpuWorker; the cluster implements it over sharded adapter entities. The edge knows nothing else.
 */
public interface InferenceService {
    /** The base model (served name, tokenizer, context length). */
    ModelSpec baseModel();

    /** The base model and every adapter {@code caller} may use. */
    List<ModelEntry> models(Caller caller);

    /**
     * Starts one generation; events go to {@code listener} (from any thread). A model the caller may not use is
     * reported as {@link ServiceError.Kind#NOT_FOUND} through {@code listener.onFailed}, like every other failure.
     */
    GenerationHandle generate(Caller caller, Generation generation, GenerationListener listener);

    /** For {@code GET /ready}. */
    CompletionStage<Readiness> readiness();
}
