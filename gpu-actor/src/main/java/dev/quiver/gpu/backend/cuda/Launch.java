package dev.quiver.gpu.backend.cuda;

import java.util.List;

/**
 * One kernel launch: grid and block sizes and the arguments in parameter order. Built by {@link LaunchPlanner}
 * (pure, tested without a GPU), run by {@link CudaBackend} through {@code cuLaunchKernel} or by
 * {@code KernelTwins} in Java (test scope). The argument types must match the kernel's PTX parameter list.
 */
public record Launch(Kernel kernel, int gridX, int gridY, int blockX, List<DeviceArg> args) {
    public Launch {
        args = List.copyOf(args);
        if (gridX <= 0 || gridY <= 0 || blockX <= 0 || blockX > 1024 || blockX % 32 != 0) {
            throw new IllegalArgumentException(kernel + ": grid " + gridX + "×" + gridY + ", block " + blockX);
        }
        if (kernel.requiredBlock != Kernel.ANY_BLOCK && blockX != kernel.requiredBlock) {
            throw new IllegalArgumentException(kernel + " (" + kernel.entry + ") must be launched with blocks of "
                    + kernel.requiredBlock + " threads, its shared-memory layout assumes it; got " + blockX);
        }
        if (gridY > 65535) {
            throw new IllegalArgumentException(kernel + ": grid.y " + gridY + " exceeds 65535");
        }
        List<Kernel.ArgType> want = kernel.params();
        if (args.size() != want.size()) {
            throw new IllegalArgumentException(kernel + " takes " + want.size() + " arguments, got " + args.size());
        }
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).type() != want.get(i)) {
                throw new IllegalArgumentException(kernel + " argument " + i + " is " + want.get(i) + ", got "
                        + args.get(i));
            }
        }
    }

    public DeviceArg.Ptr ptr(int i) {
        return (DeviceArg.Ptr) args.get(i);
    }

    public int i32(int i) {
        return ((DeviceArg.I32) args.get(i)).value();
    }

    public float f32(int i) {
        return ((DeviceArg.F32) args.get(i)).value();
    }
}
