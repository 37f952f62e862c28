// Quiver's driver for llama.cpp in `quiver bench peer` (compiled by LlamaCppBuild against libllama; CPU only).
//
//   peer_driver MODE -m MODEL.gguf [--lora ADAPTER.gguf] -t THREADS --work FILE [--top K]
//
// FILE is the work PeerWork wrote, the very tokens Quiver is given:
//   line 1: S N D            (sequences, prompt tokens per sequence, decode steps)
//   S lines of N token ids   (the prompts)
//   D lines of S token ids   (the token fed to each sequence at each decode step)
//
// MODE greedy: prefills prompt 0, then D greedy steps from its own argmax, with an F32 KV cache (Quiver's); one
//   line per step on stdout:
//   "<token> <logprob>" then the top K as "<id>:<logprob>" pairs (log-softmax in double precision).
// MODE bench: after an untimed warm-up, prefills the S prompts one sequence per llama_decode (timed), then runs D
//   steps of S tokens, one per sequence at position N + step with logits for every row (timed). Prints
//   "prefill_seconds <s> decode_seconds <s>".
#include "llama.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

struct Work {
    int seqs = 0, prompt = 0, steps = 0;
    std::vector<std::vector<llama_token>> prompts;  // [S][N]
    std::vector<std::vector<llama_token>> feed;     // [D][S]
};

[[noreturn]] void die(const std::string & msg) {
    fprintf(stderr, "peer_driver: %s\n", msg.c_str());
    exit(1);
}

Work read_work(const std::string & path) {
    std::ifstream in(path);
    if (!in) die("cannot read work file " + path);
    Work w;
    in >> w.seqs >> w.prompt >> w.steps;
    if (!in || w.seqs < 1 || w.prompt < 1 || w.steps < 0) die("bad header in " + path);
    w.prompts.assign(w.seqs, std::vector<llama_token>(w.prompt));
    w.feed.assign(w.steps, std::vector<llama_token>(w.seqs));
    for (auto & p : w.prompts) for (auto & t : p) in >> t;
    for (auto & f : w.feed) for (auto & t : f) in >> t;
    if (!in) die("work file " + path + " ends early");
    return w;
}

double seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void log_errors_only(ggml_log_level level, const char * text, void *) {
    if (level >= GGML_LOG_LEVEL_WARN) fputs(text, stderr);
}

void add(llama_batch & b, llama_token tok, llama_pos pos, llama_seq_id seq, bool logits) {
    const int i = b.n_tokens++;
    b.token[i] = tok;
    b.pos[i] = pos;
    b.n_seq_id[i] = 1;
    b.seq_id[i][0] = seq;
    b.logits[i] = logits;
}

void decode(llama_context * ctx, llama_batch & b) {
    if (llama_decode(ctx, b) != 0) die("llama_decode failed");
}

// Prefills sequence s's prompt in chunks of at most n_batch tokens; logits only for the prompt's last token.
void prefill(llama_context * ctx, llama_batch & b, const std::vector<llama_token> & prompt, llama_seq_id s,
             int n_batch) {
    const int n = (int) prompt.size();
    for (int from = 0; from < n; from += n_batch) {
        b.n_tokens = 0;
        for (int i = from; i < std::min(n, from + n_batch); i++) add(b, prompt[i], i, s, i == n - 1);
        decode(ctx, b);
    }
}

}  // namespace

int main(int argc, char ** argv) {
    if (argc < 2) die("usage: peer_driver greedy|bench -m MODEL [--lora A] -t N --work FILE [--top K]");
    const std::string mode = argv[1];
    std::string model_path, lora_path, work_path;
    int threads = 2, top = 2;
    for (int i = 2; i < argc; i++) {
        const std::string a = argv[i];
        if (i + 1 >= argc) die("option " + a + " needs a value");
        const std::string v = argv[++i];
        if (a == "-m") model_path = v;
        else if (a == "--lora") lora_path = v;
        else if (a == "-t") threads = std::atoi(v.c_str());
        else if (a == "--work") work_path = v;
        else if (a == "--top") top = std::atoi(v.c_str());
        else die("unknown option " + a);
    }
    if (model_path.empty() || work_path.empty()) die("-m and --work are required");
    const Work w = read_work(work_path);

    llama_log_set(log_errors_only, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    llama_model * model = llama_model_load_from_file(model_path.c_str(), mp);
    if (!model) die("cannot load model " + model_path);
    llama_adapter_lora * lora = nullptr;
    if (!lora_path.empty()) {
        lora = llama_adapter_lora_init(model, lora_path.c_str());
        if (!lora) die("cannot load adapter " + lora_path);
    }
    const int vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    const int n_batch = 512;
    const int seqs = mode == "greedy" ? 1 : w.seqs;

    llama_context_params cp = llama_context_default_params();
    // each sequence gets its own cache cells, a multiple of 256 (llama.cpp's padding) that holds prompt and steps
    const int per_seq = (w.prompt + w.steps + 1 + 255) / 256 * 256;
    cp.n_ctx = (uint32_t) (seqs * per_seq);
    cp.n_batch = n_batch;
    cp.n_ubatch = n_batch;
    cp.n_seq_max = (uint32_t) seqs;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.no_perf = true;
    if (mode == "greedy") {
        // the check compares arithmetic, so the cache keeps F32 like Quiver's; timing keeps llama.cpp's default (F16)
        cp.type_k = GGML_TYPE_F32;
        cp.type_v = GGML_TYPE_F32;
    }
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) die("cannot create a context");
    if (lora) {
        float scale = 1.0f;  // the GGUF adapter carries alpha; llama.cpp applies alpha / rank times this
        if (llama_set_adapters_lora(ctx, &lora, 1, &scale) != 0) die("cannot apply the adapter");
    }
    llama_batch b = llama_batch_init(std::max(n_batch, seqs), 0, 1);

    if (mode == "greedy") {
        prefill(ctx, b, w.prompts[0], 0, n_batch);
        std::vector<std::pair<double, int>> ranked(vocab);
        for (int step = 0; step < w.steps; step++) {
            const float * lg = llama_get_logits_ith(ctx, -1);
            double mx = lg[0];
            for (int v = 1; v < vocab; v++) mx = std::max(mx, (double) lg[v]);
            double z = 0;
            for (int v = 0; v < vocab; v++) z += std::exp((double) lg[v] - mx);
            const double lse = mx + std::log(z);
            for (int v = 0; v < vocab; v++) ranked[v] = {-((double) lg[v] - lse), v};  // ascending = most likely first
            std::partial_sort(ranked.begin(), ranked.begin() + top + 1, ranked.end());
            const int best = ranked[0].second;
            printf("%d %.6f", best, -ranked[0].first);
            for (int k = 0; k < top; k++) printf(" %d:%.6f", ranked[k].second, -ranked[k].first);
            printf("\n");
            b.n_tokens = 0;
            add(b, best, w.prompt + step, 0, true);
            decode(ctx, b);
        }
    } else if (mode == "bench") {
        // warm-up (page in the weights, spin up the thread pool), then an empty cache
        prefill(ctx, b, std::vector<llama_token>(w.prompts[0].begin(), w.prompts[0].begin() + std::min(w.prompt, 32)),
                0, n_batch);
        llama_memory_clear(llama_get_memory(ctx), true);
        const double t0 = seconds();
        for (int s = 0; s < seqs; s++) prefill(ctx, b, w.prompts[s], s, n_batch);
        llama_synchronize(ctx);
        const double t1 = seconds();
        for (int step = 0; step < w.steps; step++) {
            b.n_tokens = 0;
            for (int s = 0; s < seqs; s++) add(b, w.feed[step][s], w.prompt + step, s, true);
            decode(ctx, b);
            llama_synchronize(ctx);
        }
        const double t2 = seconds();
        printf("prefill_seconds %.6f decode_seconds %.6f\n", t1 - t0, t2 - t1);
    } else {
        die("unknown mode " + mode + " (greedy or bench)");
    }
    llama_batch_free(b);
    llama_free(ctx);
    if (lora) llama_adapter_lora_free(lora);
    llama_model_free(model);
    return 0;
}
