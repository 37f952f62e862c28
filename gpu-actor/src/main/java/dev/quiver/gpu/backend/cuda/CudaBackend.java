package dev.quiver.gpu.backend.cuda;

import static dev.quiver.gpu.backend.cuda.CudaException.check;

import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.model.ModelWeights;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUfunction;
import jcuda.driver.CUjit_option;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JITOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CUDA backend, through the JCuda driver API only (no runtime API, NVRTC or cuBLAS: those bindings need CUDA
 * 12 libraries, while the driver binding needs only the driver's {@code libcuda.so.1}). Our kernels come as PTX
 * in the jar ({@code src/main/cuda}, compiled by nvcc at build time, PTX ISA 8.0) and are loaded with {@code
 * cuModuleLoadDataEx}, so the driver JIT-compiles them for the device at hand; a JIT failure carries the JIT's
 * error log.
 *
 * <p>The context is created by the constructor on the calling thread, the engine thread, and used only there
 * ({@link #checkThread}, which also makes it current: {@code cuCtxSetCurrent}). It owns: the base weights
 * (BF16/F16), the float32 KV cache, adapter slots, per-step activations, a compute stream and a copy stream.
 *
 * <p>Streams: both are non-blocking, so nothing is ever issued on the legacy default stream, which would not be
 * ordered with them. Zero-fills ({@code cuMemsetD8Async}), uploads of weights and slot tables and of the step's
 * ints ({@code cuMemcpyHtoDAsync} from pinned staging memory), launches and the read-back of the logits all go
 * on the compute stream, in the order {@link DeviceBackend} issues them, and every step ends with a
 * synchronisation of it. Adapters are packed into a pinned host buffer per slot ({@code cuMemHostAlloc}) and
 * copied on the copy stream; the slot's event is recorded after the copy, and a step whose rows use a slot whose
 * event has not completed makes the compute stream wait for it just before its first LoRA launch, so the base
 * part of that step overlaps the copy. The constructor waits for its uploads and zero-fills, so an adapter copy
 * never races the zero-fill of the slots.
 *
 * <p>Every driver call is checked ({@link CudaException}); a kernel fault surfaces at the step's final
 * synchronisation and fails the step. {@link #close} frees all device and pinned memory and destroys the
 * context. Host logic (launch plans, layouts, slot tables) lives in {@link DeviceBackend} and is tested without
 * a GPU through {@code TwinBackend} (test scope).
 */
public final class CudaBackend extends DeviceBackend {
    private static final Logger log = LoggerFactory.getLogger(CudaBackend.class);
    /** Device memory left to the driver, JIT and kernel stacks beyond what {@link DeviceBudget} counts. */
    static final long RESERVE_BYTES = 512L << 20;
    /** Largest piece of an upload staged through pinned memory at once. */
    static final long UPLOAD_CHUNK_BYTES = 8L << 20;
    /** Bytes of the JIT error log kept when a module does not load. */
    static final int JIT_LOG_BYTES = 16 << 10;

    private final CudaDriver driver;
    private final Function<String, byte[]> ptxSource; // module name → NUL-terminated PTX text
    private CUcontext context;
    private final List<CUmodule> modules = new ArrayList<>();
    private final Map<Kernel, CUfunction> functions = new EnumMap<>(Kernel.class);
    private CUstream compute;
    private CUstream copy;
    private final Map<String, CUdeviceptr> buffers = new LinkedHashMap<>();
    private final Map<String, Long> sizes = new HashMap<>();
    private final Pointer[] slotStaging;      // pinned host copy of each slot's adapter
    private final long[] slotStagingBytes;
    private final CUevent[] slotCopied;
    private final boolean[] slotPending;
    private Pointer pinnedStep;
    private long pinnedStepBytes;
    private Pointer pinnedOut;
    private long pinnedOutBytes;
    private Pointer pinnedUpload;             // staging of copyIn: weights, tables
    private long pinnedUploadBytes;
    private CUevent uploaded;                 // recorded on compute after each staged upload
    private boolean uploadPending;
    private String deviceName = "?";
    private boolean closed;

    /**
     * Creates the context on this thread, loads the PTX, checks the memory budget, uploads the weights.
     *
     * @throws UnsupportedOperationException when CUDA cannot run here, naming why ({@link CudaAvailability})
     */
    public CudaBackend(ModelWeights weights, Settings settings) {
        this(weights, settings, availableDriver(), CudaAvailability::ptx);
    }

    private static CudaDriver availableDriver() {
        String why = CudaAvailability.unavailableReason();
        if (why != null) {
            throw new UnsupportedOperationException("the cuda backend is not available: " + why);
        }
        return CudaDriver.JCUDA;
    }

    /**
     * Over the given driver and PTX source, without the availability probe: for tests, where the driver is a
     * recording fake.
     */
    CudaBackend(ModelWeights weights, Settings settings, CudaDriver driver, Function<String, byte[]> ptxSource) {
        super(weights.config, weights.dtype, settings);
        this.driver = driver;
        this.ptxSource = ptxSource;
        int slots = settings.numSlots();
        slotStaging = new Pointer[slots];
        slotStagingBytes = new long[slots];
        slotCopied = new CUevent[slots];
        slotPending = new boolean[slots];
        try {
            check(driver.cuInit(0), "cuInit");
            CUdevice device = new CUdevice();
            check(driver.cuDeviceGet(device, 0), "cuDeviceGet(0)");
            byte[] name = new byte[256];
            check(driver.cuDeviceGetName(name, name.length, device), "cuDeviceGetName");
            deviceName = new String(name, java.nio.charset.StandardCharsets.US_ASCII).trim().replace("\0", "");
            CUcontext ctx = new CUcontext();
            check(driver.cuCtxCreate(ctx, 0, device), "cuCtxCreate on " + deviceName);
            context = ctx;
            for (String m : Kernel.MODULES) {
                modules.add(loadModule(m));
            }
            for (Kernel k : Kernel.values()) {
                CUfunction f = new CUfunction();
                check(driver.cuModuleGetFunction(f, modules.get(Kernel.MODULES.indexOf(k.module)), k.entry),
                        "cuModuleGetFunction(" + k.entry + ")");
                functions.put(k, f);
            }
            compute = new CUstream();
            // NOTE: non-blocking, so an adapter copy on `copy` keeps running under the compute work; nothing of
            // this backend runs on the legacy default stream (it would not be ordered with these two)
            check(driver.cuStreamCreate(compute, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate(compute)");
            copy = new CUstream();
            check(driver.cuStreamCreate(copy, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate(copy)");
            for (int s = 0; s < slots; s++) {
                slotCopied[s] = new CUevent();
                check(driver.cuEventCreate(slotCopied[s], CUevent_flags.CU_EVENT_DISABLE_TIMING),
                        "cuEventCreate(slot " + s + ")");
            }
            uploaded = new CUevent();
            check(driver.cuEventCreate(uploaded, CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate(upload)");
            long[] free = new long[1];
            long[] total = new long[1];
            check(driver.cuMemGetInfo(free, total), "cuMemGetInfo");
            DeviceBudget budget = budget();
            budget.check(free[0], RESERVE_BYTES);
            allocateAndUpload(weights);
            // the zero-fills and uploads are on `compute`; adapter copies on `copy` must not overtake them
            check(driver.cuStreamSynchronize(compute), "the weight upload (cuStreamSynchronize(compute))");
            log.info("cuda backend on {}: {} of device memory for weights, KV cache, {} adapter slots and activations "
                    + "({} free before)", deviceName, DeviceBudget.mib(budget.total()), slots,
                    DeviceBudget.mib(free[0]));
        } catch (RuntimeException | Error e) {
            release();
            throw e;
        }
    }

    @Override
    public String name() {
        return "cuda";
    }

    /**
     * Loads a PTX module with cuModuleLoadDataEx and an error-log buffer, so a JIT failure says what the JIT
     * refused (an ISA the driver does not know, a resource limit) instead of a bare CUresult.
     */
    private CUmodule loadModule(String m) {
        byte[] ptx = ptxSource.apply(m);
        CUmodule module = new CUmodule();
        JITOptions options = new JITOptions();
        options.putBytes(CUjit_option.CU_JIT_ERROR_LOG_BUFFER, new byte[JIT_LOG_BYTES]);
        options.putInt(CUjit_option.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, JIT_LOG_BYTES);
        int r = driver.cuModuleLoadDataJIT(module, Pointer.to(ptx), options);
        if (r != CUresult.CUDA_SUCCESS) {
            String isa = CudaAvailability.ptxIsa(new String(ptx, java.nio.charset.StandardCharsets.US_ASCII));
            throw new CudaException("cuModuleLoadDataEx(" + m + ".ptx, PTX ISA " + isa + "): the driver could not "
                    + "JIT the PTX; JIT log: " + jitLog(options.getBytes(CUjit_option.CU_JIT_ERROR_LOG_BUFFER)), r);
        }
        return module;
    }

    /** The NUL-terminated text the JIT wrote into its log buffer, or a note that it wrote none. */
    static String jitLog(byte[] buffer) {
        int n = 0;
        while (buffer != null && n < buffer.length && buffer[n] != 0) {
            n++;
        }
        String log = n == 0 ? "" : new String(buffer, 0, n, java.nio.charset.StandardCharsets.UTF_8).strip();
        return log.isEmpty() ? "(empty)" : log;
    }

    /** Binds this backend's context to the calling (owner) thread, so its calls never reach another context. */
    @Override
    protected void makeContextCurrent() {
        if (context != null) {
            check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
        }
    }

    // ---- device memory ----

    private CUdeviceptr ptr(String buffer) {
        CUdeviceptr p = buffers.get(real(buffer));
        if (p == null) {
            throw new IllegalStateException("no device buffer '" + buffer + "'");
        }
        return p;
    }

    @Override
    protected void allocate(String buffer, long bytes) {
        CUdeviceptr old = buffers.remove(buffer);
        if (old != null) {
            check(driver.cuMemFree(old), "cuMemFree(" + buffer + ")");
        }
        CUdeviceptr p = new CUdeviceptr();
        check(driver.cuMemAlloc(p, bytes), "cuMemAlloc(" + buffer + ", " + DeviceBudget.mib(bytes) + ")");
        buffers.put(buffer, p);
        sizes.put(buffer, bytes);
        // NOTE: on `compute`, so the step ints or tables copied into this buffer later (also on `compute`) land
        // after the zeros; a synchronous cuMemsetD8 would run on the legacy stream, unordered with `compute`
        check(driver.cuMemsetD8Async(p, (byte) 0, bytes, compute), "cuMemsetD8Async(" + buffer + ")");
    }

    /**
     * Stages src through pinned memory a chunk at a time and copies each chunk asynchronously on the compute
     * stream; waits only for the previous chunk's copy before reusing the staging memory.
     * NOTE: one staging buffer, so filling a chunk and copying the previous one do not overlap; it is used at
     * start (weights) and for the small slot tables, where that costs little.
     */
    @Override
    protected void copyIn(String buffer, long offset, ByteBuffer src) {
        long n = src.remaining();
        if (n == 0) {
            return;
        }
        checkRange(buffer, offset, n);
        ByteBuffer from = src.duplicate();
        long done = 0;
        while (done < n) {
            long chunk = Math.min(n - done, UPLOAD_CHUNK_BYTES);
            Pointer staging = pinnedUpload(chunk);
            ByteBuffer to = staging.getByteBuffer(0, chunk);
            from.limit(from.position() + (int) chunk);
            to.put(from);
            from.limit(src.limit());
            check(driver.cuMemcpyHtoDAsync(ptr(buffer).withByteOffset(offset + done), staging, chunk, compute),
                    "cuMemcpyHtoDAsync(" + buffer + " + " + (offset + done) + ", " + chunk + " bytes)");
            check(driver.cuEventRecord(uploaded, compute), "cuEventRecord(upload)");
            uploadPending = true;
            done += chunk;
        }
    }

    /** The upload staging memory, at least {@code bytes}, once the copy from it in flight (if any) is done. */
    private Pointer pinnedUpload(long bytes) {
        if (uploadPending) {
            check(driver.cuEventSynchronize(uploaded), "cuEventSynchronize(upload)");
            uploadPending = false;
        }
        if (bytes > pinnedUploadBytes) {
            long grown = Math.min(UPLOAD_CHUNK_BYTES, Math.max(bytes, 2 * pinnedUploadBytes));
            if (pinnedUpload != null) {
                check(driver.cuMemFreeHost(pinnedUpload), "cuMemFreeHost(upload)");
                pinnedUpload = null;
            }
            pinnedUpload = hostAlloc(grown, "upload");
            pinnedUploadBytes = grown;
        }
        return pinnedUpload;
    }

    private Pointer hostAlloc(long bytes, String what) {
        Pointer p = new Pointer();
        check(driver.cuMemHostAlloc(p, bytes, 0), "cuMemHostAlloc(" + what + ", " + bytes + " bytes)");
        return p;
    }

    private void checkRange(String buffer, long offset, long n) {
        long size = sizes.getOrDefault(real(buffer), 0L);
        if (offset < 0 || offset + n > size) {
            throw new IllegalArgumentException("copy of " + n + " bytes at " + offset + " overruns " + buffer + " ("
                    + size + " bytes)");
        }
    }

    @Override
    protected void copyStep(int[] data) {
        // the previous step has completed (every forward ends with synchronize), but make sure before reusing
        // the pinned memory
        check(driver.cuStreamSynchronize(compute), "cuStreamSynchronize(compute) before a step");
        long bytes = Math.max(4, 4L * data.length);
        if (bytes > pinnedStepBytes) {
            long grown = Math.max(bytes, 2 * pinnedStepBytes);
            if (pinnedStep != null) {
                check(driver.cuMemFreeHost(pinnedStep), "cuMemFreeHost(step)");
                pinnedStep = null;
            }
            pinnedStep = hostAlloc(grown, "step");
            pinnedStepBytes = grown;
            allocate(Buffers.STEP, grown);
        }
        pinnedStep.getByteBuffer(0, bytes).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().put(data);
        check(driver.cuMemcpyHtoDAsync(ptr(Buffers.STEP), pinnedStep, bytes, compute),
                "cuMemcpyHtoDAsync(step, " + bytes + " bytes)");
    }

    @Override
    protected void copySlot(int slot, long byteOffset, SlotLayout layout, LoraAdapter a) {
        long bytes = layout.bytes();
        if (slotPending[slot]) {
            // the staging buffer is about to be overwritten: its previous copy must be done
            check(driver.cuEventSynchronize(slotCopied[slot]), "cuEventSynchronize(slot " + slot + ")");
            slotPending[slot] = false;
        }
        if (bytes == 0) {
            return;
        }
        if (bytes > slotStagingBytes[slot]) {
            if (slotStaging[slot] != null) {
                check(driver.cuMemFreeHost(slotStaging[slot]), "cuMemFreeHost(slot " + slot + ")");
                slotStaging[slot] = null;
            }
            slotStaging[slot] = hostAlloc(bytes, "slot " + slot);
            slotStagingBytes[slot] = bytes;
        }
        checkRange(Buffers.SLOTS, byteOffset, bytes);
        layout.pack(a, slotStaging[slot].getByteBuffer(0, bytes).order(ByteOrder.LITTLE_ENDIAN));
        check(driver.cuMemcpyHtoDAsync(ptr(Buffers.SLOTS).withByteOffset(byteOffset), slotStaging[slot], bytes,
                copy), "cuMemcpyHtoDAsync(adapter " + a.id + " to slot " + slot + ")");
        check(driver.cuEventRecord(slotCopied[slot], copy), "cuEventRecord(slot " + slot + ")");
        slotPending[slot] = true;
    }

    @Override
    protected void awaitSlots(Set<Integer> slots) {
        for (int s : slots) {
            if (!slotPending[s]) {
                continue;
            }
            int r = driver.cuEventQuery(slotCopied[s]);
            if (r == CUresult.CUDA_SUCCESS) {
                slotPending[s] = false;
            } else if (r == CUresult.CUDA_ERROR_NOT_READY) {
                check(driver.cuStreamWaitEvent(compute, slotCopied[s], 0), "cuStreamWaitEvent(slot " + s + ")");
            } else {
                check(r, "cuEventQuery(slot " + s + ")");
            }
        }
    }

    @Override
    protected void launch(Launch l) {
        NativePointerObject[] args = new NativePointerObject[l.args().size()];
        for (int i = 0; i < args.length; i++) {
            DeviceArg a = l.args().get(i);
            if (a instanceof DeviceArg.Ptr p) {
                args[i] = Pointer.to(p.isNull() ? new CUdeviceptr() : ptr(p.buffer()).withByteOffset(p.offset()));
            } else if (a instanceof DeviceArg.I32 v) {
                args[i] = Pointer.to(new int[] {v.value()});
            } else if (a instanceof DeviceArg.F32 v) {
                args[i] = Pointer.to(new float[] {v.value()});
            }
        }
        check(driver.cuLaunchKernel(functions.get(l.kernel()), l.gridX(), l.gridY(), 1, l.blockX(), 1, 1, 0,
                compute, Pointer.to(args), null), "cuLaunchKernel(" + l.kernel().entry + ", grid " + l.gridX() + "×"
                + l.gridY() + ", block " + l.blockX() + ")");
    }

    private Pointer pinnedOut(long bytes) {
        if (bytes > pinnedOutBytes) {
            if (pinnedOut != null) {
                check(driver.cuMemFreeHost(pinnedOut), "cuMemFreeHost(out)");
                pinnedOut = null;
            }
            pinnedOut = hostAlloc(bytes, "out");
            pinnedOutBytes = bytes;
        }
        return pinnedOut;
    }

    private ByteBuffer download(String buffer, long bytes) {
        checkRange(buffer, 0, bytes);
        Pointer host = pinnedOut(bytes);
        check(driver.cuMemcpyDtoHAsync(host, ptr(buffer), bytes, compute), "cuMemcpyDtoHAsync(" + buffer + ")");
        // kernel faults of the whole step surface here
        check(driver.cuStreamSynchronize(compute), "the step's kernels (cuStreamSynchronize after " + buffer + ")");
        return host.getByteBuffer(0, bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    protected void copyOut(String buffer, float[] dst, int n) {
        download(buffer, 4L * n).asFloatBuffer().get(dst, 0, n);
    }

    @Override
    protected void copyOut(String buffer, int[] dst, int n) {
        download(buffer, 4L * n).asIntBuffer().get(dst, 0, n);
    }

    @Override
    protected void synchronize() {
        check(driver.cuStreamSynchronize(compute), "the step's kernels (cuStreamSynchronize(compute))");
    }

    /** The device allocation behind each buffer name (tests: to name the addresses a fake driver saw). */
    Map<String, CUdeviceptr> deviceBuffers() {
        return Map.copyOf(buffers);
    }

    @Override
    protected long bufferBytes(String buffer) {
        return sizes.getOrDefault(real(buffer), 0L);
    }

    /** Frees all device and pinned memory and destroys the context. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        checkThread();
        release();
    }

    /** Frees whatever was created so far, logging (not throwing) failures, so a failed start leaks nothing. */
    private void release() {
        closed = true;
        if (context == null) {
            return;
        }
        List<String> failures = new ArrayList<>();
        quietly(failures, "cuCtxSynchronize", driver.cuCtxSynchronize());
        buffers.forEach((name, p) -> quietly(failures, "cuMemFree(" + name + ")", driver.cuMemFree(p)));
        buffers.clear();
        for (int s = 0; s < slotStaging.length; s++) {
            if (slotStaging[s] != null) {
                quietly(failures, "cuMemFreeHost(slot " + s + ")", driver.cuMemFreeHost(slotStaging[s]));
            }
            if (slotCopied[s] != null) {
                quietly(failures, "cuEventDestroy(slot " + s + ")", driver.cuEventDestroy(slotCopied[s]));
            }
        }
        if (pinnedStep != null) {
            quietly(failures, "cuMemFreeHost(step)", driver.cuMemFreeHost(pinnedStep));
        }
        if (pinnedOut != null) {
            quietly(failures, "cuMemFreeHost(out)", driver.cuMemFreeHost(pinnedOut));
        }
        if (pinnedUpload != null) {
            quietly(failures, "cuMemFreeHost(upload)", driver.cuMemFreeHost(pinnedUpload));
        }
        if (uploaded != null) {
            quietly(failures, "cuEventDestroy(upload)", driver.cuEventDestroy(uploaded));
        }
        for (CUstream s : new CUstream[] {compute, copy}) {
            if (s != null) {
                quietly(failures, "cuStreamDestroy", driver.cuStreamDestroy(s));
            }
        }
        for (CUmodule m : modules) {
            quietly(failures, "cuModuleUnload", driver.cuModuleUnload(m));
        }
        modules.clear();
        quietly(failures, "cuCtxDestroy", driver.cuCtxDestroy(context));
        context = null;
        if (!failures.isEmpty()) {
            log.warn("cuda backend on {}: releasing device resources: {}", deviceName, failures);
        }
    }

    private static void quietly(List<String> failures, String call, int result) {
        if (result != CUresult.CUDA_SUCCESS) {
            failures.add(call + ": " + CUresult.stringFor(result));
        }
    }
}
