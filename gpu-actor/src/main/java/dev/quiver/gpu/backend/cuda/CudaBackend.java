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
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CUDA backend, through the JCuda driver API only (no runtime API, NVRTC or cuBLAS: those bindings need CUDA
 * 12 libraries, while the driver binding needs only the driver's {@code libcuda.so.1}). Our kernels come as PTX
 * in the jar ({@code src/main/cuda}, compiled by nvcc at build time) and are loaded with {@code
 * cuModuleLoadData}, so the driver JIT-compiles them for the device at hand.
 *
 * <p>The context is created by the constructor on the calling thread, the engine thread, and used only there
 * ({@link #checkThread}). It owns: the base weights (BF16/F16), the float32 KV cache, adapter slots, per-step
 * activations, a compute stream and a copy stream. Adapters are packed into a pinned host buffer per slot
 * ({@code cuMemHostAlloc}) and copied with {@code cuMemcpyHtoDAsync} on the copy stream; the slot's event is
 * recorded after the copy, and a step whose rows use a slot whose event has not completed makes the compute
 * stream wait for it just before its first LoRA launch, so the base part of that step overlaps the copy.
 *
 * <p>Every driver call is checked ({@link CudaException}); a kernel fault surfaces at the step's final
 * synchronisation and fails the step. {@link #close} frees all device and pinned memory and destroys the
 * context. Host logic (launch plans, layouts, slot tables) lives in {@link DeviceBackend} and is tested without
 * a GPU through {@link TwinBackend}.
 */
public final class CudaBackend extends DeviceBackend {
    private static final Logger log = LoggerFactory.getLogger(CudaBackend.class);
    /** Device memory left to the driver, JIT and kernel stacks beyond what {@link DeviceBudget} counts. */
    static final long RESERVE_BYTES = 512L << 20;

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
    private String deviceName = "?";
    private boolean closed;

    /**
     * Creates the context on this thread, loads the PTX, checks the memory budget, uploads the weights.
     *
     * @throws UnsupportedOperationException when CUDA cannot run here, naming why ({@link CudaAvailability})
     */
    public CudaBackend(ModelWeights weights, Settings settings) {
        super(weights.config, weights.dtype, settings);
        String why = CudaAvailability.unavailableReason();
        if (why != null) {
            throw new UnsupportedOperationException("the cuda backend is not available: " + why);
        }
        int slots = settings.numSlots();
        slotStaging = new Pointer[slots];
        slotStagingBytes = new long[slots];
        slotCopied = new CUevent[slots];
        slotPending = new boolean[slots];
        try {
            JCudaDriver.setExceptionsEnabled(false);
            check(JCudaDriver.cuInit(0), "cuInit");
            CUdevice device = new CUdevice();
            check(JCudaDriver.cuDeviceGet(device, 0), "cuDeviceGet(0)");
            byte[] name = new byte[256];
            check(JCudaDriver.cuDeviceGetName(name, name.length, device), "cuDeviceGetName");
            deviceName = new String(name, java.nio.charset.StandardCharsets.US_ASCII).trim().replace("\0", "");
            CUcontext ctx = new CUcontext();
            check(JCudaDriver.cuCtxCreate(ctx, 0, device), "cuCtxCreate on " + deviceName);
            context = ctx;
            for (String m : Kernel.MODULES) {
                CUmodule module = new CUmodule();
                check(JCudaDriver.cuModuleLoadData(module, CudaAvailability.ptx(m)), "cuModuleLoadData(" + m
                        + ".ptx): the driver could not JIT the PTX (a driver older than the nvcc that built it?)");
                modules.add(module);
            }
            for (Kernel k : Kernel.values()) {
                CUfunction f = new CUfunction();
                check(JCudaDriver.cuModuleGetFunction(f, modules.get(Kernel.MODULES.indexOf(k.module)), k.entry),
                        "cuModuleGetFunction(" + k.entry + ")");
                functions.put(k, f);
            }
            compute = new CUstream();
            // NOTE: non-blocking streams do not serialise with the synchronous copies of slot tables on the
            // legacy default stream, so an adapter copy on `copy` keeps running under them
            check(JCudaDriver.cuStreamCreate(compute, CUstream_flags.CU_STREAM_NON_BLOCKING),
                    "cuStreamCreate(compute)");
            copy = new CUstream();
            check(JCudaDriver.cuStreamCreate(copy, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate(copy)");
            for (int s = 0; s < slots; s++) {
                slotCopied[s] = new CUevent();
                check(JCudaDriver.cuEventCreate(slotCopied[s], CUevent_flags.CU_EVENT_DISABLE_TIMING),
                        "cuEventCreate(slot " + s + ")");
            }
            long[] free = new long[1];
            long[] total = new long[1];
            check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
            DeviceBudget budget = budget();
            budget.check(free[0], RESERVE_BYTES);
            allocateAndUpload(weights);
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
            check(JCudaDriver.cuMemFree(old), "cuMemFree(" + buffer + ")");
        }
        CUdeviceptr p = new CUdeviceptr();
        check(JCudaDriver.cuMemAlloc(p, bytes), "cuMemAlloc(" + buffer + ", " + DeviceBudget.mib(bytes) + ")");
        buffers.put(buffer, p);
        sizes.put(buffer, bytes);
        check(JCudaDriver.cuMemsetD8(p, (byte) 0, bytes), "cuMemsetD8(" + buffer + ")");
    }

    @Override
    protected void copyIn(String buffer, long offset, ByteBuffer src) {
        long n = src.remaining();
        if (n == 0) {
            return;
        }
        checkRange(buffer, offset, n);
        check(JCudaDriver.cuMemcpyHtoD(ptr(buffer).withByteOffset(offset), Pointer.to(src.slice()), n),
                "cuMemcpyHtoD(" + buffer + " + " + offset + ", " + n + " bytes)");
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
        // the previous step has completed (copyOut synchronises), but make sure before reusing pinned memory
        check(JCudaDriver.cuStreamSynchronize(compute), "cuStreamSynchronize(compute) before a step");
        long bytes = Math.max(4, 4L * data.length);
        if (bytes > pinnedStepBytes) {
            long grown = Math.max(bytes, 2 * pinnedStepBytes);
            if (pinnedStep != null) {
                check(JCudaDriver.cuMemFreeHost(pinnedStep), "cuMemFreeHost(step)");
                pinnedStep = null;
            }
            Pointer p = new Pointer();
            check(JCudaDriver.cuMemHostAlloc(p, grown, 0), "cuMemHostAlloc(step, " + grown + " bytes)");
            pinnedStep = p;
            pinnedStepBytes = grown;
            allocate(Buffers.STEP, grown);
        }
        pinnedStep.getByteBuffer(0, bytes).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().put(data);
        check(JCudaDriver.cuMemcpyHtoDAsync(ptr(Buffers.STEP), pinnedStep, bytes, compute),
                "cuMemcpyHtoDAsync(step, " + bytes + " bytes)");
    }

    @Override
    protected void copySlot(int slot, long byteOffset, SlotLayout layout, LoraAdapter a) {
        long bytes = layout.bytes();
        if (slotPending[slot]) {
            // the staging buffer is about to be overwritten: its previous copy must be done
            check(JCudaDriver.cuEventSynchronize(slotCopied[slot]), "cuEventSynchronize(slot " + slot + ")");
            slotPending[slot] = false;
        }
        if (bytes == 0) {
            return;
        }
        if (bytes > slotStagingBytes[slot]) {
            if (slotStaging[slot] != null) {
                check(JCudaDriver.cuMemFreeHost(slotStaging[slot]), "cuMemFreeHost(slot " + slot + ")");
                slotStaging[slot] = null;
            }
            Pointer p = new Pointer();
            check(JCudaDriver.cuMemHostAlloc(p, bytes, 0), "cuMemHostAlloc(slot " + slot + ", "
                    + DeviceBudget.mib(bytes) + ")");
            slotStaging[slot] = p;
            slotStagingBytes[slot] = bytes;
        }
        checkRange(Buffers.SLOTS, byteOffset, bytes);
        layout.pack(a, slotStaging[slot].getByteBuffer(0, bytes).order(ByteOrder.LITTLE_ENDIAN));
        check(JCudaDriver.cuMemcpyHtoDAsync(ptr(Buffers.SLOTS).withByteOffset(byteOffset), slotStaging[slot], bytes,
                copy), "cuMemcpyHtoDAsync(adapter " + a.id + " to slot " + slot + ")");
        check(JCudaDriver.cuEventRecord(slotCopied[slot], copy), "cuEventRecord(slot " + slot + ")");
        slotPending[slot] = true;
    }

    @Override
    protected void awaitSlots(Set<Integer> slots) {
        for (int s : slots) {
            if (!slotPending[s]) {
                continue;
            }
            int r = JCudaDriver.cuEventQuery(slotCopied[s]);
            if (r == CUresult.CUDA_SUCCESS) {
                slotPending[s] = false;
            } else if (r == CUresult.CUDA_ERROR_NOT_READY) {
                check(JCudaDriver.cuStreamWaitEvent(compute, slotCopied[s], 0), "cuStreamWaitEvent(slot " + s + ")");
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
        check(JCudaDriver.cuLaunchKernel(functions.get(l.kernel()), l.gridX(), l.gridY(), 1, l.blockX(), 1, 1, 0,
                compute, Pointer.to(args), null), "cuLaunchKernel(" + l.kernel().entry + ", grid " + l.gridX() + "×"
                + l.gridY() + ", block " + l.blockX() + ")");
    }

    private Pointer pinnedOut(long bytes) {
        if (bytes > pinnedOutBytes) {
            if (pinnedOut != null) {
                check(JCudaDriver.cuMemFreeHost(pinnedOut), "cuMemFreeHost(out)");
                pinnedOut = null;
            }
            Pointer p = new Pointer();
            check(JCudaDriver.cuMemHostAlloc(p, bytes, 0), "cuMemHostAlloc(out, " + bytes + " bytes)");
            pinnedOut = p;
            pinnedOutBytes = bytes;
        }
        return pinnedOut;
    }

    private ByteBuffer download(String buffer, long bytes) {
        checkRange(buffer, 0, bytes);
        Pointer host = pinnedOut(bytes);
        check(JCudaDriver.cuMemcpyDtoHAsync(host, ptr(buffer), bytes, compute), "cuMemcpyDtoHAsync(" + buffer + ")");
        // kernel faults of the whole step surface here
        check(JCudaDriver.cuStreamSynchronize(compute), "the step's kernels (cuStreamSynchronize after " + buffer
                + ")");
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
        quietly(failures, "cuCtxSynchronize", JCudaDriver.cuCtxSynchronize());
        buffers.forEach((name, p) -> quietly(failures, "cuMemFree(" + name + ")", JCudaDriver.cuMemFree(p)));
        buffers.clear();
        for (int s = 0; s < slotStaging.length; s++) {
            if (slotStaging[s] != null) {
                quietly(failures, "cuMemFreeHost(slot " + s + ")", JCudaDriver.cuMemFreeHost(slotStaging[s]));
            }
            if (slotCopied[s] != null) {
                quietly(failures, "cuEventDestroy(slot " + s + ")", JCudaDriver.cuEventDestroy(slotCopied[s]));
            }
        }
        if (pinnedStep != null) {
            quietly(failures, "cuMemFreeHost(step)", JCudaDriver.cuMemFreeHost(pinnedStep));
        }
        if (pinnedOut != null) {
            quietly(failures, "cuMemFreeHost(out)", JCudaDriver.cuMemFreeHost(pinnedOut));
        }
        for (CUstream s : new CUstream[] {compute, copy}) {
            if (s != null) {
                quietly(failures, "cuStreamDestroy", JCudaDriver.cuStreamDestroy(s));
            }
        }
        for (CUmodule m : modules) {
            quietly(failures, "cuModuleUnload", JCudaDriver.cuModuleUnload(m));
        }
        modules.clear();
        quietly(failures, "cuCtxDestroy", JCudaDriver.cuCtxDestroy(context));
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
