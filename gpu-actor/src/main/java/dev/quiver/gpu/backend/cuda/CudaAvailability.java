package dev.quiver.gpu.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUdevice;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Whether the CUDA backend can run here, and if not, why, in words an operator can act on: the jar was built
 * without nvcc (no PTX), the driver's {@code libcuda.so.1} is missing (no GPU on this machine), {@code cuInit}
 * fails, there is no device, or the device is older than the PTX's compute_80. Probed once per JVM; the probe
 * loads JCuda's driver library only after the PTX check passes.
 */
public final class CudaAvailability {
    /** Compute capability the PTX targets (compute_80: Ampere, Ada, Hopper and newer load it). */
    public static final int MIN_COMPUTE_CAPABILITY = 80;

    private static String reason;
    private static boolean probed;

    private CudaAvailability() {
    }

    /** Null when the CUDA backend can start; otherwise why not. */
    public static synchronized String unavailableReason() {
        if (!probed) {
            reason = probe();
            probed = true;
        }
        return reason;
    }

    private static String probe() {
        String ptx = ptxProblem();
        return ptx != null ? ptx : driverProblem();
    }

    /** Null when every PTX module is on the class path; otherwise what is missing. */
    public static String ptxProblem() {
        List<String> missing = new ArrayList<>();
        for (String m : Kernel.MODULES) {
            if (CudaAvailability.class.getResource(Kernel.PTX_RESOURCE_DIR + m + ".ptx") == null) {
                missing.add(m + ".ptx");
            }
        }
        if (missing.size() == Kernel.MODULES.size()) {
            return "the jar has no PTX (built without nvcc on the PATH; see docs/CUDA.md)";
        }
        return missing.isEmpty() ? null : "the jar's PTX is incomplete: " + missing + " missing";
    }

    /** A PTX module's text, NUL-terminated as cuModuleLoadData wants it. */
    public static byte[] ptx(String module) {
        String path = Kernel.PTX_RESOURCE_DIR + module + ".ptx";
        try (InputStream in = CudaAvailability.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new UnsupportedOperationException("the jar has no " + path + " (built without nvcc)");
            }
            byte[] text = in.readAllBytes();
            byte[] z = new byte[text.length + 1];
            System.arraycopy(text, 0, z, 0, text.length);
            return z;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path, e);
        }
    }

    private static String driverProblem() {
        try {
            JCudaDriver.setExceptionsEnabled(false);
        } catch (LinkageError e) {
            return linkProblem(e);
        }
        int r = JCudaDriver.cuInit(0);
        if (r != CUresult.CUDA_SUCCESS) {
            return "cuInit failed: " + CUresult.stringFor(r) + (r == CUresult.CUDA_ERROR_NO_DEVICE
                    ? " (the driver sees no GPU)" : "");
        }
        int[] count = new int[1];
        r = JCudaDriver.cuDeviceGetCount(count);
        if (r != CUresult.CUDA_SUCCESS || count[0] == 0) {
            return "no CUDA device (" + CUresult.stringFor(r) + ", " + count[0] + " devices)";
        }
        CUdevice d = new CUdevice();
        int[] major = new int[1];
        int[] minor = new int[1];
        r = JCudaDriver.cuDeviceGet(d, 0);
        if (r == CUresult.CUDA_SUCCESS) {
            r = JCudaDriver.cuDeviceComputeCapability(major, minor, d);
        }
        if (r != CUresult.CUDA_SUCCESS) {
            return "cannot query CUDA device 0: " + CUresult.stringFor(r);
        }
        if (major[0] * 10 + minor[0] < MIN_COMPUTE_CAPABILITY) {
            return "CUDA device 0 has compute capability " + major[0] + "." + minor[0] + "; the PTX targets compute_80"
                    + " (Ampere or newer)";
        }
        return null;
    }

    /** Why JCuda's native driver binding did not load: most often, no libcuda.so.1 (no NVIDIA driver). */
    static String linkProblem(Throwable e) {
        StringBuilder all = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            all.append(t.getMessage()).append('\n');
        }
        if (all.indexOf("libcuda.so.1") >= 0) {
            return "CUDA driver libcuda.so.1 not found: no GPU on this machine (JCuda's driver binding needs the "
                    + "NVIDIA driver)";
        }
        String first = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
        return "JCuda's driver binding did not load: " + e.getClass().getSimpleName() + ": " + first;
    }
}
