package dev.quiver.gpu.model;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How the engine holds the base model's projection matrices ({@code quiver.engine.weight-format}).
 *
 * <p>{@link #NATIVE}: as the safetensors file stores them (F32, BF16 or F16), read in place from the mapped file.
 * {@link #Q8_0}: quantised at load to llama.cpp's Q8_0 (blocks of 32 consecutive weights of a row, one scale
 * d = max|x| / 127 rounded to fp16 per block, int8 q = round(x / d)); CPU backend only.
 */
public enum WeightFormat {
    NATIVE("native"), Q8_0("q8_0");

    private final String configName;

    WeightFormat(String configName) {
        this.configName = configName;
    }

    /** The spelling of the option value ("native", "q8_0"). */
    public String configName() {
        return configName;
    }

    /** The format a value names, case-insensitively; an unknown value is refused naming {@code key} and the allowed values. */
    public static WeightFormat parse(String value, String key) {
        for (WeightFormat f : values()) {
            if (f.configName.equals(value.trim().toLowerCase(Locale.ROOT))) {
                return f;
            }
        }
        throw new IllegalArgumentException(key + " = '" + value + "' is not a weight format; allowed values: "
                + allowed());
    }

    /** The allowed values, comma-separated. */
    public static String allowed() {
        return Arrays.stream(values()).map(WeightFormat::configName).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return configName;
    }
}
