package dev.quiver.gpu.backend.cuda;

import java.util.List;

/**
 * The kernel entry points in {@code src/main/cuda/*.cu}, the PTX module (file) each lives in, and its parameter
 * list as the PTX declares it. {@link Launch} checks every argument list against it on the host, and a test
 * checks it against the PTX itself, so the host and the kernels agree on argument layout without a GPU.
 */
public enum Kernel {
    EMBEDDING_GATHER("elementwise", "embedding_gather", "PPIPII", 3, Kernel.ANY_BLOCK),
    RMSNORM("elementwise", "rmsnorm", "PPPPIIF", 3, Kernel.ANY_BLOCK),
    ROPE_KV_WRITE("elementwise", "rope_kv_write", "PPPPPPPPIIII", 0, Kernel.ANY_BLOCK),
    SILU_MUL("elementwise", "silu_mul", "PPI", 0, Kernel.ANY_BLOCK),
    /** Shared arrays bestV[256], bestI[256] and a tree reduction over them. */
    ARGMAX_ROWS("elementwise", "argmax_rows", "PPII", 1, 256),
    /** QV_ATT_WARPS = 4: per-warp shared softmax state, keys strided by 4. */
    PAGED_ATTENTION("attention", "paged_attention", "PPPPPPPPIIIIIF", 7, 128),
    /** Four warps, each one 16×16 piece of the block's 32×32 tile. */
    MATMUL_MMA_BF16("matmul", "matmul_mma_bf16", "PPPPIIII", 3, 128),
    MATMUL_MMA_F16("matmul", "matmul_mma_f16", "PPPPIIII", 3, 128),
    MATVEC_BF16("matmul", "matvec_bf16", "PPPPIIII", 3, Kernel.ANY_BLOCK),
    MATVEC_F16("matmul", "matvec_f16", "PPPPIIII", 3, Kernel.ANY_BLOCK),
    /** QV_LORA_SHRINK_WARPS = 8: warp w of grid row y computes rank index 8y + w. */
    LORA_SHRINK("lora", "lora_shrink", "PPPPPPPPIII", 7, 256),
    LORA_EXPAND("lora", "lora_expand", "PPPPPPPPPIII", 8, Kernel.ANY_BLOCK);

    /**
     * {@link #requiredBlock} of a kernel that takes any block of whole warps (≤ 1024 threads; the grid is sized
     * from the block by the planner).
     */
    public static final int ANY_BLOCK = 0;

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
    /**
     * The one block size (threads) this kernel's shared-memory layout or warp mapping assumes, or {@link
     * #ANY_BLOCK}. {@link Launch} refuses any other on the host, and the kernel traps on it on the device
     * (QV_REQUIRE_BLOCK in common.cuh).
     */
    public final int requiredBlock;
    private final List<ArgType> params;

    Kernel(String module, String entry, String signature, int output, int requiredBlock) {
        this.module = module;
        this.entry = entry;
        this.output = output;
        this.requiredBlock = requiredBlock;
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
