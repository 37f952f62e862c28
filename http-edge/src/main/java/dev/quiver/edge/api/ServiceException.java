package dev.quiver.edge.api;

/** Carries a {@link ServiceError} through futures and call stacks to the edge's one error mapping. */
public final class ServiceException extends RuntimeException {
    private final transient ServiceError error;

    public ServiceException(ServiceError error) {
        super(error.message(), null, false, false);
        this.error = error;
    }

    public ServiceError error() {
        return error;
    }
}
