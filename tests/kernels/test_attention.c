/* Attention of every available tier against ref (plain: causal with a query
 * offset and bidirectional, grouped-query 2:1 and 1:1; masked: window, ring,
 * blocks, softcap, rows that see nothing), at awkward sizes with misaligned
 * pointers; and the threaded entry points (vlmi_attention*, over the chosen
 * tier) bit for bit equal to the tier's one-call result for 1, 2, 3 threads.
 * Decode calls (one or a few query rows, computed by key segments) are
 * among the shapes of each part. The f16 key/value entries: in every tier (ref included) bit for bit the
 * tier's f32 result on the keys and values rounded to f16, within ATTN_TOL of
 * ref's f16 result, and identical for 1, 2, 3 threads. Q8_0 keys and values:
 * a tier's decode parts bit for bit its f32 parts on the dequantized values,
 * and vlmi_attention_masked_stored (f16 or Q8_0) the bits of
 * vlmi_attention_masked on the converted values.
 * Speed is measured by examples/vlm-bench, never here. */
#include "dispatch.h"
#include "kernels.h"
#include "test.h"

#include <stdint.h>

/* Each output is a convex combination of value rows; the tiers differ from
 * ref in the dot products' rounding (FMA), a vector exp within a few ulp of
 * expf and where the softmax normalises (streaming, at the end):
 * |tier - ref| <= ATTN_TOL * max |v|. */
#define ATTN_TOL 2e-5f
/* Inputs: queries and keys uniform in [-QK_SCALE, QK_SCALE), values in [-1, 1),
 * so that scores spread over several units and the softmax is peaked. */
#define QK_SCALE 2.0f

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static float rng_float(float scale) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((float)((uint32_t)(rng_state >> 32) >> 8) * 0x1p-24f * 2.0f - 1.0f) * scale;
}

static void fill(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = rng_float(scale);
}

/* n floats at a 4-byte (not 32-byte) aligned address */
typedef struct buf {
    void *base;
    float *p;
} buf;

static buf buf_new(size_t n, size_t offset_floats) {
    buf b;
    b.base = calloc(n + offset_floats + 16, sizeof(float));
    b.p = (float *)b.base + offset_floats;
    return b;
}

typedef struct problem {
    size_t n_q, n_kv, n_heads, n_kv_heads, head_dim;
    buf q, k, v, want, got, scores;
} problem;

static problem problem_new(size_t n_q, size_t n_kv_rows, size_t n_heads, size_t n_kv_heads,
                           size_t head_dim) {
    problem p = {.n_q = n_q, .n_kv = n_kv_rows, .n_heads = n_heads,
                 .n_kv_heads = n_kv_heads, .head_dim = head_dim};
    size_t q_n = n_q * n_heads * head_dim, kv_n = n_kv_rows * n_kv_heads * head_dim;
    p.q = buf_new(q_n, 1);
    p.k = buf_new(kv_n, 3);
    p.v = buf_new(kv_n, 5);
    p.want = buf_new(q_n, 0);
    p.got = buf_new(q_n, 7);
    p.scores = buf_new(n_kv_rows + 1, 1);
    fill(p.q.p, q_n, QK_SCALE);
    fill(p.k.p, kv_n, QK_SCALE);
    fill(p.v.p, kv_n, 1.0f);
    return p;
}

static void problem_free(problem *p) {
    free(p->q.base);
    free(p->k.base);
    free(p->v.base);
    free(p->want.base);
    free(p->got.base);
    free(p->scores.base);
}

/* got vs want within ATTN_TOL (values are at most 1 in magnitude) */
static bool compare(const problem *p, const char *what) {
    size_t n = p->n_q * p->n_heads * p->head_dim;
    for (size_t j = 0; j < n; j++) {
        float got = p->got.p[j], want = p->want.p[j];
        if (!(fabsf(got - want) <= ATTN_TOL)) {
            CHECK_MSG(false, "%s n_q %zu n_kv %zu heads %zu/%zu hd %zu: [%zu] %g vs ref %g",
                      what, p->n_q, p->n_kv, p->n_heads, p->n_kv_heads, p->head_dim, j,
                      (double)got, (double)want);
            return false;
        }
    }
    CHECK(true);
    return true;
}

static const size_t SIZES[] = {1, 7, 33, 257, 1024};
static const size_t HEAD_DIMS[] = {8, 64, 72};

static void test_plain(const vlmi_kernel_table *tier) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    for (size_t a = 0; a < sizeof SIZES / sizeof *SIZES; a++)
        for (size_t b = 0; b < sizeof SIZES / sizeof *SIZES; b++)
            for (size_t c = 0; c < sizeof HEAD_DIMS / sizeof *HEAD_DIMS; c++)
                for (size_t g = 1; g <= 2; g++) {
                    size_t n_q = SIZES[a], n_kv = SIZES[b], hd = HEAD_DIMS[c];
                    /* the largest cases once per head size, not every pairing */
                    if (n_q * n_kv > 300000 && (hd != 64 || g != 1)) continue;
                    size_t n_heads = 4, n_kv_heads = 4 / g;
                    problem p = problem_new(n_q, n_kv, n_heads, n_kv_heads, hd);
                    float scale = 1.0f / sqrtf((float)hd);
                    // bidirectional
                    ref->attention(p.want.p, p.scores.p, p.q.p, p.k.p, p.v.p, n_q, n_kv,
                                   n_heads, n_kv_heads, hd, 0, false, scale);
                    tier->attention(p.got.p, p.scores.p, p.q.p, p.k.p, p.v.p, n_q, n_kv,
                                    n_heads, n_kv_heads, hd, 0, false, scale);
                    compare(&p, "bidirectional");
                    // causal, the queries the last n_q positions of the keys
                    if (n_kv >= n_q) {
                        size_t q_pos0 = n_kv - n_q;
                        ref->attention(p.want.p, p.scores.p, p.q.p, p.k.p, p.v.p, n_q, n_kv,
                                       n_heads, n_kv_heads, hd, q_pos0, true, scale);
                        tier->attention(p.got.p, p.scores.p, p.q.p, p.k.p, p.v.p, n_q, n_kv,
                                        n_heads, n_kv_heads, hd, q_pos0, true, scale);
                        compare(&p, "causal");
                    }
                    problem_free(&p);
                }
    /* a head wider than the packed blocks (the scalar path) */
    problem p = problem_new(9, 40, 2, 1, 264);
    ref->attention(p.want.p, p.scores.p, p.q.p, p.k.p, p.v.p, 9, 40, 2, 1, 264, 31, true, 0.06f);
    tier->attention(p.got.p, p.scores.p, p.q.p, p.k.p, p.v.p, 9, 40, 2, 1, 264, 31, true, 0.06f);
    compare(&p, "causal hd 264");
    problem_free(&p);
}

static void test_masked(const vlmi_kernel_table *tier) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    size_t kv_end[300];
    for (int variant = 0; variant < 6; variant++) {
        size_t n_q = variant == 5 ? 1 : 37, n_kv = 257, hd = 72;
        size_t ring = variant == 2 ? 300 : 0;
        problem p = problem_new(n_q, ring ? ring : n_kv, 6, 3, hd);
        vlmi_attention_mask mask = {.q_pos0 = 400, .kv_pos0 = 400 + n_q - n_kv};
        switch (variant) {
        case 0: break; /* causal from kv_pos0 */
        case 1: mask.window = 100; break;
        case 2: mask.kv_ring = ring; mask.window = 129; break;
        case 3: /* blocks of 5 queries that see each other; the first rows see nothing */
            for (size_t i = 0; i < n_q; i++)
                kv_end[i] = i < 3 ? mask.kv_pos0 : mask.q_pos0 + (i / 5 + 1) * 5;
            mask.kv_end = kv_end;
            break;
        case 4: mask.softcap = 3.0f; mask.window = 60; break;
        case 5: mask.softcap = 50.0f; break; /* one decode token */
        }
        ref->attention_masked(p.want.p, p.scores.p, p.q.p, p.k.p, p.v.p, n_q, n_kv, 6, 3,
                              hd, &mask, 0.1f);
        tier->attention_masked(p.got.p, p.scores.p, p.q.p, p.k.p, p.v.p, n_q, n_kv, 6, 3,
                               hd, &mask, 0.1f);
        char what[32];
        snprintf(what, sizeof what, "masked variant %d", variant);
        compare(&p, what);
        if (variant == 3)
            for (size_t j = 0; j < 3 * 6 * hd; j++) CHECK(p.got.p[j] == 0.0f);
        problem_free(&p);
    }
}

/* Runs vlmi_attention_masked with pools of 1, 2, 3 threads: the same bits
 * every time, and the same bits as the chosen tier's one call (want), or,
 * where the call takes the BLAS path, within ATTN_TOL of it. */
static void check_threads(problem *p, vlmi_threadpool *const *pools,
                          const vlmi_attention_mask *mask, const char *what, size_t s) {
    size_t n = p->n_q * p->n_heads * p->head_dim;
    bool blas = vlmi_attention_blas_takes(mask, false, p->n_q, p->n_kv);
    float *first = malloc(n * sizeof(float));
    for (size_t t = 0; t < 3; t++) {
        fill(p->got.p, n, 9.0f);
        vlmi_attention_masked(pools[t], p->got.p, p->scores.p, p->q.p, p->k.p, p->v.p, p->n_q,
                              p->n_kv, p->n_heads, p->n_kv_heads, p->head_dim, mask, 0.125f);
        if (t == 0) memcpy(first, p->got.p, n * sizeof(float));
        CHECK_MSG(memcmp(p->got.p, blas ? first : p->want.p, n * sizeof(float)) == 0,
                  "%s shape %zu, %zu threads", what, s, t + 1);
    }
    if (blas) compare(p, what);
    free(first);
}

/* vlmi_attention / vlmi_attention_masked with 1, 2, 3 threads (check_threads). */
static void test_threads(void) {
    const vlmi_kernel_table *tier = vlmi_kernels();
    vlmi_threadpool *pools[3] = {NULL, NULL, NULL};
    for (size_t t = 0; t < 3; t++) CHECK_OK(vlmi_threadpool_create(t + 1, &pools[t]));
    static const size_t shapes[][6] = {
        /* n_q, n_kv, n_heads, n_kv_heads, head_dim, causal */
        {257, 257, 4, 4, 64, 0}, {33, 257, 4, 2, 72, 1}, {1, 1024, 9, 3, 64, 1},
        {100, 100, 12, 12, 8, 0}, {7, 33, 6, 2, 264, 1},
        /* decode by key segments: Gemma 3 270M's heads, few rows */
        {1, 1000, 4, 1, 256, 1}, {2, 600, 6, 2, 64, 1}, {1, 1, 4, 1, 256, 1},
        /* the BLAS path's edges: the fewest rows and keys it takes, one row less */
        {16, 64, 4, 2, 64, 1}, {15, 64, 4, 2, 64, 0}, {130, 200, 6, 3, 32, 1},
        /* every row sees every key (the BLAS path's 256-row shares): heads
         * of 72 and 80 (Gemma 3's and Qwen's ViTs), grouped heads */
        {70, 70, 2, 2, 72, 0}, {41, 90, 6, 2, 80, 0},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t n_q = shapes[s][0], n_kv = shapes[s][1], nh = shapes[s][2],
               nkv = shapes[s][3], hd = shapes[s][4];
        bool causal = shapes[s][5];
        size_t q_pos0 = causal ? n_kv - n_q : 0;
        problem p = problem_new(n_q, n_kv, nh, nkv, hd);
        vlmi_attention_mask plain = {.q_pos0 = causal ? q_pos0 : n_kv};
        tier->attention(p.want.p, p.scores.p, p.q.p, p.k.p, p.v.p, n_q, n_kv, nh, nkv, hd,
                        q_pos0, causal, 0.125f);
        check_threads(&p, pools, &plain, "plain", s);
        /* a window and a softcap through the masked entry */
        vlmi_attention_mask mask = {.q_pos0 = q_pos0, .window = 50, .softcap = 20.0f};
        tier->attention_masked(p.want.p, p.scores.p, p.q.p, p.k.p, p.v.p, n_q, n_kv, nh, nkv,
                               hd, &mask, 0.125f);
        check_threads(&p, pools, &mask, "masked", s);
        /* blocks of 5 queries that see each other; the first rows see nothing */
        size_t *kv_end = malloc(n_q * sizeof *kv_end);
        for (size_t i = 0; i < n_q; i++) {
            size_t e = i < 3 ? 0 : q_pos0 + (i / 5 + 1) * 5;
            kv_end[i] = e < n_kv ? e : n_kv;
        }
        vlmi_attention_mask blocks = {.q_pos0 = q_pos0, .kv_end = kv_end};
        tier->attention_masked(p.want.p, p.scores.p, p.q.p, p.k.p, p.v.p, n_q, n_kv, nh, nkv,
                               hd, &blocks, 0.125f);
        check_threads(&p, pools, &blocks, "blocks", s);
        free(kv_end);
        problem_free(&p);
    }
    for (size_t t = 0; t < 3; t++) vlmi_threadpool_free(pools[t]);
}

// ---- keys and values stored as f16 ----

/* p's keys and values rounded to f16 (kh, vh, 2-byte aligned only), and k, v
 * replaced by the rounded values in f32 (exact). */
typedef struct f16_kv {
    void *k_base, *v_base;
    uint16_t *kh, *vh;
} f16_kv;

static f16_kv f16_round(problem *p, size_t n_kv_rows) {
    size_t n = n_kv_rows * p->n_kv_heads * p->head_dim;
    f16_kv f;
    f.k_base = calloc(n + 16, sizeof(uint16_t));
    f.v_base = calloc(n + 16, sizeof(uint16_t));
    f.kh = (uint16_t *)f.k_base + 1;
    f.vh = (uint16_t *)f.v_base + 3;
    vlmi_convert_f32_to_f16(f.kh, p->k.p, n);
    vlmi_convert_f32_to_f16(f.vh, p->v.p, n);
    for (size_t j = 0; j < n; j++) {
        p->k.p[j] = vlmi_f16_to_f32(f.kh[j]);
        p->v.p[j] = vlmi_f16_to_f32(f.vh[j]);
    }
    return f;
}

static void f16_free(f16_kv *f) {
    free(f->k_base);
    free(f->v_base);
}

/* tier's f16 entry == tier's f32 entry on the rounded keys and values (bit
 * for bit), and within ATTN_TOL of ref's f16 entry */
static void check_f16(const vlmi_kernel_table *tier, problem *p, const f16_kv *f,
                      size_t n_kv, const vlmi_attention_mask *mask, float scale,
                      const char *what) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    size_t n = p->n_q * p->n_heads * p->head_dim;
    tier->attention_masked(p->want.p, p->scores.p, p->q.p, p->k.p, p->v.p, p->n_q, n_kv,
                           p->n_heads, p->n_kv_heads, p->head_dim, mask, scale);
    fill(p->got.p, n, 9.0f);
    tier->attention_masked_f16(p->got.p, p->scores.p, p->q.p, f->kh, f->vh, p->n_q, n_kv,
                               p->n_heads, p->n_kv_heads, p->head_dim, mask, scale);
    CHECK_MSG(memcmp(p->got.p, p->want.p, n * sizeof(float)) == 0,
              "%s f16 %s n_q %zu n_kv %zu heads %zu/%zu hd %zu: not the f32 result of the "
              "rounded keys", tier->name, what, p->n_q, n_kv, p->n_heads, p->n_kv_heads,
              p->head_dim);
    ref->attention_masked_f16(p->want.p, p->scores.p, p->q.p, f->kh, f->vh, p->n_q, n_kv,
                              p->n_heads, p->n_kv_heads, p->head_dim, mask, scale);
    compare(p, what);
}

static void test_f16(const vlmi_kernel_table *tier) {
    CHECK(tier->attention_masked_f16 != NULL &&
          (tier->attention_share_f16 != NULL) == (tier->attention_share != NULL));
    // causal (a query offset) and bidirectional, grouped 1:1, 2:1, 3:1
    static const size_t shapes[][5] = {
        /* n_q, n_kv, n_heads, n_kv_heads, head_dim */
        {1, 1, 4, 4, 8}, {1, 257, 9, 3, 64}, {7, 33, 4, 2, 72}, {33, 257, 6, 3, 72},
        {5, 131, 4, 1, 20}, {257, 257, 4, 4, 64}, {3, 40, 2, 1, 264}, {1, 1024, 9, 3, 64},
        {1, 700, 4, 1, 256}, {2, 600, 9, 3, 64}, {3, 300, 4, 2, 16}, {16, 513, 16, 16, 8},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        size_t n_q = shapes[i][0], n_kv = shapes[i][1], hd = shapes[i][4];
        problem p = problem_new(n_q, n_kv, shapes[i][2], shapes[i][3], hd);
        f16_kv f = f16_round(&p, n_kv);
        float scale = 1.0f / sqrtf((float)hd);
        vlmi_attention_mask causal = {.q_pos0 = n_kv - n_q};
        check_f16(tier, &p, &f, n_kv, &causal, scale, "causal");
        vlmi_attention_mask bidirectional = {.q_pos0 = n_kv};
        check_f16(tier, &p, &f, n_kv, &bidirectional, scale, "bidirectional");
        f16_free(&f);
        problem_free(&p);
    }
    // windows, a ring, blocks, softcap, one decode token
    size_t kv_end[64];
    for (int variant = 0; variant < 6; variant++) {
        size_t n_q = variant == 5 ? 1 : 37, n_kv = 257, hd = 72;
        size_t ring = variant == 2 || variant == 5 ? 300 : 0;
        problem p = problem_new(n_q, ring ? ring : n_kv, 6, 3, hd);
        f16_kv f = f16_round(&p, ring ? ring : n_kv);
        vlmi_attention_mask mask = {.q_pos0 = 400, .kv_pos0 = 400 + n_q - n_kv};
        switch (variant) {
        case 0: break;
        case 1: mask.window = 100; break;
        case 2: mask.kv_ring = ring; mask.window = 129; break;
        case 3:
            for (size_t i = 0; i < n_q; i++)
                kv_end[i] = i < 3 ? mask.kv_pos0 : mask.q_pos0 + (i / 5 + 1) * 5;
            mask.kv_end = kv_end;
            break;
        case 4: mask.softcap = 3.0f; mask.window = 60; break;
        case 5: mask.kv_ring = ring; mask.window = 200; mask.softcap = 50.0f; break;
        }
        char what[32];
        snprintf(what, sizeof what, "masked variant %d", variant);
        check_f16(tier, &p, &f, n_kv, &mask, 0.1f, what);
        f16_free(&f);
        problem_free(&p);
    }
}

/* vlmi_attention_f16 / vlmi_attention_masked_f16 with 1, 2, 3 threads: the
 * same bits as the chosen tier's one call. */
static void test_threads_f16(void) {
    const vlmi_kernel_table *tier = vlmi_kernels();
    vlmi_threadpool *pools[3] = {NULL, NULL, NULL};
    for (size_t t = 0; t < 3; t++) CHECK_OK(vlmi_threadpool_create(t + 1, &pools[t]));
    static const size_t shapes[][5] = {
        {257, 257, 4, 4, 64}, {33, 257, 4, 2, 72}, {1, 1024, 9, 3, 64}, {7, 33, 6, 2, 264},
        {64, 300, 8, 1, 256}, {1, 1000, 4, 1, 256}, {3, 520, 4, 2, 64},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t n_q = shapes[s][0], n_kv = shapes[s][1], nh = shapes[s][2],
               nkv = shapes[s][3], hd = shapes[s][4];
        problem p = problem_new(n_q, n_kv, nh, nkv, hd);
        f16_kv f = f16_round(&p, n_kv);
        size_t n = n_q * nh * hd, q_pos0 = n_kv - n_q;
        vlmi_attention_mask causal = {.q_pos0 = q_pos0};
        tier->attention_masked_f16(p.want.p, p.scores.p, p.q.p, f.kh, f.vh, n_q, n_kv, nh,
                                   nkv, hd, &causal, 0.125f);
        for (size_t t = 0; t < 3; t++) {
            fill(p.got.p, n, 9.0f);
            vlmi_attention_f16(pools[t], p.got.p, p.scores.p, p.q.p, f.kh, f.vh, n_q, n_kv, nh,
                               nkv, hd, q_pos0, true, 0.125f);
            CHECK_MSG(memcmp(p.got.p, p.want.p, n * sizeof(float)) == 0,
                      "f16 shape %zu, %zu threads", s, t + 1);
        }
        vlmi_attention_mask mask = {.q_pos0 = q_pos0, .window = 50, .softcap = 20.0f};
        tier->attention_masked_f16(p.want.p, p.scores.p, p.q.p, f.kh, f.vh, n_q, n_kv, nh, nkv,
                                   hd, &mask, 0.125f);
        for (size_t t = 0; t < 3; t++) {
            fill(p.got.p, n, 9.0f);
            vlmi_attention_masked_f16(pools[t], p.got.p, p.scores.p, p.q.p, f.kh, f.vh, n_q,
                                      n_kv, nh, nkv, hd, &mask, 0.125f);
            CHECK_MSG(memcmp(p.got.p, p.want.p, n * sizeof(float)) == 0,
                      "f16 masked shape %zu, %zu threads", s, t + 1);
        }
        f16_free(&f);
        problem_free(&p);
    }
    for (size_t t = 0; t < 3; t++) vlmi_threadpool_free(pools[t]);
}

// ---- keys and values stored as Q8_0 blocks ----

/* p's keys and values quantized to Q8_0 rows (kq, vq: 2-byte aligned only),
 * and k, v replaced by the dequantized values. */
typedef struct q8_kv {
    unsigned char *kq_base, *vq_base;
    unsigned char *kq, *vq;
} q8_kv;

static q8_kv q8_round(problem *p, size_t n_kv_rows) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    size_t kv_dim = p->n_kv_heads * p->head_dim;
    size_t row_bytes = vlmi_kernels_row_bytes(VLM_DTYPE_Q8_0, kv_dim);
    q8_kv f = {.kq_base = malloc(n_kv_rows * row_bytes + 2),
               .vq_base = malloc(n_kv_rows * row_bytes + 2)};
    f.kq = f.kq_base + 2;
    f.vq = f.vq_base + 2;
    vlmi_dequant_fn dequant = vlmi_dequant_fn_for(VLM_DTYPE_Q8_0);
    for (size_t r = 0; r < n_kv_rows; r++) {
        ref->quantize_q8_0(f.kq + r * row_bytes, p->k.p + r * kv_dim, kv_dim);
        ref->quantize_q8_0(f.vq + r * row_bytes, p->v.p + r * kv_dim, kv_dim);
        dequant(p->k.p + r * kv_dim, f.kq + r * row_bytes, kv_dim);
        dequant(p->v.p + r * kv_dim, f.vq + r * row_bytes, kv_dim);
    }
    return f;
}

static void q8_free(q8_kv *f) {
    free(f->kq_base);
    free(f->vq_base);
}

/* The decode entries of tier as parts over every segment, then reduce. */
static void decode_by_parts(const vlmi_kernel_table *tier, float *out, const problem *p,
                            const void *k, const void *v, vlm_dtype kv_dtype,
                            const vlmi_attention_mask *mask, float scale) {
    size_t s0, n_seg, part_floats = VLMI_DECODE_PART_FLOATS(p->n_q, p->n_heads, p->n_kv_heads,
                                                             p->head_dim);
    vlmi_attention_decode_segments(mask, p->n_kv, &s0, &n_seg);
    float *parts = malloc((n_seg + 1) * part_floats * sizeof(float));
    for (size_t g = 0; g < p->n_kv_heads; g++) {
        for (size_t j = 0; j < n_seg; j++) {
            size_t p0, p1;
            vlmi_attention_decode_segment(mask, p->n_kv, s0 + j, &p0, &p1);
            tier->attention_decode_part(parts + j * part_floats, p->q.p, k, v, kv_dtype, p->n_q,
                                        p->n_kv, p->n_heads, p->n_kv_heads, p->head_dim, mask,
                                        scale, g, p0, p1);
        }
        tier->attention_decode_reduce(out, parts, n_seg, p->n_q, p->n_heads, p->n_kv_heads,
                                      p->head_dim, g);
    }
    free(parts);
}

/* A tier's decode part over Q8_0 keys and values: bit for bit its f32 part
 * over the dequantized values, and within ATTN_TOL of ref's attention on them
 * (causal, window + softcap, image blocks, a ring). */
static void test_q8_decode(const vlmi_kernel_table *tier) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    static const size_t shapes[][5] = {
        /* n_q, n_kv, n_heads, n_kv_heads, head_dim: SmolVLM, Gemma 3, Qwen2.5 heads */
        {1, 1, 9, 3, 64}, {1, 300, 9, 3, 64}, {2, 600, 4, 1, 256}, {3, 257, 4, 2, 32},
        {1, 1000, 28, 4, 128},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t n_q = shapes[s][0], n_kv = shapes[s][1], nh = shapes[s][2],
               nkv = shapes[s][3], hd = shapes[s][4];
        if (!vlmi_attention_is_decode(n_q, nh, nkv, hd)) continue;
        size_t ring = s == 1 ? 256 : 0; /* a sliding layer's ring, wrapped */
        problem p = problem_new(n_q, n_kv, nh, nkv, hd);
        q8_kv f = q8_round(&p, n_kv);
        size_t n = n_q * nh * hd, q_pos0 = n_kv - n_q;
        size_t *kv_end = malloc(n_q * sizeof *kv_end);
        for (size_t i = 0; i < n_q; i++) kv_end[i] = n_kv;
        vlmi_attention_mask masks[4] = {
            {.q_pos0 = q_pos0},
            {.q_pos0 = q_pos0, .window = 50, .softcap = 20.0f},
            {.q_pos0 = q_pos0, .kv_end = kv_end},
            {.q_pos0 = q_pos0, .window = ring, .kv_ring = ring,
             .kv_pos0 = n_kv > ring ? n_kv - ring : 0},
        };
        for (size_t m = 0; m < (ring ? 4u : 3u); m++) {
            const vlmi_attention_mask *mask = &masks[m];
            size_t visible_kv = mask->kv_ring ? (n_kv < ring ? n_kv : ring) : n_kv;
            problem view = p;
            view.n_kv = visible_kv;
            decode_by_parts(tier, p.want.p, &view, p.k.p, p.v.p, VLM_DTYPE_F32, mask, 0.125f);
            fill(p.got.p, n, 9.0f);
            decode_by_parts(tier, p.got.p, &view, f.kq, f.vq, VLM_DTYPE_Q8_0, mask, 0.125f);
            CHECK_MSG(memcmp(p.got.p, p.want.p, n * sizeof(float)) == 0,
                      "%s q8_0 decode shape %zu mask %zu: not the f32 result of the "
                      "dequantized values", tier->name, s, m);
            ref->attention_masked(p.want.p, p.scores.p, p.q.p, p.k.p, p.v.p, n_q, visible_kv,
                                  nh, nkv, hd, mask, 0.125f);
            compare(&view, "q8_0 decode vs ref");
        }
        free(kv_end);
        q8_free(&f);
        problem_free(&p);
    }
}

/* vlmi_attention_masked_stored over f16 and Q8_0, with no pool and 1, 2, 3
 * threads: the same bits as vlmi_attention_masked over the converted values
 * (decode calls read the stored values in place, others convert them into
 * the staging, or, f16 without BLAS, read them in place too). */
static void test_threads_stored(void) {
    vlmi_threadpool *pools[4] = {NULL, NULL, NULL, NULL};
    for (size_t t = 1; t < 4; t++) CHECK_OK(vlmi_threadpool_create(t, &pools[t]));
    static const size_t shapes[][5] = {
        {1, 1000, 9, 3, 64}, {2, 600, 4, 1, 256}, {1, 1, 4, 1, 32}, {64, 300, 8, 1, 256},
        {33, 257, 4, 2, 96}, {9, 100, 4, 2, 64},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int q8 = 0; q8 < 2; q8++) {
            size_t n_q = shapes[s][0], n_kv = shapes[s][1], nh = shapes[s][2],
                   nkv = shapes[s][3], hd = shapes[s][4];
            problem p = problem_new(n_q, n_kv, nh, nkv, hd);
            f16_kv h = {0};
            q8_kv f = {0};
            if (q8) f = q8_round(&p, n_kv);
            else h = f16_round(&p, n_kv);
            const void *k = q8 ? (const void *)f.kq : (const void *)h.kh;
            const void *v = q8 ? (const void *)f.vq : (const void *)h.vh;
            vlm_dtype dtype = q8 ? VLM_DTYPE_Q8_0 : VLM_DTYPE_F16;
            size_t n = n_q * nh * hd, q_pos0 = n_kv - n_q;
            float *staging = malloc(2 * n_kv * nkv * hd * sizeof(float));
            vlmi_attention_mask masks[2] = {{.q_pos0 = q_pos0},
                                            {.q_pos0 = q_pos0, .window = 50, .softcap = 20.0f}};
            for (size_t m = 0; m < 2; m++)
                for (size_t t = 0; t < 4; t++) {
                    vlmi_attention_masked(pools[t], p.want.p, p.scores.p, p.q.p, p.k.p, p.v.p,
                                          n_q, n_kv, nh, nkv, hd, &masks[m], 0.125f);
                    fill(p.got.p, n, 9.0f);
                    vlmi_attention_masked_stored(pools[t], p.got.p, p.scores.p, p.q.p, k, v, dtype,
                                                 staging, n_q, n_kv, nh, nkv, hd, &masks[m],
                                                 0.125f);
                    CHECK_MSG(memcmp(p.got.p, p.want.p, n * sizeof(float)) == 0,
                              "stored %s shape %zu mask %zu, %zu threads", q8 ? "q8_0" : "f16",
                              s, m, t);
                }
            free(staging);
            if (q8) q8_free(&f);
            else f16_free(&h);
            problem_free(&p);
        }
    for (size_t t = 1; t < 4; t++) vlmi_threadpool_free(pools[t]);
}

int main(void) {
    printf("chosen tier %s\n", vlmi_kernels_name());
    for (int t = 0; t < VLMI_KERNELS_TIER_COUNT; t++) {
        const vlmi_kernel_table *tier = vlmi_kernels_tier((vlmi_kernel_tier)t);
        if (tier == NULL) continue;
        printf("tier %s\n", tier->name);
        test_f16(tier);
        if (tier->attention_decode_part != NULL) test_q8_decode(tier);
        /* a tier that takes ref's f32 attention (NEON) has nothing more to compare */
        const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
        if (t == VLMI_KERNELS_REF || (tier->attention == ref->attention &&
                                      tier->attention_masked == ref->attention_masked))
            continue;
        test_plain(tier);
        test_masked(tier);
    }
    test_threads();
    test_threads_f16();
    test_threads_stored();
    return test_finish("attention");
}
