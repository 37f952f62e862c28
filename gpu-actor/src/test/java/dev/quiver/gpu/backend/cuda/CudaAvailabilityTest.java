package dev.quiver.gpu.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.testing.TinyModels;
import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;

/** Why the CUDA backend cannot start here, in words; and every failed driver call named with its error. */
class CudaAvailabilityTest {

    @Test
    void a_missing_driver_library_is_reported_as_no_gpu_on_this_machine() {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("Error while loading native library \"JCudaDriver-12.6.0"
                + "-linux-x86_64\"\n...\n/tmp/libJCudaDriver-12.6.0-linux-x86_64.so: libcuda.so.1: cannot open shared "
                + "object file: No such file or directory");
        assertEquals("CUDA driver libcuda.so.1 not found: no GPU on this machine (JCuda's driver binding needs the "
                + "NVIDIA driver)", CudaAvailability.linkProblem(e));
    }

    @Test
    void another_link_failure_is_reported_with_its_first_line() {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("undefined symbol: cuFoo\nmore");
        assertEquals("JCuda's driver binding did not load: UnsatisfiedLinkError: undefined symbol: cuFoo",
                CudaAvailability.linkProblem(e));
    }

    @Test
    void on_a_machine_without_a_gpu_the_backend_refuses_to_start_and_says_why() {
        String why = CudaAvailability.unavailableReason();
        assumeTrue(why != null, "this machine can run CUDA");
        assertTrue(why.startsWith("the jar has no PTX (built without nvcc") || why.startsWith("CUDA driver libcuda.so.1 "
                + "not found") || why.startsWith("cuInit failed"), why);
        try (ModelWeights w = ModelWeights.load(TinyModels.model(DType.BF16))) {
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> new CudaBackend(w, DeviceBackend.Settings.of(8, 4, 2, 16, 8)));
            assertEquals("the cuda backend is not available: " + why, e.getMessage());
        }
    }

    @Test
    void a_failed_driver_call_names_the_call_and_the_driver_error() {
        CudaException.check(CUresult.CUDA_SUCCESS, "cuInit");
        CudaException e = assertThrows(CudaException.class,
                () -> CudaException.check(CUresult.CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc(k_cache, 512.0 MiB)"));
        assertEquals("cuMemAlloc(k_cache, 512.0 MiB) failed: CUDA_ERROR_OUT_OF_MEMORY (CUresult 2)", e.getMessage());
        assertEquals(2, e.result());
    }
}
