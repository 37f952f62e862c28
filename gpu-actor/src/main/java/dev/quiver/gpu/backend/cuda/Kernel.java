package dev.quiver.gpu.backend.cuda;

import java.util.List;

/**
 * The kernel entry points in {@code src/main/cuda/*.cu}, the PTX module (file) each lives in, and its parameter
 * list as the PTX declares it. {@link Launch} checks every argument list against it on the host, and a test
 * checks it against the PTX itself, so the host and the kernels agree on argument layout without a GPU.
 */
public enum Kernel {
    EMBEDDING_GATHER("elementwise", "embedding_gather", "PPIPII", 3),
    RMSNORM("elementwise", "rmsnorm", "PPPPIIF", 3),
    ROPE_KV_WRITE("elementwise", "rope_kv_write", "PPPPPPPPIIII", 0),
    SILU_MUL("elementwise", "silu_mul", "PPI", 0),
    ARGMAX_ROWS("elementwise", "argmax_rows", "PPII", 1),
    PAGED_ATTENTION("attention", "paged_attention", "PPPPPPPPIIIIIF", 7),
    MATMUL_MMA_BF16("matmul", "matmul_mma_bf16", "PPPPIIII", 3),
    MATMUL_MMA_F16("matmul", "matmul_mma_f16", "PPPPIIII", 3),
    MATVEC_BF16("matmul", "matvec_bf16", "PPPPIIII", 3),
    MATVEC_F16("matmul", "matvec_f16", "PPPPIIII", 3),
    LORA_SHRINK("lora", "lora_shrink", "PPPPPPPPIII", 7),
    LORA_EXPAND("lora", "lora_expand", "PPPPPPPPPIII", 8);

    /** Where the PTX modules lie on the class path (the build writes them there when nvcc is present). */
    public static final String PTX_RESOURCE_DIR = "/dev/quiver/gpu/backend/cuda/ptx/";

    /** The PTX modules, one per .cu file. */
    public static final List<String> MODULES = List.of("elementwise", "attention", "matmul", "lora");

    /** A kernel parameter as PTX declares it: pointers are .u64, ints .u32, floats .f32. */
    public enum ArgType {
        PTR("u64"), I32("u32"), F32("f32");

        public final String ptx;

        ArgType(String ptx) {
            this.ptx = ptx;
        }
    }

    public final String module;
    public final String entry;
    /** The argument pointing at the buffer the kernel writes (rope_kv_write: q; it also writes k and the cache). */
    public final int output;
    private final List<ArgType> params;

    Kernel(String module, String entry, String signature, int output) {
        this.module = module;
        this.entry = entry;
        this.output = output;
        this.params = signature.chars().mapToObj(ch -> switch (ch) {
            case 'P' -> ArgType.PTR;
            case 'I' -> ArgType.I32;
            case 'F' -> ArgType.F32;
            default -> throw new IllegalArgumentException("signature letter " + (char) ch);
        }).toList();
    }

    public List<ArgType> params() {
        return params;
    }

    /** The class path resource of this kernel's PTX module. */
    public String resource() {
        return PTX_RESOURCE_DIR + module + ".ptx";
    }
}
