package dev.quiver.gpu.model;

import java.util.Locale;

/**
 * Element types of safetensors files. Only the floating types can hold model or adapter weights; the
 * integer types are known so that a file holding them still validates (its byte lengths are checked).
 */
public enum DType {
    F64(8, true), F32(4, true), F16(2, true), BF16(2, true),
    I64(8, false), I32(4, false), I16(2, false), I8(1, false), U8(1, false), BOOL(1, false);

    private final int size;
    private final boolean floating;

    DType(int size, boolean floating) {
        this.size = size;
        this.floating = floating;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** Whether the engine can read it as weights (F32, F16, BF16; F64 only for reference tests). */
    public boolean isWeightType() {
        return floating && this != F64;
    }

    /** Parses a safetensors dtype string; returns null when unknown. */
    public static DType parse(String s) {
        try {
            return DType.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
