package dev.quiver.gpu.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.quiver.gpu.backend.ForwardBatch;
import dev.quiver.gpu.backend.cuda.RecordingDriver.Op;
import dev.quiver.gpu.lora.AdapterLoader;
import dev.quiver.gpu.lora.LoraAdapter;
import dev.quiver.gpu.model.DType;
import dev.quiver.gpu.model.ModelMaker;
import dev.quiver.gpu.model.ModelWeights;
import dev.quiver.gpu.testing.TinyModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import jcuda.driver.CUresult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@link CudaBackend}'s ordering of device work, checked without a GPU against a {@link RecordingDriver}: zero-fills,
 * uploads, launches and read-backs all go on the stream the kernels run on (never the legacy default stream, which
 * would not be ordered with it), from pinned memory; an adapter copy runs on its own stream and the compute stream
 * waits for it just before the first LoRA launch; every step ends with a synchronisation; each backend makes its
 * own context current before it issues anything; a module the JIT refuses fails the start with the JIT's log.
 *
 * <p>What this cannot show: that the real driver honours these orderings, or that the kernels compute the right
 * thing (CudaBackendGpuTest, on a GPU).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudaBackendStreamOrderTest {
    static final int SLOTS = 2;
    static final DeviceBackend.Settings SETTINGS = new DeviceBackend.Settings(16, 4, SLOTS, 32, 32, 9);

    private ModelWeights weights;
    private LoraAdapter adapter;

    @BeforeAll
    void load() {
        Path dir = TinyModels.model(DType.BF16);
        weights = ModelWeights.load(dir);
        ModelMaker.AdapterSpec spec = ModelMaker.demoAdapters(1).get(0);
        adapter = AdapterLoader.load(dir.resolve("adapters").resolve(spec.name()), spec.name(), weights.config, 64);
    }

    @AfterAll
    void close() {
        weights.close();
    }

    /** Stand-in PTX: the fake driver does not read it, the backend only names its ISA in errors. */
    static byte[] fakePtx(String module) {
        return (".version 8.0\n.target sm_80\n// " + module + "\n\0").getBytes(StandardCharsets.US_ASCII);
    }

    CudaBackend backend(RecordingDriver d) {
        return new CudaBackend(weights, SETTINGS, d, CudaBackendStreamOrderTest::fakePtx);
    }

    /** rows tokens of one sequence at positions 0.., all on adapter slot `slot`; logits of the last row or none. */
    static ForwardBatch step(int rows, int slot, boolean logits) {
        int[] tok = new int[rows];
        int[] pos = new int[rows];
        int[] sl = new int[rows];
        for (int i = 0; i < rows; i++) {
            tok[i] = 1 + i;
            pos[i] = i;
            sl[i] = slot;
        }
        return new ForwardBatch(tok, pos, sl, new int[rows], new int[][] {{0, 1, 2, 3}},
                logits ? new int[] {rows - 1} : new int[0]);
    }

    static float[] logits(ForwardBatch b, ModelWeights w) {
        return new float[b.logitRows().length * w.config.vocabSize()];
    }

    /** The stream the kernels are launched on: the compute stream, by definition. */
    static String computeStream(List<Op> ops) {
        return ops.stream().filter(o -> o.call().equals("cuLaunchKernel")).map(Op::stream).findFirst().orElseThrow();
    }

    /** The buffer name holding each recorded address. */
    static String bufferAt(CudaBackend b, long address) {
        for (Map.Entry<String, jcuda.driver.CUdeviceptr> e : b.deviceBuffers().entrySet()) {
            long base = RecordingDriver.address(e.getValue());
            if (address >= base && address < base + b.bufferBytes(e.getKey())) {
                return e.getKey();
            }
        }
        return "(freed memory at " + Long.toHexString(address) + ")";
    }

    @Test
    void zero_fills_uploads_launches_and_read_backs_all_run_on_the_compute_stream_and_uploads_come_from_pinned_memory() {
        RecordingDriver d = new RecordingDriver();
        CudaBackend b = backend(d);
        b.loadSlot(1, adapter);
        ForwardBatch fb = step(6, 1, true);
        b.forward(fb, logits(fb, weights));
        String compute = computeStream(d.ops);
        Set<Long> zeroed = new HashSet<>();
        int uploads = 0;
        for (Op o : d.ops) {
            switch (o.call()) {
                case "cuMemsetD8Async" -> {
                    assertEquals(compute, o.stream(), "zero-fill of " + bufferAt(b, o.address()));
                    zeroed.add(o.address());
                }
                case "cuMemcpyHtoDAsync" -> {
                    String into = bufferAt(b, o.address());
                    assertEquals("pinned", o.detail(), "upload into " + into);
                    if (!into.equals(Buffers.SLOTS)) {
                        assertEquals(compute, o.stream(), "upload into " + into);
                        uploads++;
                    }
                }
                case "cuLaunchKernel", "cuMemcpyDtoHAsync" -> assertEquals(compute, o.stream(), o.toString());
                default -> {
                }
            }
        }
        assertTrue(uploads > 20, "weights, tables and the step ints were uploaded: " + uploads);
        for (String name : b.deviceBuffers().keySet()) {
            assertTrue(zeroed.contains(RecordingDriver.address(b.deviceBuffers().get(name))), name + " zero-filled");
        }
        b.close();
    }

    @Test
    void every_buffer_is_zero_filled_before_anything_is_copied_into_it_and_the_start_waits_for_both() {
        RecordingDriver d = new RecordingDriver();
        CudaBackend b = backend(d);
        Set<String> zeroed = new HashSet<>();
        int lastUpload = -1;
        for (int i = 0; i < d.ops.size(); i++) {
            Op o = d.ops.get(i);
            if (o.call().equals("cuMemsetD8Async")) {
                zeroed.add(bufferAt(b, o.address()));
            } else if (o.call().equals("cuMemcpyHtoDAsync")) {
                assertTrue(zeroed.contains(bufferAt(b, o.address())), "upload into " + bufferAt(b, o.address())
                        + " before its zero-fill (both on one stream, so issue order is execution order)");
                lastUpload = i;
            }
        }
        List<Op> after = d.since(lastUpload + 1);
        assertTrue(after.stream().anyMatch(o -> o.call().equals("cuStreamSynchronize")),
                "the constructor waits for its zero-fills and uploads before an adapter copy can touch the slots: "
                        + after);
        int mark = d.ops.size();
        b.loadSlot(0, adapter);
        Op adapterCopy = d.since(mark).stream().filter(o -> o.call().equals("cuMemcpyHtoDAsync")
                && bufferAt(b, o.address()).equals(Buffers.SLOTS)).findFirst().orElseThrow();
        assertFalse(adapterCopy.stream().equals(d.ops.stream().filter(o -> o.call().equals("cuMemsetD8Async"))
                .findFirst().orElseThrow().stream()), "the adapter copy has its own stream");
        b.close();
    }

    @Test
    void an_adapter_copy_overlaps_the_base_launches_and_compute_waits_for_it_just_before_the_first_lora_launch() {
        RecordingDriver d = new RecordingDriver();
        CudaBackend b = backend(d);
        int mark = d.ops.size();
        b.loadSlot(1, adapter);
        List<Op> load = d.since(mark);
        Op copy = load.stream().filter(o -> o.call().equals("cuMemcpyHtoDAsync")
                && bufferAt(b, o.address()).equals(Buffers.SLOTS)).findFirst().orElseThrow();
        d.busyStream = copy.stream(); // the adapter copy is still in flight when the step starts
        mark = d.ops.size();
        ForwardBatch fb = step(3, 1, true);
        b.forward(fb, logits(fb, weights));
        List<Op> fwd = d.since(mark);
        String compute = computeStream(fwd);
        int firstShrink = -1;
        int waits = 0;
        for (int i = 0; i < fwd.size(); i++) {
            if (fwd.get(i).call().equals("cuLaunchKernel") && fwd.get(i).detail().equals("lora_shrink")
                    && firstShrink < 0) {
                firstShrink = i;
            }
            waits += fwd.get(i).call().equals("cuStreamWaitEvent") ? 1 : 0;
        }
        Op before = fwd.get(firstShrink - 1);
        assertEquals("cuStreamWaitEvent", before.call(), "just before the first LoRA launch: " + before);
        assertEquals(compute, before.stream());
        assertEquals("event recorded on " + copy.stream(), before.detail(), "waits for the adapter copy's event");
        assertEquals(1, waits, "one wait per step");
        long baseLaunches = fwd.subList(0, firstShrink).stream().filter(o -> o.call().equals("cuLaunchKernel")).count();
        assertTrue(baseLaunches >= 5, "embedding, norm and q/k/v projections overlap the copy: " + baseLaunches);
        assertTrue(fwd.subList(0, firstShrink).stream().noneMatch(o -> o.call().equals("cuEventSynchronize")
                        || o.call().equals("cuCtxSynchronize")),
                "nothing before the wait blocks on the copy");
        b.close();
    }

    @Test
    void every_step_ends_with_a_synchronisation_of_the_compute_stream_also_without_logit_rows() {
        RecordingDriver d = new RecordingDriver();
        CudaBackend b = backend(d);
        for (boolean withLogits : new boolean[] {false, true}) {
            int mark = d.ops.size();
            ForwardBatch fb = step(5, -1, withLogits);
            b.forward(fb, logits(fb, weights));
            List<Op> fwd = d.since(mark);
            Op last = fwd.get(fwd.size() - 1);
            assertEquals("cuStreamSynchronize", last.call(), "logit rows " + withLogits + ": " + last);
            assertEquals(computeStream(fwd), last.stream());
            assertEquals(withLogits, fwd.stream().anyMatch(o -> o.call().equals("cuMemcpyDtoHAsync")));
        }
        b.close();
    }

    @Test
    void each_backend_makes_its_own_context_current_before_issuing_work_on_a_thread_shared_with_another() {
        RecordingDriver d = new RecordingDriver();
        CudaBackend first = backend(d);
        String ctxFirst = d.ops.get(0).detail();
        CudaBackend second = backend(d); // its context is now the thread's current one
        String ctxSecond = d.ops.stream().filter(o -> o.call().equals("cuCtxCreate")).skip(1).findFirst()
                .orElseThrow().detail();
        for (CudaBackend b : List.of(first, second, first)) {
            String want = b == first ? ctxFirst : ctxSecond;
            int mark = d.ops.size();
            b.loadSlot(0, adapter);
            ForwardBatch fb = step(4, 0, true);
            b.forward(fb, logits(fb, weights));
            List<Op> issued = d.since(mark);
            assertFalse(issued.isEmpty());
            for (Op o : issued) {
                assertEquals(want, o.context(), "issued under the wrong context: " + o);
            }
        }
        first.close();
        int mark = d.ops.size();
        second.close();
        assertTrue(d.since(mark).stream().allMatch(o -> o.context().equals(ctxSecond)), d.since(mark).toString());
    }

    @Test
    void a_module_the_jit_refuses_fails_the_start_with_the_jit_log_and_releases_the_context() {
        RecordingDriver d = new RecordingDriver();
        d.jitFailure = CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION;
        d.jitLog = "ptxas application ptx input, line 5; fatal   : Unsupported .version 8.0; current version is '7.8'";
        CudaException e = assertThrows(CudaException.class, () -> backend(d));
        assertEquals("cuModuleLoadDataEx(elementwise.ptx, PTX ISA 8.0): the driver could not JIT the PTX; JIT log: "
                + d.jitLog + " failed: CUDA_ERROR_UNSUPPORTED_PTX_VERSION (CUresult 222)", e.getMessage());
        assertEquals("cuCtxDestroy", d.ops.get(d.ops.size() - 1).call(), "the context is released");
    }

    @Test
    void an_empty_jit_log_is_said_to_be_empty() {
        assertEquals("(empty)", CudaBackend.jitLog(new byte[16]));
        assertEquals("(empty)", CudaBackend.jitLog(null));
        assertEquals("line 1: bad", CudaBackend.jitLog("line 1: bad\n\0garbage".getBytes(StandardCharsets.UTF_8)));
    }
}
