package dev.quiver.gpu.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The PTX that nvcc put into the jar (class path): every kernel the host launches is an entry point of its
 * module with exactly the parameter types {@link Kernel} declares, and the modules target sm_80 (compute_80).
 * Skipped, saying so, when the build had no nvcc.
 */
class PtxResourceTest {
    static final Pattern ENTRY = Pattern.compile("\\.visible\\s+\\.entry\\s+(\\w+)\\s*\\(([^)]*)\\)");
    static final Pattern PARAM = Pattern.compile("\\.param\\s+\\.(\\w+)\\s+\\w+");

    @BeforeEach
    void requirePtx() {
        String problem = CudaAvailability.ptxProblem();
        assumeTrue(problem == null, "no PTX to check: " + problem);
    }

    /** Entry name → parameter types of one module. */
    static Map<String, List<String>> entries(String module) {
        String ptx = new String(CudaAvailability.ptx(module), StandardCharsets.US_ASCII);
        Map<String, List<String>> out = new LinkedHashMap<>();
        Matcher m = ENTRY.matcher(ptx);
        while (m.find()) {
            List<String> types = new ArrayList<>();
            Matcher p = PARAM.matcher(m.group(2));
            while (p.find()) {
                types.add(p.group(1));
            }
            out.put(m.group(1), types);
        }
        return out;
    }

    @Test
    void every_kernel_is_an_entry_point_of_its_module_with_the_declared_parameter_types() {
        for (Kernel k : Kernel.values()) {
            Map<String, List<String>> e = entries(k.module);
            assertTrue(e.containsKey(k.entry), k.entry + " missing from " + k.module + ".ptx: " + e.keySet());
            assertEquals(k.params().stream().map(t -> t.ptx).toList(), e.get(k.entry), k.entry + " parameters");
        }
    }

    @Test
    void every_entry_point_in_the_ptx_is_a_kernel_the_host_knows() {
        EnumSet<Kernel> all = EnumSet.allOf(Kernel.class);
        for (String module : Kernel.MODULES) {
            for (String entry : entries(module).keySet()) {
                assertTrue(all.stream().anyMatch(k -> k.entry.equals(entry) && k.module.equals(module)),
                        module + ".ptx has an entry " + entry + " that Kernel does not list");
            }
        }
    }

    @Test
    void the_modules_target_compute_80_so_ampere_ada_and_hopper_load_them() {
        for (String module : Kernel.MODULES) {
            String ptx = new String(CudaAvailability.ptx(module), StandardCharsets.US_ASCII);
            assertTrue(ptx.contains(".target sm_80"), module + ".ptx does not target sm_80");
            assertEquals(0, CudaAvailability.ptx(module)[CudaAvailability.ptx(module).length - 1],
                    "NUL-terminated for cuModuleLoadData");
        }
    }

    @Test
    void the_modules_declare_ptx_isa_8_0_so_cuda_12_drivers_load_them() {
        for (String module : Kernel.MODULES) {
            String ptx = new String(CudaAvailability.ptx(module), StandardCharsets.US_ASCII);
            assertEquals("8.0", CudaAvailability.ptxIsa(ptx), module + ".ptx: build-ptx.sh lowers nvcc's .version");
        }
        assertEquals("8.0", CudaAvailability.jarPtxIsa());
        assertEquals(12000, CudaAvailability.minDriverVersion(CudaAvailability.jarPtxIsa()), "R525 or newer");
    }

    /** The PTX text of each entry point, from its .entry line to the next entry (or the end). */
    static Map<String, String> bodies(String module) {
        String ptx = new String(CudaAvailability.ptx(module), StandardCharsets.US_ASCII);
        Map<String, String> out = new LinkedHashMap<>();
        Matcher m = ENTRY.matcher(ptx);
        List<Integer> starts = new ArrayList<>();
        List<String> names = new ArrayList<>();
        while (m.find()) {
            starts.add(m.start());
            names.add(m.group(1));
        }
        for (int i = 0; i < starts.size(); i++) {
            out.put(names.get(i), ptx.substring(starts.get(i), i + 1 < starts.size() ? starts.get(i + 1)
                    : ptx.length()));
        }
        return out;
    }

    @Test
    void a_kernel_that_assumes_a_block_size_traps_on_any_other_and_only_such_kernels_trap() {
        for (Kernel k : Kernel.values()) {
            String body = bodies(k.module).get(k.entry);
            if (k.requiredBlock == Kernel.ANY_BLOCK) {
                assertFalse(body.contains("trap;"), k.entry + " traps though it takes any block");
                continue;
            }
            Matcher guard = Pattern.compile("mov\\.u32\\s+(%r\\d+), %ntid\\.x;\\s+setp\\.(?:eq|ne)\\.s32\\s+%p\\d+, "
                    + "\\1, " + k.requiredBlock + ";").matcher(body);
            assertTrue(guard.find(), k.entry + " does not compare blockDim.x with " + k.requiredBlock);
            assertTrue(body.contains("trap;"), k.entry + " has no trap");
        }
    }

    @Test
    void the_tensor_core_kernels_use_mma_instructions() {
        String ptx = new String(CudaAvailability.ptx("matmul"), StandardCharsets.US_ASCII);
        assertTrue(ptx.contains("mma.sync"), "no mma.sync in matmul.ptx");
    }
}
