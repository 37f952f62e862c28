package dev.quiver.gpu.backend.cuda;

import java.lang.reflect.Field;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUjit_option;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JITOptions;

/**
 * A fake CUDA driver that executes nothing and records, in order, every call that puts work on a stream or
 * changes what the device or the thread holds: on which stream it went, under which context was current, into
 * which device address (allocated by a bump allocator, so every buffer has its own range), from pinned memory or
 * not. {@link CudaBackendStreamOrderTest} checks {@link CudaBackend}'s ordering rules against this record.
 *
 * <p>NOTE: JCuda fills handles natively; here the handles' private native-pointer fields and a pinned pointer's
 * buffer are set by reflection (test code only), so that {@code CUdeviceptr.withByteOffset} and {@code
 * Pointer.getByteBuffer} behave as they do over the real driver.
 */
final class RecordingDriver implements CudaDriver {
    /** One recorded call. {@code stream} and {@code context} are labels ("stream1", "ctx2"), or "" where none. */
    record Op(String call, String stream, String context, long address, long bytes, String detail) {
    }

    final List<Op> ops = new ArrayList<>();
    private final Map<NativePointerObject, String> labels = new IdentityHashMap<>();
    private final Map<CUevent, String> eventStream = new IdentityHashMap<>(); // where each event was last recorded
    private final Set<Pointer> pinned = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Map<CUfunction, String> functionNames = new IdentityHashMap<>();
    private int streams;
    private int contexts;
    private int events;
    private long nextAddress = 0x7f0000000000L;
    private CUcontext current;
    /** Events recorded on this stream report NOT_READY to cuEventQuery (a copy still in flight); null: none. */
    String busyStream;
    /** When set, cuModuleLoadDataJIT fails with this result and writes {@link #jitLog} into the error log. */
    int jitFailure = CUresult.CUDA_SUCCESS;
    String jitLog = "";

    private Op record(String call, CUstream stream, long address, long bytes, String detail) {
        Op op = new Op(call, stream == null ? "" : label(stream), current == null ? "" : label(current), address,
                bytes, detail);
        ops.add(op);
        return op;
    }

    String label(NativePointerObject handle) {
        String l = labels.get(handle);
        if (l == null) {
            throw new IllegalStateException("a handle this driver never created: " + handle);
        }
        return l;
    }

    /** The calls recorded from index {@code from} on. */
    List<Op> since(int from) {
        return List.copyOf(ops.subList(from, ops.size()));
    }

    /** The device address a pointer (with its byte offset) stands for. */
    static long address(Pointer p) {
        return (Long) read(NativePointerObject.class, p, "nativePointer") + (Long) read(Pointer.class, p, "byteOffset");
    }

    private static Object read(Class<?> owner, Object o, String field) {
        try {
            Field f = owner.getDeclaredField(field);
            f.setAccessible(true);
            return f.get(o);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("JCuda's " + owner.getSimpleName() + "." + field + " changed", e);
        }
    }

    private static void write(Class<?> owner, Object o, String field, Object value) {
        try {
            Field f = owner.getDeclaredField(field);
            f.setAccessible(true);
            f.set(o, value);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("JCuda's " + owner.getSimpleName() + "." + field + " changed", e);
        }
    }

    @Override
    public int cuInit(int flags) {
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuDeviceGet(CUdevice device, int ordinal) {
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuDeviceGetName(byte[] name, int len, CUdevice device) {
        byte[] n = "Recording GPU".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(n, 0, name, 0, n.length);
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuCtxCreate(CUcontext context, int flags, CUdevice device) {
        labels.put(context, "ctx" + ++contexts);
        current = context; // as the driver does: the new context is current on the calling thread
        record("cuCtxCreate", null, 0, 0, label(context));
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuCtxSetCurrent(CUcontext context) {
        current = context;
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuCtxSynchronize() {
        record("cuCtxSynchronize", null, 0, 0, "");
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuCtxDestroy(CUcontext context) {
        record("cuCtxDestroy", null, 0, 0, label(context));
        if (current == context) {
            current = null;
        }
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuModuleLoadDataJIT(CUmodule module, Pointer image, JITOptions options) {
        byte[] log = options.getBytes(CUjit_option.CU_JIT_ERROR_LOG_BUFFER);
        int size = options.getInt(CUjit_option.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
        if (log == null || size != log.length) {
            throw new IllegalArgumentException("error log buffer of " + (log == null ? "none" : log.length)
                    + " bytes declared as " + size);
        }
        record("cuModuleLoadDataEx", null, 0, 0, "");
        if (jitFailure != CUresult.CUDA_SUCCESS) {
            byte[] text = jitLog.getBytes(StandardCharsets.UTF_8);
            System.arraycopy(text, 0, log, 0, Math.min(text.length, log.length - 1));
            return jitFailure;
        }
        labels.put(module, "module");
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuModuleGetFunction(CUfunction function, CUmodule module, String name) {
        functionNames.put(function, name);
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuModuleUnload(CUmodule module) {
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuStreamCreate(CUstream stream, int flags) {
        labels.put(stream, "stream" + ++streams);
        record("cuStreamCreate", stream, 0, 0, "flags " + flags);
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuStreamSynchronize(CUstream stream) {
        record("cuStreamSynchronize", stream, 0, 0, "");
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuStreamWaitEvent(CUstream stream, CUevent event, int flags) {
        record("cuStreamWaitEvent", stream, 0, 0, "event recorded on " + eventStream.get(event));
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuStreamDestroy(CUstream stream) {
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuEventCreate(CUevent event, int flags) {
        labels.put(event, "event" + ++events);
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuEventRecord(CUevent event, CUstream stream) {
        eventStream.put(event, label(stream));
        record("cuEventRecord", stream, 0, 0, label(event));
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuEventQuery(CUevent event) {
        String on = eventStream.get(event);
        return on != null && on.equals(busyStream) ? CUresult.CUDA_ERROR_NOT_READY : CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuEventSynchronize(CUevent event) {
        record("cuEventSynchronize", null, 0, 0, "event recorded on " + eventStream.get(event));
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuEventDestroy(CUevent event) {
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuMemGetInfo(long[] free, long[] total) {
        free[0] = 64L << 30;
        total[0] = 80L << 30;
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuMemAlloc(CUdeviceptr ptr, long bytes) {
        write(NativePointerObject.class, ptr, "nativePointer", nextAddress);
        record("cuMemAlloc", null, nextAddress, bytes, "");
        nextAddress += (bytes + 255) / 256 * 256 + 256;
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuMemFree(CUdeviceptr ptr) {
        record("cuMemFree", null, address(ptr), 0, "");
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuMemHostAlloc(Pointer host, long bytes, int flags) {
        ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(bytes));
        write(Pointer.class, host, "buffer", (Buffer) b);
        pinned.add(host);
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuMemFreeHost(Pointer host) {
        pinned.remove(host);
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuMemsetD8Async(CUdeviceptr ptr, byte value, long bytes, CUstream stream) {
        record("cuMemsetD8Async", stream, address(ptr), bytes, "value " + value);
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuMemcpyHtoDAsync(CUdeviceptr dst, Pointer src, long bytes, CUstream stream) {
        record("cuMemcpyHtoDAsync", stream, address(dst), bytes, pinned.contains(src) ? "pinned" : "pageable");
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuMemcpyDtoHAsync(Pointer dst, CUdeviceptr src, long bytes, CUstream stream) {
        record("cuMemcpyDtoHAsync", stream, address(src), bytes, pinned.contains(dst) ? "pinned" : "pageable");
        return CUresult.CUDA_SUCCESS;
    }

    @Override
    public int cuLaunchKernel(CUfunction f, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                              int sharedBytes, CUstream stream, Pointer params, Pointer extra) {
        record("cuLaunchKernel", stream, 0, 0, functionNames.get(f));
        return CUresult.CUDA_SUCCESS;
    }
}
