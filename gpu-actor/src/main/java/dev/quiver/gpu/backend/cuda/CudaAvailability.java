package dev.quiver.gpu.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jcuda.driver.CUdevice;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Whether the CUDA backend can run here, and if not, why, in words an operator can act on: the jar was built
 * without nvcc (no PTX), the driver's {@code libcuda.so.1} is missing (no GPU on this machine), {@code cuInit}
 * fails, the driver is older than the PTX ISA the jar carries needs, there is no device, or the device is older
 * than the PTX's compute_80. Probed once per JVM; the probe loads JCuda's driver library only after the PTX check
 * passes.
 *
 * <p>NOTE: a driver JIT-compiles only the PTX ISA versions it knows; newer PTX fails in {@code cuModuleLoadData}
 * with CUDA_ERROR_UNSUPPORTED_PTX_VERSION. The build (build-ptx.sh) declares ISA 8.0 (CUDA 12.0 drivers, R525+)
 * rather than nvcc 13's 9.0 (R580+), and this class checks {@code cuDriverGetVersion} against the version the
 * jar's PTX declares ({@link #minDriverVersion}), so an old driver is a reason to refuse, not a failed start.
 */
public final class CudaAvailability {
    /** Compute capability the PTX targets (compute_80: Ampere, Ada, Hopper and newer load it). */
    public static final int MIN_COMPUTE_CAPABILITY = 80;

    /**
     * PTX ISA version → the first CUDA release that knows it, as {@code cuDriverGetVersion} reports a driver's
     * CUDA version (1000 · major + 10 · minor), after the PTX ISA release history in NVIDIA's PTX documentation.
     * NOTE: the two stopped moving together after 8.5 (12.5): 8.6 came with 12.7, not 12.6.
     */
    static final Map<String, Integer> PTX_ISA_MIN_DRIVER = Map.ofEntries(
            Map.entry("7.0", 11000), Map.entry("7.1", 11010), Map.entry("7.2", 11020), Map.entry("7.3", 11030),
            Map.entry("7.4", 11040), Map.entry("7.5", 11050), Map.entry("7.6", 11060), Map.entry("7.7", 11070),
            Map.entry("7.8", 11080), Map.entry("8.0", 12000), Map.entry("8.1", 12010), Map.entry("8.2", 12020),
            Map.entry("8.3", 12030), Map.entry("8.4", 12040), Map.entry("8.5", 12050), Map.entry("8.6", 12070),
            Map.entry("8.7", 12080), Map.entry("8.8", 12090), Map.entry("9.0", 13000), Map.entry("9.1", 13010));

    /** CUDA version → the Linux driver branch that first shipped it, for messages an operator can act on. */
    private static final Map<Integer, String> DRIVER_BRANCH = Map.ofEntries(
            Map.entry(11000, "R450"), Map.entry(11010, "R455"), Map.entry(11020, "R460"), Map.entry(11030, "R465"),
            Map.entry(11040, "R470"), Map.entry(11050, "R495"), Map.entry(11060, "R510"), Map.entry(11070, "R515"),
            Map.entry(11080, "R520"), Map.entry(12000, "R525"), Map.entry(12010, "R530"), Map.entry(12020, "R535"),
            Map.entry(12030, "R545"), Map.entry(12040, "R550"), Map.entry(12050, "R555"), Map.entry(12070, "R565"),
            Map.entry(12080, "R570"), Map.entry(12090, "R575"), Map.entry(13000, "R580"), Map.entry(13010, "R590"));

    private static final Pattern VERSION = Pattern.compile("(?m)^\\.version\\s+(\\d+\\.\\d+)\\s*$");

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

    /** The PTX ISA version a module's text declares ({@code .version 8.0} → "8.0"). */
    public static String ptxIsa(String ptxText) {
        Matcher m = VERSION.matcher(ptxText);
        if (!m.find()) {
            throw new IllegalArgumentException("PTX text without a .version directive");
        }
        return m.group(1);
    }

    /** The newest PTX ISA version among the jar's modules: what the driver must know to load them all. */
    public static String jarPtxIsa() {
        String newest = null;
        for (String m : Kernel.MODULES) {
            String isa = ptxIsa(new String(ptx(m), StandardCharsets.US_ASCII));
            if (newest == null || minDriverVersion(isa) > minDriverVersion(newest)) {
                newest = isa;
            }
        }
        return newest;
    }

    /**
     * The oldest driver, as {@code cuDriverGetVersion} reports it (1000 · CUDA major + 10 · minor), that
     * JIT-compiles PTX of ISA version {@code isa}.
     *
     * @throws IllegalArgumentException for an ISA version this table does not know (newer than 9.1, or malformed)
     */
    public static int minDriverVersion(String isa) {
        Integer v = PTX_ISA_MIN_DRIVER.get(isa);
        if (v == null) {
            throw new IllegalArgumentException("PTX ISA version " + isa + " is not one CudaAvailability knows the "
                    + "driver requirement of (7.0 .. 9.1)");
        }
        return v;
    }

    /** Null when a driver of CUDA version {@code driverVersion} loads PTX of ISA {@code isa}; otherwise why not. */
    public static String driverTooOld(int driverVersion, String isa) {
        int need = minDriverVersion(isa);
        if (driverVersion >= need) {
            return null;
        }
        return "the CUDA driver supports CUDA " + cudaVersion(driverVersion) + " (cuDriverGetVersion " + driverVersion
                + "); the jar's PTX is ISA " + isa + ", which needs a driver for CUDA " + cudaVersion(need)
                + " or newer (" + DRIVER_BRANCH.get(need) + "+)";
    }

    /** 12020 → "12.2". */
    static String cudaVersion(int driverVersion) {
        return driverVersion / 1000 + "." + driverVersion % 1000 / 10;
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
        int[] driver = new int[1];
        r = JCudaDriver.cuDriverGetVersion(driver);
        if (r != CUresult.CUDA_SUCCESS) {
            return "cuDriverGetVersion failed: " + CUresult.stringFor(r);
        }
        String tooOld;
        try {
            tooOld = driverTooOld(driver[0], jarPtxIsa());
        } catch (IllegalArgumentException e) { // a PTX ISA this class has no driver requirement for
            return e.getMessage();
        }
        if (tooOld != null) {
            return tooOld;
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
