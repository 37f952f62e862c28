package dev.quiver.gpu.backend.cuda;

import jcuda.driver.CUresult;

/**
 * A CUDA driver call that did not return CUDA_SUCCESS: names the call, what it was doing and the driver's
 * error. Thrown from a forward step it fails that step's requests and marks the worker unhealthy (Engine).
 */
public final class CudaException extends RuntimeException {
    private final int result;

    public CudaException(String call, int result) {
        super(call + " failed: " + CUresult.stringFor(result) + " (CUresult " + result + ")");
        this.result = result;
    }

    /** The driver's CUresult code. */
    public int result() {
        return result;
    }

    /** Throws unless {@code result} is CUDA_SUCCESS; every driver call goes through this. */
    public static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call, result);
        }
    }
}
