package dev.quiver.gpu.backend.cuda;

import dev.quiver.gpu.model.DType;

/**
 * How base weights are held on the device: BF16 or F16 (2 bytes), accumulated in FP32 by the kernels.
 * {@link #code} is the value the kernels' {@code dtype} argument takes (QV_BF16 / QV_F16 in common.cuh).
 */
public enum WeightType {
    BF16(0), F16(1);

    public final int code;

    WeightType(int code) {
        this.code = code;
    }

    public int size() {
        return 2;
    }

    /**
     * The device type for a model stored as {@code d}: BF16 and F16 are kept as they are; F32 models are rounded
     * to BF16 (round to nearest even) when uploaded.
     */
    public static WeightType forModel(DType d) {
        return switch (d) {
            case BF16, F32 -> BF16;
            case F16 -> F16;
            default -> throw new IllegalArgumentException("not a weight dtype: " + d);
        };
    }

    Kernel matmul(boolean tensorCores) {
        return switch (this) {
            case BF16 -> tensorCores ? Kernel.MATMUL_MMA_BF16 : Kernel.MATVEC_BF16;
            case F16 -> tensorCores ? Kernel.MATMUL_MMA_F16 : Kernel.MATVEC_F16;
        };
    }
}
