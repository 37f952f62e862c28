package dev.quiver.gpu.backend.cuda;

/**
 * One kernel argument in a {@link Launch}: a device pointer named by buffer and byte offset (resolved to an
 * address only when launching), or a 32-bit int or float passed by value.
 */
public sealed interface DeviceArg {
    Kernel.ArgType type();

    /** {@code buffer + offset} bytes; buffer null is the null pointer. */
    record Ptr(String buffer, long offset) implements DeviceArg {
        public static final Ptr NULL = new Ptr(null, 0);

        public Ptr {
            if (offset < 0 || (buffer == null && offset != 0)) {
                throw new IllegalArgumentException("pointer " + buffer + " + " + offset);
            }
        }

        public static Ptr of(String buffer) {
            return new Ptr(buffer, 0);
        }

        public boolean isNull() {
            return buffer == null;
        }

        @Override
        public Kernel.ArgType type() {
            return Kernel.ArgType.PTR;
        }
    }

    record I32(int value) implements DeviceArg {
        @Override
        public Kernel.ArgType type() {
            return Kernel.ArgType.I32;
        }
    }

    record F32(float value) implements DeviceArg {
        @Override
        public Kernel.ArgType type() {
            return Kernel.ArgType.F32;
        }
    }
}
