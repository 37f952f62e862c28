package dev.quiver.edge.api;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * The adapter admin and audit API the edge serves to admin keys. Every call is scoped to the caller's tenant: an
 * adapter of another tenant is {@link ServiceError.Kind#NOT_FOUND}. Failures complete the stage with a
 * {@link ServiceException}.
 */
public interface AdapterAdmin {
    /** Registers a new adapter (version 1) after validating its files against the base model. */
    CompletionStage<AdapterView> register(Caller caller, String name, AdapterSource source, boolean shared);

    /** Validates and publishes a new version, which becomes the active one. */
    CompletionStage<AdapterView> publishVersion(Caller caller, String name, AdapterSource source);

    CompletionStage<List<AdapterView>> list(Caller caller);

    CompletionStage<AdapterView> get(Caller caller, String name);

    /** Makes {@code toVersion} (or, when null, the version before the active one) active again. */
    CompletionStage<AdapterView> rollback(Caller caller, String name, Integer toVersion);

    /** Loads the active version into compute slots on {@code replicas} workers and keeps it there. */
    CompletionStage<AdapterView> preload(Caller caller, String name, int replicas);

    /** Retires the adapter: new requests get 404; requests in flight finish; then it is evicted. */
    CompletionStage<AdapterView> retire(Caller caller, String name);

    CompletionStage<List<AdapterEvent>> events(Caller caller, String name);

    /** Every lifecycle event the caller may see with {@code seq > since}, oldest first. */
    CompletionStage<List<AdapterEvent>> eventsSince(Caller caller, long since);

    /**
     * Publishes a new version; with {@code activate} false it is only added (no traffic until a split or a
     * promotion gives it some).
     */
    default CompletionStage<AdapterView> publishVersion(Caller caller, String name, AdapterSource source,
                                                        boolean activate) {
        if (activate) {
            return publishVersion(caller, name, source);
        }
        throw ServiceError.of(ServiceError.Kind.METHOD_NOT_ALLOWED, "staged versions are not supported").exception();
    }

    /**
     * Splits traffic between versions ({@code weights}: version → percent, two or more summing to 100), changes the
     * split in progress, or with one version at 100 ends it (promote). Visible on every node when it completes.
     */
    default CompletionStage<AdapterView> split(Caller caller, String name, Map<Integer, Integer> weights,
                                               String reason) {
        throw ServiceError.of(ServiceError.Kind.METHOD_NOT_ALLOWED, "traffic splits are not supported").exception();
    }

    /** Ends the split in progress and returns to the version active before it. */
    default CompletionStage<AdapterView> abortSplit(Caller caller, String name, String reason) {
        throw ServiceError.of(ServiceError.Kind.METHOD_NOT_ALLOWED, "traffic splits are not supported").exception();
    }

    /** Sets what serves a request whose version cannot be loaded: {@code none} (it fails) or {@code base}. */
    default CompletionStage<AdapterView> setFallback(Caller caller, String name, String fallback) {
        throw ServiceError.of(ServiceError.Kind.METHOD_NOT_ALLOWED, "fallback is not supported").exception();
    }
}
