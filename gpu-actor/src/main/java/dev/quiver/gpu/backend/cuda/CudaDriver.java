package dev.quiver.gpu.backend.cuda;

import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import jcuda.driver.JITOptions;

/**
 * The CUDA driver calls {@link CudaBackend} makes, one method per call with JCuda's signature: a CUresult is
 * returned and handles are filled in. {@link #JCUDA} is the driver itself; a test passes a recording fake instead,
 * so the order of the backend's device work and the stream each piece runs on are checked without a GPU
 * ({@code CudaBackendStreamOrderTest}).
 *
 * <p>NOTE: deliberately no synchronous {@code cuMemsetD8} or {@code cuMemcpyHtoD}: those run on the legacy
 * default stream, which does not order with the non-blocking compute stream, so the backend cannot call them.
 */
interface CudaDriver {
    int cuInit(int flags);

    int cuDeviceGet(CUdevice device, int ordinal);

    int cuDeviceGetName(byte[] name, int len, CUdevice device);

    int cuCtxCreate(CUcontext context, int flags, CUdevice device);

    int cuCtxSetCurrent(CUcontext context);

    int cuCtxSynchronize();

    int cuCtxDestroy(CUcontext context);

    /** cuModuleLoadDataEx with JIT options (JCuda's form of it, which copies log buffers back into options). */
    int cuModuleLoadDataJIT(CUmodule module, Pointer image, JITOptions options);

    int cuModuleGetFunction(CUfunction function, CUmodule module, String name);

    int cuModuleUnload(CUmodule module);

    int cuStreamCreate(CUstream stream, int flags);

    int cuStreamSynchronize(CUstream stream);

    int cuStreamWaitEvent(CUstream stream, CUevent event, int flags);

    int cuStreamDestroy(CUstream stream);

    int cuEventCreate(CUevent event, int flags);

    int cuEventRecord(CUevent event, CUstream stream);

    int cuEventQuery(CUevent event);

    int cuEventSynchronize(CUevent event);

    int cuEventDestroy(CUevent event);

    int cuMemGetInfo(long[] free, long[] total);

    int cuMemAlloc(CUdeviceptr ptr, long bytes);

    int cuMemFree(CUdeviceptr ptr);

    /** Page-locked host memory; JCuda makes {@code host.getByteBuffer} read and write it. */
    int cuMemHostAlloc(Pointer host, long bytes, int flags);

    int cuMemFreeHost(Pointer host);

    int cuMemsetD8Async(CUdeviceptr ptr, byte value, long bytes, CUstream stream);

    int cuMemcpyHtoDAsync(CUdeviceptr dst, Pointer src, long bytes, CUstream stream);

    int cuMemcpyDtoHAsync(Pointer dst, CUdeviceptr src, long bytes, CUstream stream);

    int cuLaunchKernel(CUfunction f, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                       int sharedBytes, CUstream stream, Pointer params, Pointer extra);

    /** The driver, through JCuda. */
    CudaDriver JCUDA = new CudaDriver() {
        @Override
        public int cuInit(int flags) {
            JCudaDriver.setExceptionsEnabled(false);
            return JCudaDriver.cuInit(flags);
        }

        @Override
        public int cuDeviceGet(CUdevice device, int ordinal) {
            return JCudaDriver.cuDeviceGet(device, ordinal);
        }

        @Override
        public int cuDeviceGetName(byte[] name, int len, CUdevice device) {
            return JCudaDriver.cuDeviceGetName(name, len, device);
        }

        @Override
        public int cuCtxCreate(CUcontext context, int flags, CUdevice device) {
            return JCudaDriver.cuCtxCreate(context, flags, device);
        }

        @Override
        public int cuCtxSetCurrent(CUcontext context) {
            return JCudaDriver.cuCtxSetCurrent(context);
        }

        @Override
        public int cuCtxSynchronize() {
            return JCudaDriver.cuCtxSynchronize();
        }

        @Override
        public int cuCtxDestroy(CUcontext context) {
            return JCudaDriver.cuCtxDestroy(context);
        }

        @Override
        public int cuModuleLoadDataJIT(CUmodule module, Pointer image, JITOptions options) {
            return JCudaDriver.cuModuleLoadDataJIT(module, image, options);
        }

        @Override
        public int cuModuleGetFunction(CUfunction function, CUmodule module, String name) {
            return JCudaDriver.cuModuleGetFunction(function, module, name);
        }

        @Override
        public int cuModuleUnload(CUmodule module) {
            return JCudaDriver.cuModuleUnload(module);
        }

        @Override
        public int cuStreamCreate(CUstream stream, int flags) {
            return JCudaDriver.cuStreamCreate(stream, flags);
        }

        @Override
        public int cuStreamSynchronize(CUstream stream) {
            return JCudaDriver.cuStreamSynchronize(stream);
        }

        @Override
        public int cuStreamWaitEvent(CUstream stream, CUevent event, int flags) {
            return JCudaDriver.cuStreamWaitEvent(stream, event, flags);
        }

        @Override
        public int cuStreamDestroy(CUstream stream) {
            return JCudaDriver.cuStreamDestroy(stream);
        }

        @Override
        public int cuEventCreate(CUevent event, int flags) {
            return JCudaDriver.cuEventCreate(event, flags);
        }

        @Override
        public int cuEventRecord(CUevent event, CUstream stream) {
            return JCudaDriver.cuEventRecord(event, stream);
        }

        @Override
        public int cuEventQuery(CUevent event) {
            return JCudaDriver.cuEventQuery(event);
        }

        @Override
        public int cuEventSynchronize(CUevent event) {
            return JCudaDriver.cuEventSynchronize(event);
        }

        @Override
        public int cuEventDestroy(CUevent event) {
            return JCudaDriver.cuEventDestroy(event);
        }

        @Override
        public int cuMemGetInfo(long[] free, long[] total) {
            return JCudaDriver.cuMemGetInfo(free, total);
        }

        @Override
        public int cuMemAlloc(CUdeviceptr ptr, long bytes) {
            return JCudaDriver.cuMemAlloc(ptr, bytes);
        }

        @Override
        public int cuMemFree(CUdeviceptr ptr) {
            return JCudaDriver.cuMemFree(ptr);
        }

        @Override
        public int cuMemHostAlloc(Pointer host, long bytes, int flags) {
            return JCudaDriver.cuMemHostAlloc(host, bytes, flags);
        }

        @Override
        public int cuMemFreeHost(Pointer host) {
            return JCudaDriver.cuMemFreeHost(host);
        }

        @Override
        public int cuMemsetD8Async(CUdeviceptr ptr, byte value, long bytes, CUstream stream) {
            return JCudaDriver.cuMemsetD8Async(ptr, value, bytes, stream);
        }

        @Override
        public int cuMemcpyHtoDAsync(CUdeviceptr dst, Pointer src, long bytes, CUstream stream) {
            return JCudaDriver.cuMemcpyHtoDAsync(dst, src, bytes, stream);
        }

        @Override
        public int cuMemcpyDtoHAsync(Pointer dst, CUdeviceptr src, long bytes, CUstream stream) {
            return JCudaDriver.cuMemcpyDtoHAsync(dst, src, bytes, stream);
        }

        @Override
        public int cuLaunchKernel(CUfunction f, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                                  int sharedBytes, CUstream stream, Pointer params, Pointer extra) {
            return JCudaDriver.cuLaunchKernel(f, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes, stream,
                    params, extra);
        }
    };
}
