/* vlm-bench: measures the machine (sgemm with the BLAS, read bandwidth) and
 * libvlm's matmul kernels per tier at the decode and prefill/vision shapes
 * of SmolVLM-256M, as the median of N runs with min and max.
 *
 *   vlm-bench [--threads N] [--reps N] [--filter TEXT] [--cpu-time] [--json]
 *
 * --cpu-time times the kernel rows with the process's CPU clock: with
 * --threads 1 on a shared machine, time the process spent descheduled does
 * not count (with more threads the pool's spinning workers would).
 *
 * --filter runs only the matmul and decode attention rows whose name
 * contains TEXT ("q4_k", "avx2 q6_k", "1024x", "decode gemma"), and skips the
 * machine and ViT attention rows.
 *
 * With --model, one whole query end to end instead: load, one image (a file,
 * or a 512x512 synthetic picture) with the model's default processing, a
 * short prompt, greedy decoding of up to --max-tokens tokens (an end token
 * stops it earlier; the count is printed). Prints the timings and the peak
 * RSS of the process (getrusage). --kv-type f16|q8_0 keeps the KV cache in
 * f16 or Q8_0 blocks (vlm_session_params.kv_cache_type; --kv-f16 = f16). --text-tokens N asks a text-only
 * question instead, whose whole prompt (chat template included) is N tokens:
 * the prefill rate of an N-token prompt, as llama-bench -p N measures it.
 *
 *   vlm-bench --model DIR [--image PATH] [--prompt TEXT] [--max-tokens N]
 *             [--max-tiles N] [--ctx N] [--threads N] [--kv-type f32|f16|q8_0] [--json]
 *   vlm-bench --model DIR --text-tokens N [--max-tokens N] [--threads N] [--json]
 *
 * It links the internal archive to reach every tier at once (the library
 * itself picks one per process). */
#include "dispatch.h"
#include "kernels.h"
#include "threadpool.h"

#include "vlm.h"

#include <math.h>
#include <stdint.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(VLM_HAVE_OPENBLAS)
#  include <cblas.h>
#endif

// ---- timing ----

/* --cpu-time: the process's CPU clock instead of the wall clock */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct stats {
    double median, min, max; /* seconds */
} stats;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static stats summarize(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    stats s = {n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t[0], t[n - 1]};
    return s;
}

// ---- output ----

static bool json;
static int n_results;

/* One result; rate = work / time (work in GFLOP or GB). */
static void report(const char *group, const char *name, const char *unit, double work,
                   stats s) {
    if (json) {
        printf("%s    {\"group\": \"%s\", \"name\": \"%s\", \"unit\": \"%s\", "
               "\"median\": %.3f, \"min\": %.3f, \"max\": %.3f, \"median_ms\": %.3f}",
               n_results ? ",\n" : "", group, name, unit, work / s.median, work / s.max,
               work / s.min, s.median * 1e3);
    } else {
        printf("%-8s %-34s %9.2f %-7s (min %.2f, max %.2f; %.3f ms)\n", group, name,
               work / s.median, unit, work / s.max, work / s.min, s.median * 1e3);
    }
    n_results++;
}

// ---- machine: read bandwidth ----

typedef struct read_job {
    const uint64_t *data;
    size_t n;
    uint64_t sums[64];
} read_job;

static void read_band(void *ctx, size_t t, size_t n_threads) {
    read_job *job = ctx;
    size_t per = job->n / n_threads, i0 = t * per, i1 = t + 1 == n_threads ? job->n : i0 + per;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = i0; i + 4 <= i1; i += 4) {
        a += job->data[i];
        b += job->data[i + 1];
        c += job->data[i + 2];
        d += job->data[i + 3];
    }
    job->sums[t] = a + b + c + d;
}

/* Median read bandwidth in GB/s; printed as a row when print. */
static double bench_bandwidth(vlmi_threadpool *pool, int reps, bool print) {
    size_t bytes = (size_t)512 << 20;
    uint64_t *data = malloc(bytes);
    if (data == NULL) return 0.0;
    for (size_t i = 0; i < bytes / 8; i++) data[i] = i;
    read_job job = {.data = data, .n = bytes / 8};
    double t[64];
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        vlmi_threadpool_run(pool, read_band, &job);
        t[r] = now_s() - t0;
    }
    stats s = summarize(t, reps);
    if (print) report("machine", "read bandwidth", "GB/s", (double)bytes * 1e-9, s);
    free(data);
    return (double)bytes * 1e-9 / s.median;
}

// ---- machine: sgemm ----

/* x (n) <- uniform in [-0.5, 0.5), a sequence fixed by seed */
static void fill_seeded(float *x, size_t n, uint32_t seed) {
    uint32_t s = 12345 + seed * 2654435761u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) * 0x1p-24f - 0.5f;
    }
}

static void fill(float *x, size_t n) { fill_seeded(x, n, 0); }

#if defined(VLM_HAVE_OPENBLAS)
/* The best median sgemm rate in GFLOP/s; rows printed when print. */
static double bench_sgemm(size_t n_threads, int reps, bool print) {
    const size_t shapes[][3] = {{1024, 768, 3072}, {2048, 2048, 2048}};
    double best = 0.0;
    openblas_set_num_threads((int)n_threads);
    for (size_t s = 0; s < 2; s++) {
        size_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        float *a = malloc(m * k * 4), *b = malloc(n * k * 4), *c = malloc(m * n * 4);
        fill(a, m * k);
        fill(b, n * k);
        double t[64];
        for (int r = 0; r < reps; r++) {
            double t0 = now_s();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, a,
                        (int)k, b, (int)k, 0.0f, c, (int)n);
            t[r] = now_s() - t0;
        }
        char name[96];
        snprintf(name, sizeof name, "openblas sgemm %zux%zux%zu (%zu thr)", m, k, n, n_threads);
        stats st = summarize(t, reps);
        if (print) report("machine", name, "GFLOP/s", 2.0 * (double)(m * k * n) * 1e-9, st);
        double rate = 2.0 * (double)(m * k * n) * 1e-9 / st.median;
        if (rate > best) best = rate;
        free(a);
        free(b);
        free(c);
    }
    openblas_set_num_threads(1); /* as the library runs it: one per band */
    return best;
}
#endif

// ---- kernels ----

/* The banded split vlmi_matmul makes, for a tier given explicitly. */
typedef struct band_job {
    const vlmi_kernel_table *tier;
    bool blas;
    float *out;
    const float *x;
    const void *xq;
    const unsigned char *w;
    vlm_dtype dtype;
    size_t m, k, n;
} band_job;

static void run_band(void *ctx, size_t t, size_t n_threads) {
    const band_job *j = ctx;
    size_t n_bands = (j->n + 15) / 16, per = (n_bands + n_threads - 1) / n_threads;
    size_t j0 = t * per * 16, j1 = j0 + per * 16 < j->n ? j0 + per * 16 : j->n;
    if (j0 >= j1) return;
    const unsigned char *w = j->w + j0 * vlmi_kernels_row_bytes(j->dtype, j->k);
    if (j->blas)
        vlmi_blas_matmul(j->out + j0, j->n, j->x, (const float *)(const void *)w, NULL, j->m,
                         j->k, j1 - j0);
    else if (j->xq)
        j->tier->matmul_q8(j->out + j0, j->n, j->xq, w, j->dtype, NULL, j->m, j->k, j1 - j0);
    else
        j->tier->matmul(j->out + j0, j->n, j->x, w, j->dtype, NULL, j->m, j->k, j1 - j0);
}

/* Q4_K / Q6_K weights of n_elements: random quants and scales, f16 super-block
 * scales of a realistic size (there is no k-quant quantizer in the library). */
static void fill_kquant(unsigned char *w, vlm_dtype dtype, size_t n_elements) {
    size_t bb = vlmi_kernels_row_bytes(dtype, VLMI_QK_K);
    uint32_t s = 12345u;
    for (size_t i = 0; i < n_elements / VLMI_QK_K * bb; i++) {
        s = s * 1664525u + 1013904223u;
        w[i] = (unsigned char)(s >> 24);
    }
    uint16_t d = vlmi_f32_to_f16(0.002f), dmin = vlmi_f32_to_f16(0.004f);
    for (size_t b = 0; b < n_elements / VLMI_QK_K; b++) {
        if (dtype == VLM_DTYPE_Q4_K) {
            memcpy(w + b * bb, &d, 2);
            memcpy(w + b * bb + 2, &dmin, 2);
        } else {
            memcpy(w + b * bb + 208, &d, 2);
        }
    }
}

/* --filter: only the matmul rows whose name contains it (NULL: every row) */
static const char *row_filter;

/* One matmul row; rate in GFLOP/s, or with weight_rate in GB/s of weights
 * read (the LM head: compare with the machine's read bandwidth). tier NULL:
 * vlmi_matmul over the pool, what the model code calls (the chosen tier, or
 * BLAS where dispatch.c sends the shape). */
static void bench_matmul(vlmi_threadpool *pool, const char *tier_name,
                         const vlmi_kernel_table *tier, bool blas, vlm_dtype dtype,
                         const char *dtype_name, size_t m, size_t k, size_t n, int reps,
                         bool weight_rate) {
    char name[96];
    snprintf(name, sizeof name, "%s %s %zux%zux%zu", tier_name, dtype_name, m, k, n);
    if (row_filter != NULL && strstr(name, row_filter) == NULL) return;
    size_t w_bytes = vlmi_kernels_row_bytes(dtype, k) * n;
    /* Q8_0 weights are quantized from f32 rows made one at a time (the LM
     * head would need 671 MB of f32) */
    bool q8 = dtype == VLM_DTYPE_Q8_0;
    float *w_f32 = malloc((q8 ? 1 : n) * k * sizeof(float));
    unsigned char *w = malloc(w_bytes);
    float *x = malloc(m * k * sizeof(float)), *out = malloc(m * n * sizeof(float));
    bool kquant = dtype == VLM_DTYPE_Q4_K || dtype == VLM_DTYPE_Q6_K;
    size_t xq_row = kquant ? k / VLMI_QK_K * VLMI_Q8_K_BLOCK_BYTES : k / 32 * VLMI_Q8_0_BLOCK_BYTES;
    unsigned char *xq = malloc(m * xq_row);
    if (!q8) fill(w_f32, n * k);
    fill(x, m * k);
    if (dtype == VLM_DTYPE_F32) memcpy(w, w_f32, w_bytes);
    else if (dtype == VLM_DTYPE_F16) vlmi_convert_f32_to_f16((uint16_t *)(void *)w, w_f32, n * k);
    else if (dtype == VLM_DTYPE_BF16) vlmi_convert_f32_to_bf16((uint16_t *)(void *)w, w_f32, n * k);
    else if (kquant) fill_kquant(w, dtype, n * k);
    else
        for (size_t r = 0; r < n; r++) {
            fill_seeded(w_f32, k, (uint32_t)r);
            vlmi_kernels_tier(VLMI_KERNELS_REF)->quantize_q8_0(w + r * xq_row, w_f32, k);
        }
    band_job job = {.tier = tier, .blas = blas, .out = out, .x = x, .w = w, .dtype = dtype,
                    .m = m, .k = k, .n = n};
    double t[64];
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        if (tier == NULL) {
            vlmi_matmul(pool, out, x, w, dtype, NULL, m, k, n);
            t[r] = now_s() - t0;
            continue;
        }
        job.xq = NULL;
        if (dtype == VLM_DTYPE_Q8_0 && tier->quantizes_activations) {
            for (size_t i = 0; i < m; i++) tier->quantize_q8_0(xq + i * xq_row, x + i * k, k);
            job.xq = xq;
        } else if (kquant && tier->quantizes_activations) {
            for (size_t i = 0; i < m; i++) tier->quantize_q8_k(xq + i * xq_row, x + i * k, k);
            job.xq = xq;
        }
        vlmi_threadpool_run(pool, run_band, &job);
        t[r] = now_s() - t0;
    }
    if (weight_rate) report("matmul", name, "GB/s", (double)w_bytes * 1e-9, summarize(t, reps));
    else report("matmul", name, "GFLOP/s", 2.0 * (double)(m * k * n) * 1e-9, summarize(t, reps));
    free(w_f32);
    free(w);
    free(x);
    free(out);
    free(xq);
}

// ---- one query end to end ----

typedef struct e2e_options {
    const char *model, *image, *prompt;
    int max_tokens, max_tiles, n_ctx, n_threads;
    int text_tokens; /* > 0: a text-only prompt of this many tokens, no image */
    const char *kv_type; /* "f32" (NULL), "f16" or "q8_0" */
} e2e_options;

static bool count_token(int32_t token, const char *piece, size_t len, void *user_data) {
    (void)token, (void)piece, (void)len, (void)user_data;
    return true;
}

static int fail(const char *what, vlm_status st) {
    fprintf(stderr, "vlm-bench: %s: %s (%s)\n", what, vlm_status_string(st), vlm_last_error());
    return 1;
}

/* What one query must at least move and compute, from the tensor table:
 * per generated token every text weight is read once (the token embedding
 * only as the LM head when they are tied); per frame every vision matrix
 * multiplies every patch (attention not counted, so this is a lower bound).
 * Tensors are told apart by the names transformers and llama.cpp give
 * them. */
typedef struct model_work {
    double decode_bytes;        /* bytes read per generated token */
    double vision_macs_per_patch;
    size_t patch_size;          /* 0: no vision tower found */
} model_work;

static bool has(const char *name, const char *part) { return strstr(name, part) != NULL; }

/* The prompt ids of one user turn holding text, chat-formatted, as the
 * session sees them (one short generate: the template is not public). */
static vlm_status chat_prompt_length(vlm_model *model, const char *text, size_t *n_ids) {
    vlm_session *session = NULL;
    vlm_status st = vlm_session_create(model, NULL, &session);
    if (st == VLM_OK) st = vlm_session_add_turn(session, VLM_ROLE_USER, text, NULL, 0);
    vlm_generate_params gp;
    vlm_generate_params_init(&gp, sizeof gp);
    gp.max_tokens = 1;
    if (st == VLM_OK) st = vlm_session_generate(session, &gp);
    if (st == VLM_OK) st = vlm_session_prompt_tokens(session, NULL, 0, n_ids);
    if (st == VLM_ERR_BUFFER_TOO_SMALL) st = VLM_OK; /* the count is all we asked */
    vlm_session_free(session);
    return st;
}

/* A user text whose chat-formatted prompt is n_tokens ids: "the the ...",
 * one id per word in BPE vocabularies (checked with the tokenizer), as many
 * words as the template leaves room for. Caller frees *out. Returns 0, or 1
 * after printing why not. */
static int make_text_prompt(vlm_model *model, int n_tokens, char **out) {
    const vlm_tokenizer *tok = vlm_model_tokenizer(model);
    size_t n_template = 0, n_word = 0;
    if (tok == NULL) return fail("--text-tokens: the model's tokenizer", VLM_ERR_UNSUPPORTED);
    vlm_status st = chat_prompt_length(model, "the", &n_template);
    if (st != VLM_OK) return fail("--text-tokens: a one-word prompt", st);
    n_template -= 1; /* the one word */
    if (n_tokens <= (int)n_template) {
        fprintf(stderr, "vlm-bench: --text-tokens %d: the chat template alone is %zu tokens\n",
                n_tokens, n_template);
        return 1;
    }
    size_t n_words = (size_t)n_tokens - n_template;
    char *text = malloc(4 * n_words);
    if (text == NULL) return 1;
    memcpy(text, "the", 3); /* then " the" per further word: 4 n_words - 1 bytes */
    for (size_t i = 1; i < n_words; i++) memcpy(text + 4 * i - 1, " the", 4);
    text[4 * n_words - 1] = '\0';
    st = vlm_tokenize(tok, text, 4 * n_words - 1, 0, NULL, 0, &n_word);
    if (st != VLM_OK && st != VLM_ERR_BUFFER_TOO_SMALL) { /* too small: the count is all we asked */
        free(text);
        return fail("--text-tokens: tokenize", st);
    }
    if (n_word != n_words) {
        fprintf(stderr, "vlm-bench: --text-tokens: %zu words make %zu tokens, not one each\n",
                n_words, n_word);
        free(text);
        return 1;
    }
    *out = text;
    return 0;
}

static model_work count_work(const vlm_model *model) {
    model_work w = {0};
    double embedding_bytes = 0.0;
    bool lm_head = false;
    for (size_t i = 0; i < vlm_model_n_tensors(model); i++) {
        vlm_tensor_info t = {.struct_size = sizeof t};
        if (vlm_model_tensor_info(model, i, &t) != VLM_OK) continue;
        bool vision = has(t.name, "vision") || has(t.name, "visual") || strncmp(t.name, "v.", 2) == 0 ||
                      has(t.name, "projector") || has(t.name, "connector") || strncmp(t.name, "mm.", 3) == 0;
        if (!vision) {
            if (has(t.name, "embed_tokens") || has(t.name, "token_embd")) embedding_bytes += (double)t.n_bytes;
            else w.decode_bytes += (double)t.n_bytes;
            lm_head |= has(t.name, "lm_head") || strcmp(t.name, "output.weight") == 0;
            continue;
        }
        if (has(t.name, "patch_embed") && t.n_dims >= 4) w.patch_size = (size_t)t.shape[t.n_dims - 1];
        if (t.n_dims >= 2 && !has(t.name, "position")) {
            double elements = 1.0;
            for (uint32_t d = 0; d < t.n_dims; d++) elements *= (double)t.shape[d];
            w.vision_macs_per_patch += elements;
        }
    }
    if (!lm_head) w.decode_bytes += embedding_bytes; /* tied: the LM head reads it all */
    return w;
}

static int bench_e2e(const e2e_options *o) {
    vlm_model_params mp;
    vlm_model_params_init(&mp, sizeof mp);
    mp.n_threads = o->n_threads;
    vlm_model *model = NULL;
    vlm_status st = vlm_model_load(o->model, &mp, &model);
    if (st != VLM_OK) return fail(o->model, st);

    vlm_image *image = NULL;
    char *text_prompt = NULL;
    if (o->text_tokens > 0) {
        if (make_text_prompt(model, o->text_tokens, &text_prompt) != 0) {
            vlm_model_free(model);
            return 1;
        }
    } else if (o->image != NULL) {
        st = vlm_image_load_file(o->image, NULL, &image);
    } else {
        /* a smooth synthetic picture, 512x512 */
        uint32_t w = 512, h = 512;
        uint8_t *rgb = malloc((size_t)w * h * 3);
        if (rgb == NULL) return 1;
        for (uint32_t y = 0; y < h; y++)
            for (uint32_t x = 0; x < w; x++) {
                uint8_t *p = rgb + ((size_t)y * w + x) * 3;
                p[0] = (uint8_t)(x / 2); p[1] = (uint8_t)(y / 2); p[2] = (uint8_t)((x + y) / 4);
            }
        st = vlm_image_from_pixels(rgb, (size_t)w * h * 3, w, h, 0, VLM_PIXEL_RGB8, &image);
        free(rgb);
    }
    if (st != VLM_OK) { vlm_model_free(model); return fail("image", st); }
    const char *prompt = text_prompt != NULL ? text_prompt : o->prompt;

    vlm_session_params sp;
    vlm_session_params_init(&sp, sizeof sp);
    sp.n_ctx = o->n_ctx;
    sp.n_threads = o->n_threads;
    sp.max_image_tiles = o->max_tiles;
    sp.kv_cache_type = strcmp(o->kv_type, "f16") == 0    ? VLM_DTYPE_F16
                       : strcmp(o->kv_type, "q8_0") == 0 ? VLM_DTYPE_Q8_0
                                                         : VLM_DTYPE_F32;
    vlm_session *session = NULL;
    vlm_image_plan plan = {.struct_size = sizeof plan};
    vlm_timings t = {.struct_size = sizeof t};
    double add_ms = 0.0;
    st = vlm_session_create(model, &sp, &session);
    bool text_only = text_prompt != NULL;
    if (st == VLM_OK && !text_only) {
        st = vlm_session_plan_image(session, vlm_image_width(image), vlm_image_height(image), &plan);
        /* a text-only model: the prompt alone */
        if (st == VLM_ERR_UNSUPPORTED) text_only = true, st = VLM_OK;
    }
    if (st == VLM_OK) {
        double t0 = now_s();
        st = vlm_session_add_turn(session, VLM_ROLE_USER, prompt, &image, text_only ? 0 : 1);
        add_ms = (now_s() - t0) * 1e3;
    }
    if (st == VLM_OK) {
        vlm_generate_params gp;
        vlm_generate_params_init(&gp, sizeof gp);
        gp.max_tokens = o->max_tokens;
        gp.on_token = count_token;
        st = vlm_session_generate(session, &gp);
    }
    if (st == VLM_OK) st = vlm_session_timings(session, &t);
    if (st != VLM_OK) {
        int rc = fail("query", st);
        free(text_prompt);
        vlm_session_free(session);
        vlm_image_free(image);
        vlm_model_free(model);
        return rc;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak_mb = (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
    double encode_per_frame = plan.n_frames > 0 ? t.encode_ms / plan.n_frames : 0.0;

    /* the machine's ceilings and the bounds they set on this query */
    vlmi_threadpool *pool = NULL;
    double gbps = 0.0, gflops = 0.0;
    if (vlmi_threadpool_create((size_t)o->n_threads, &pool) == VLM_OK)
        gbps = bench_bandwidth(pool, 5, false);
    vlmi_threadpool_free(pool);
#if defined(VLM_HAVE_OPENBLAS)
    gflops = bench_sgemm((size_t)o->n_threads, 3, false);
#endif
    model_work work = count_work(model);
    double decode_bound = gbps > 0 ? gbps * 1e9 / work.decode_bytes : 0.0; /* tok/s */
    double patches = work.patch_size > 0 ? (double)(plan.frame_width / work.patch_size) *
                                               (double)(plan.frame_height / work.patch_size)
                                         : 0.0;
    double frame_gflop = 2.0 * work.vision_macs_per_patch * patches * 1e-9;
    double encode_bound_ms = gflops > 0 ? frame_gflop / gflops * 1e3 : 0.0;
    if (json) {
        printf("{\n  \"model\": \"%s\", \"kernels\": \"%s\", \"threads\": %d, "
               "\"kv_cache\": \"%s\",\n"
               "  \"image\": {\"width\": %u, \"height\": %u, \"n_frames\": %u, "
               "\"n_image_tokens\": %u},\n"
               "  \"load_ms\": %.1f, \"preprocess_ms\": %.1f, \"encode_ms\": %.1f, "
               "\"encode_ms_per_frame\": %.1f, \"add_turn_ms\": %.1f,\n"
               "  \"prefill_ms\": %.1f, \"n_prompt_tokens\": %d, \"prefill_tokens_per_s\": %.2f,\n"
               "  \"decode_ms\": %.1f, \"n_generated_tokens\": %d, \"decode_tokens_per_s\": %.2f,\n"
               "  \"peak_rss_mb\": %.1f,\n"
               "  \"machine\": {\"read_gb_per_s\": %.2f, \"sgemm_gflop_per_s\": %.2f},\n"
               "  \"bounds\": {\"decode_bytes_per_token\": %.0f, \"decode_tokens_per_s_max\": %.2f, "
               "\"frame_gflop\": %.2f, \"encode_ms_per_frame_min\": %.1f}\n}\n",
               vlm_model_architecture(model), vlmi_kernels_name(), o->n_threads,
               o->kv_type, vlm_image_width(image), vlm_image_height(image),
               plan.n_frames, plan.n_image_tokens,
               t.load_ms, t.preprocess_ms, t.encode_ms, encode_per_frame, add_ms, t.prefill_ms,
               t.n_prompt_tokens, t.prefill_tokens_per_s, t.decode_ms, t.n_generated_tokens,
               t.decode_tokens_per_s, peak_mb, gbps, gflops, work.decode_bytes, decode_bound,
               frame_gflop, encode_bound_ms);
    } else {
        printf("vlm-bench: %s, kernels %s, %d threads, %s KV cache\n",
               vlm_model_architecture(model), vlmi_kernels_name(), o->n_threads,
               o->kv_type);
        printf("image       %ux%u -> %u frames, %u image tokens\n", vlm_image_width(image),
               vlm_image_height(image), plan.n_frames, plan.n_image_tokens);
        printf("load        %9.1f ms\n", t.load_ms);
        printf("preprocess  %9.1f ms\n", t.preprocess_ms);
        printf("encode      %9.1f ms (%.1f ms per frame)\n", t.encode_ms, encode_per_frame);
        printf("prefill     %9.1f ms (%d tokens, %.2f tok/s)\n", t.prefill_ms, t.n_prompt_tokens,
               t.prefill_tokens_per_s);
        printf("decode      %9.1f ms (%d tokens, %.2f tok/s)\n", t.decode_ms, t.n_generated_tokens,
               t.decode_tokens_per_s);
        printf("peak RSS    %9.1f MB\n", peak_mb);
        printf("machine     read %.1f GB/s, sgemm %.1f GFLOP/s\n", gbps, gflops);
        if (decode_bound > 0)
            printf("bound       decode <= %.1f tok/s (%.1f MB of weights per token): %.0f%% reached\n",
                   decode_bound, work.decode_bytes / 1e6, 100.0 * t.decode_tokens_per_s / decode_bound);
        if (encode_bound_ms > 0 && encode_per_frame > 0)
            printf("bound       encode >= %.0f ms per frame (%.0f GFLOP of matmuls): %.0f%% reached\n",
                   encode_bound_ms, frame_gflop, 100.0 * encode_bound_ms / encode_per_frame);
    }
    free(text_prompt);
    vlm_session_free(session);
    vlm_image_free(image);
    vlm_model_free(model);
    return 0;
}

// ---- attention: the ViT's bidirectional attention over one 512x512 tile ----

/* 1024 tokens x 12 heads x 64 head_dim, bidirectional (SigLIP in SmolVLM):
 * 4 * n^2 * heads * head_dim flops (QK^T and PV). pool NULL: the tier's own
 * one-thread call; else vlmi_attention over the pool, which runs the chosen
 * tier (VLM_KERNELS picks it). */
static void bench_attention(vlmi_threadpool *pool, const vlmi_kernel_table *tier, int reps) {
    const size_t n = 1024, heads = 12, hd = 64, dim = heads * hd;
    char name[96];
    snprintf(name, sizeof name, "%s %zut %zux%zux%zu", tier->name,
             pool ? vlmi_threadpool_n_threads(pool) : (size_t)1, n, heads, hd);
    if (row_filter != NULL && strstr(name, row_filter) == NULL) return;
    float *q = malloc(n * dim * sizeof(float)), *k = malloc(n * dim * sizeof(float));
    float *v = malloc(n * dim * sizeof(float)), *out = malloc(n * dim * sizeof(float));
    float *scores = malloc(n * sizeof(float));
    fill(q, n * dim);
    fill(k, n * dim);
    fill(v, n * dim);
    double t[64];
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        if (pool == NULL)
            tier->attention(out, scores, q, k, v, n, n, heads, heads, hd, 0, false, 0.125f);
        else
            vlmi_attention(pool, out, scores, q, k, v, n, n, heads, heads, hd, 0, false,
                           0.125f);
        t[r] = now_s() - t0;
    }
    report("attn", name, "GFLOP/s", 4.0 * (double)(n * n * heads * hd) * 1e-9,
           summarize(t, reps));
    free(q);
    free(k);
    free(v);
    free(out);
    free(scores);
}

/* The decoder shapes of the decode attention rows: one new token's query
 * over n_kv cached positions in every layer. */
typedef struct decode_shape {
    const char *model;
    size_t n_layers, heads, kv_heads, head_dim;
} decode_shape;

static const decode_shape DECODE_SHAPES[] = {
    {"smolvlm-256m", 30, 9, 3, 64}, /* SmolVLM-256M's text model */
    {"gemma3-270m", 18, 4, 1, 256}, /* Gemma 3 270M */
};

/* One decode token over KV caches of n_kv positions per layer, in f32, f16
 * or q8_0 (vlm_session_params.kv_cache_type), over the pool. Each layer has its own
 * cache, so the keys and values stream from memory as in a real decode:
 * rate = the caches' bytes read per second. hot: every layer reads the same
 * cache, which then stays in the CPU caches: the kernel's own rate, apart
 * from the memory bandwidth (which other processes share). */
static void bench_decode_attention(vlmi_threadpool *pool, const decode_shape *shape,
                                   size_t n_kv, vlm_dtype kv_dtype, bool hot, int reps) {
    const size_t n_layers = hot ? 1 : shape->n_layers, heads = shape->heads,
                 kv_heads = shape->kv_heads, hd = shape->head_dim;
    const char *type = kv_dtype == VLM_DTYPE_F16 ? "f16" : kv_dtype == VLM_DTYPE_Q8_0 ? "q8_0" : "f32";
    char name[96];
    snprintf(name, sizeof name, "%s %zut decode %s %zux%zu %s%s", vlmi_kernels_name(),
             pool ? vlmi_threadpool_n_threads(pool) : (size_t)1, shape->model,
             shape->n_layers, n_kv, type, hot ? " hot" : "");
    if (row_filter != NULL && strstr(name, row_filter) == NULL) return;
    const size_t kv_dim = kv_heads * hd, layer = n_kv * kv_dim;
    const size_t row_bytes = vlmi_kernels_row_bytes(kv_dtype, kv_dim), layer_bytes = n_kv * row_bytes;
    float *q = malloc(heads * hd * sizeof(float)), *out = malloc(heads * hd * sizeof(float));
    float *scores = malloc(n_kv * sizeof(float)), *row = malloc(layer * sizeof(float));
    unsigned char *k = malloc(n_layers * layer_bytes), *v = malloc(n_layers * layer_bytes);
    if (!q || !out || !scores || !row || !k || !v) goto done;
    fill(q, heads * hd);
    for (size_t l = 0; l < 2 * n_layers; l++) {
        unsigned char *dst = (l < n_layers ? k : v) + (l % n_layers) * layer_bytes;
        fill(row, layer);
        if (kv_dtype == VLM_DTYPE_F16) vlmi_convert_f32_to_f16((uint16_t *)(void *)dst, row, layer);
        else if (kv_dtype == VLM_DTYPE_Q8_0)
            for (size_t r = 0; r < n_kv; r++)
                vlmi_kernels()->quantize_q8_0(dst + r * row_bytes, row + r * kv_dim, kv_dim);
        else memcpy(dst, row, layer * sizeof(float));
    }
    float scale = 1.0f / sqrtf((float)hd);
    vlmi_attention_mask mask = {.q_pos0 = n_kv - 1};
    double t[64];
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        for (size_t l = 0; l < shape->n_layers; l++) {
            const void *kl = k + l % n_layers * layer_bytes, *vl = v + l % n_layers * layer_bytes;
            if (kv_dtype == VLM_DTYPE_F32)
                vlmi_attention(pool, out, scores, q, kl, vl, 1, n_kv, heads, kv_heads, hd,
                               n_kv - 1, true, scale);
            else /* decode-sized: no staging needed */
                vlmi_attention_masked_stored(pool, out, scores, q, kl, vl, kv_dtype, NULL, 1,
                                             n_kv, heads, kv_heads, hd, &mask, scale);
        }
        t[r] = now_s() - t0;
    }
    report("attn", name, "GB/s", 2.0 * (double)(shape->n_layers * layer_bytes) * 1e-9,
           summarize(t, reps));
done:
    free(q);
    free(out);
    free(scores);
    free(row);
    free(k);
    free(v);
}

int main(int argc, char **argv) {
    size_t n_threads = 2;
    int reps = 9;
    e2e_options e2e = {.prompt = "What is in this image?", .max_tokens = 32, .kv_type = "f32"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) n_threads = (size_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) row_filter = argv[++i];
        else if (strcmp(argv[i], "--cpu-time") == 0) bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) e2e.model = argv[++i];
        else if (strcmp(argv[i], "--image") == 0 && i + 1 < argc) e2e.image = argv[++i];
        else if (strcmp(argv[i], "--prompt") == 0 && i + 1 < argc) e2e.prompt = argv[++i];
        else if (strcmp(argv[i], "--max-tokens") == 0 && i + 1 < argc) e2e.max_tokens = atoi(argv[++i]);
        else if (strcmp(argv[i], "--max-tiles") == 0 && i + 1 < argc) e2e.max_tiles = atoi(argv[++i]);
        else if (strcmp(argv[i], "--ctx") == 0 && i + 1 < argc) e2e.n_ctx = atoi(argv[++i]);
        else if (strcmp(argv[i], "--text-tokens") == 0 && i + 1 < argc) e2e.text_tokens = atoi(argv[++i]);
        else if (strcmp(argv[i], "--kv-f16") == 0) e2e.kv_type = "f16";
        else if (strcmp(argv[i], "--kv-type") == 0 && i + 1 < argc &&
                 (strcmp(argv[i + 1], "f32") == 0 || strcmp(argv[i + 1], "f16") == 0 ||
                  strcmp(argv[i + 1], "q8_0") == 0))
            e2e.kv_type = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--threads N] [--reps N] [--filter TEXT] [--cpu-time] [--json]\n"
                    "       %s --model DIR [--image PATH] [--prompt TEXT] [--max-tokens N]\n"
                    "                 [--max-tiles N] [--ctx N] [--threads N] [--kv-type f32|f16|q8_0] [--json]\n"
                    "       %s --model DIR --text-tokens N [--max-tokens N] [--threads N] [--json]\n",
                    argv[0], argv[0], argv[0]);
            return 2;
        }
    }
    if (e2e.model != NULL) {
        e2e.n_threads = (int)n_threads;
        return bench_e2e(&e2e);
    }
    if (reps < 1) reps = 1;
    if (reps > 64) reps = 64;
    if (n_threads < 1) n_threads = 1;
    vlmi_threadpool *pool = NULL;
    if (vlmi_threadpool_create(n_threads, &pool) != VLM_OK) return 1;

    if (json) printf("{\n  \"threads\": %zu, \"reps\": %d, \"kernels\": \"%s\",\n  \"results\": [\n",
                     n_threads, reps, vlmi_kernels_name());
    else printf("vlm-bench: %zu threads, median of %d (ref: 3 at m=1, 1 above), best tier %s\n", n_threads, reps,
                vlmi_kernels_name());

    if (row_filter == NULL) {
        bench_bandwidth(pool, reps, true);
#if defined(VLM_HAVE_OPENBLAS)
        bench_sgemm(n_threads, reps, true);
#endif
    }
    const size_t shapes[][3] = {{1, 576, 1536}, {1024, 768, 3072}};
    const struct { vlm_dtype dtype; const char *name; } dtypes[] = {
        {VLM_DTYPE_F32, "f32"}, {VLM_DTYPE_F16, "f16"}, {VLM_DTYPE_BF16, "bf16"},
        {VLM_DTYPE_Q8_0, "q8_0"}};
    for (size_t s = 0; s < 2; s++) {
        size_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        for (size_t d = 0; d < sizeof dtypes / sizeof *dtypes; d++) {
            for (int t = 0; t < VLMI_KERNELS_TIER_COUNT; t++) {
                const vlmi_kernel_table *tier = vlmi_kernels_tier((vlmi_kernel_tier)t);
                if (tier == NULL) continue;
                /* the scalar reference is slow: fewer runs */
                int r = t != VLMI_KERNELS_REF ? reps : m > 1 ? 1 : (reps < 3 ? reps : 3);
                bench_matmul(pool, tier->name, tier, false, dtypes[d].dtype, dtypes[d].name, m,
                             k, n, r, false);
            }
            if (dtypes[d].dtype == VLM_DTYPE_F32 && vlmi_blas_available())
                bench_matmul(pool, "blas", vlmi_kernels(), true, VLM_DTYPE_F32, "f32", m, k, n,
                             reps, false);
            /* what the model code gets for the shape (vlmi_matmul) */
            if (m > 1)
                bench_matmul(pool, "lib", NULL, false, dtypes[d].dtype, dtypes[d].name, m, k, n,
                             reps, false);
        }
    }
    /* k-quants (k % 256 == 0): decode (one token through a 768 -> 3072 layer)
     * and vision (a tile's 1024 patches through the same layer) */
    const size_t kq_shapes[][3] = {{1, 768, 3072}, {1024, 768, 3072}};
    const struct { vlm_dtype dtype; const char *name; } kq_dtypes[] = {
        {VLM_DTYPE_Q4_K, "q4_k"}, {VLM_DTYPE_Q6_K, "q6_k"}};
    for (size_t s = 0; s < 2; s++) {
        size_t m = kq_shapes[s][0], k = kq_shapes[s][1], n = kq_shapes[s][2];
        for (size_t d = 0; d < 2; d++)
            for (int t = 0; t < VLMI_KERNELS_TIER_COUNT; t++) {
                const vlmi_kernel_table *tier = vlmi_kernels_tier((vlmi_kernel_tier)t);
                if (tier == NULL) continue;
                int r = t != VLMI_KERNELS_REF ? reps : m > 1 ? 1 : (reps < 3 ? reps : 3);
                bench_matmul(pool, tier->name, tier, false, kq_dtypes[d].dtype, kq_dtypes[d].name,
                             m, k, n, r, false);
            }
    }
    /* Gemma 3 270M's tied LM head in Q8_0 (one token, 640 -> 262144): 178 MB
     * of weights per call, rated in GB/s read (the ref tier is too slow) */
    for (int t = VLMI_KERNELS_REF + 1; t < VLMI_KERNELS_TIER_COUNT; t++) {
        const vlmi_kernel_table *tier = vlmi_kernels_tier((vlmi_kernel_tier)t);
        if (tier != NULL)
            bench_matmul(pool, tier->name, tier, false, VLM_DTYPE_Q8_0, "q8_0", 1, 640, 262144,
                         reps, true);
    }
    /* attention: each tier on one thread, then the chosen tier over the pool */
    for (int t = 0; t < VLMI_KERNELS_TIER_COUNT; t++) {
        const vlmi_kernel_table *tier = vlmi_kernels_tier((vlmi_kernel_tier)t);
        if (tier != NULL)
            bench_attention(NULL, tier, t != VLMI_KERNELS_REF ? reps : (reps < 3 ? reps : 1));
    }
    if (n_threads > 1)
        bench_attention(pool, vlmi_kernels(), vlmi_kernels()->tier != VLMI_KERNELS_REF
                                                  ? reps : (reps < 3 ? reps : 1));
    /* a decode token over f32, f16 and q8_0 KV caches of 1024 and 2048 positions */
    static const vlm_dtype kv_dtypes[] = {VLM_DTYPE_F32, VLM_DTYPE_F16, VLM_DTYPE_Q8_0};
    for (size_t sh = 0; sh < sizeof DECODE_SHAPES / sizeof *DECODE_SHAPES; sh++)
        for (size_t n_kv = 1024; n_kv <= 2048; n_kv *= 2)
            for (size_t d = 0; d < 3; d++)
                for (int hot = 0; hot < 2; hot++)
                    bench_decode_attention(n_threads > 1 ? pool : NULL, &DECODE_SHAPES[sh],
                                           n_kv, kv_dtypes[d], hot, reps);
    if (json) printf("\n  ]\n}\n");
    vlmi_threadpool_free(pool);
    return 0;
}
