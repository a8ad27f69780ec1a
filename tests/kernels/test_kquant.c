/* Q4_K / Q6_K matrix products: the Q8_K activation quantizer (bytes equal in
 * every tier, round trip within its bound), the ref integer formulation
 * against the dequantizing specification, every tier's matmul and
 * matmul_q8 against ref at k = 256, 512, 768 and m, n in {0, 1, 7, 33} with
 * misaligned inputs and strided outputs, one x row identical to the same
 * row among many, and the threaded vlmi_matmul identical for 1, 2, 3
 * threads. Weights are random bytes with random signed
 * f16 scales (negative minimums included) and every 6-bit / int8 scale.
 * Built also for aarch64 and run under qemu by cross/run-kernel-tests.sh,
 * where the neon tier's int8 instruction sets are compared with each other. */
#include "dispatch.h"
#include "kernels.h"
#include "test.h"
#include "neon_int8_sets.h"

#include <stdint.h>

/* f32 rounding, relative to sum |x| * |w|mag over k, where |w|mag bounds
 * every term of the dequantization (Q4_K: |d sc q| + |dmin m|, which can be
 * much larger than |w| when the two cancel): the sums run in other orders
 * and the integer block sums pass through f32 once. */
#define KQ_REL_TOL 1e-5f
#define KQ_BIAS_REL_TOL 1e-6f
/* Q8_K moves an element by at most amax / 254 (1 + 2^-22) + amax 2^-23
 * (ref/kquant.h), so a quantizing tier may differ from ref's matmul by
 * sum over super-blocks b of amax_b(x) * KQ_ELEMENT_ERROR * sum_b |w|. */
#define KQ_ELEMENT_ERROR (1.0f / 254.0f + 0x1p-20f)

static const vlm_dtype KQ_DTYPES[] = {VLM_DTYPE_Q4_K, VLM_DTYPE_Q6_K};

static float worst_quant_ratio; /* max |tier - ref| / bound seen, for the log */
static float worst_q8_ratio;    /* max |tier - ref| / tol of matmul_q8 */
static double err_sq, ref_sq;   /* quantizing tiers: sum (tier - ref)^2, sum ref^2 */

// ---- inputs ----

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint32_t rng_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* uniform in [-scale, scale) */
static float rng_float(float scale) {
    return ((float)(rng_u32() >> 8) * 0x1p-24f * 2.0f - 1.0f) * scale;
}

static void fill(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = rng_float(scale);
}

static void *alloc_misaligned(size_t bytes, size_t offset, void **base) {
    *base = calloc(1, bytes + offset + 64);
    return (unsigned char *)*base + offset;
}

static const char *dtype_name(vlm_dtype dtype) {
    return dtype == VLM_DTYPE_Q4_K ? "q4_k" : "q6_k";
}

static bool close_enough(float got, float want, float tol) {
    return fabsf(got - want) <= tol; /* false for NaN */
}

static void store_f16(unsigned char *p, float f) {
    uint16_t h = vlmi_f32_to_f16(f);
    memcpy(p, &h, 2);
}

/* A random (n, k) weight: random bytes, then random signed f16 scales
 * (Q4_K: d and dmin each of either sign; Q6_K: d). w_f32 gets the exact
 * dequantized values, w_mag the magnitude bound of each (see KQ_REL_TOL). */
static void make_weight(unsigned char *w, float *w_f32, float *w_mag, vlm_dtype dtype,
                        size_t n, size_t k) {
    size_t count = n * k, bb = vlmi_kernels_row_bytes(dtype, VLMI_QK_K);
    size_t n_blocks = count / VLMI_QK_K;
    for (size_t i = 0; i < n_blocks * bb; i++) w[i] = (unsigned char)rng_u32();
    for (size_t b = 0; b < n_blocks; b++) {
        unsigned char *block = w + b * bb;
        if (dtype == VLM_DTYPE_Q4_K) {
            store_f16(block, rng_float(0.01f));
            store_f16(block + 2, rng_float(0.02f));
        } else {
            store_f16(block + 208, rng_float(0.002f));
        }
    }
    vlmi_dequant_fn_for(dtype)(w_f32, w, count);
    if (dtype == VLM_DTYPE_Q6_K) {
        for (size_t i = 0; i < count; i++) w_mag[i] = fabsf(w_f32[i]);
        return;
    }
    /* |d| sc q + |dmin| m: the same block with d >= 0 and dmin <= 0 */
    unsigned char *pos = malloc(n_blocks * bb + 1);
    memcpy(pos, w, n_blocks * bb);
    for (size_t b = 0; b < n_blocks; b++) {
        pos[b * bb + 1] &= 0x7f;
        pos[b * bb + 3] |= 0x80;
    }
    vlmi_dequant_q4_k(w_mag, pos, count);
    free(pos);
}

/* The values a Q8_K row stands for: d * q. */
static void dequant_q8_k(float *y, const unsigned char *xq, size_t n) {
    for (size_t b = 0; b < n / VLMI_QK_K; b++) {
        const unsigned char *block = xq + b * VLMI_Q8_K_BLOCK_BYTES;
        float d;
        memcpy(&d, block, 4);
        for (size_t l = 0; l < VLMI_QK_K; l++)
            y[b * VLMI_QK_K + l] = d * (float)(int8_t)block[4 + l];
    }
}

// ---- the activation quantizer ----

static void test_quantize_q8_k(const vlmi_kernel_table *tier) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    enum { N_BLOCKS = 6, N = 256 * N_BLOCKS };
    static float x[N], back[N];
    static unsigned char want[N_BLOCKS * VLMI_Q8_K_BLOCK_BYTES],
        got[N_BLOCKS * VLMI_Q8_K_BLOCK_BYTES + 1];
    fill(x, N, 3.0f);
    for (size_t i = 256; i < 512; i++) x[i] = 0.0f;               /* a zero block */
    x[512] = -127.0f;                                             /* d = 1: ties */
    for (size_t i = 513; i < 768; i++) x[i] = (float)((int)(i % 200) - 100) + 0.5f;
    x[768] = 1e-30f;                                              /* tiny scale */
    for (size_t i = 769; i < 1024; i++) x[i] = -1e-31f * (float)(i % 11);
    for (size_t i = 1024; i < 1280; i++) x[i] = 1e4f * rng_float(1.0f); /* large */
    ref->quantize_q8_k(want, x, N);
    tier->quantize_q8_k(got + 1, x, N); /* misaligned output */
    CHECK_MSG(memcmp(want, got + 1, sizeof want) == 0, "%s quantize_q8_k differs from ref",
              tier->name);
    if (tier->tier != VLMI_KERNELS_REF) return;

    /* ref itself: layout, sums, ties to even, the round-trip bound */
    dequant_q8_k(back, want, N);
    float worst = 0.0f;
    for (size_t b = 0; b < N_BLOCKS; b++) {
        const unsigned char *block = want + b * VLMI_Q8_K_BLOCK_BYTES;
        float amax = 0.0f;
        for (size_t l = 0; l < 256; l++) amax = fmaxf(amax, fabsf(x[b * 256 + l]));
        for (size_t l = 0; l < 256; l++) {
            int q = (int8_t)block[4 + l];
            CHECK_MSG(q >= -127 && q <= 127, "block %zu: q %d", b, q);
            float err = fabsf(back[b * 256 + l] - x[b * 256 + l]);
            CHECK_MSG(err <= amax * KQ_ELEMENT_ERROR, "block %zu [%zu]: %g -> %g", b, l,
                      x[b * 256 + l], back[b * 256 + l]);
            if (amax > 0.0f) worst = fmaxf(worst, err / amax);
        }
        for (size_t g = 0; g < 16; g++) {
            int sum = 0;
            for (size_t l = 0; l < 16; l++) sum += (int8_t)block[4 + 16 * g + l];
            int16_t stored;
            memcpy(&stored, block + 260 + 2 * g, 2);
            CHECK_MSG(stored == sum, "block %zu bsums[%zu] %d vs %d", b, g, stored, sum);
        }
    }
    const unsigned char *zero = want + VLMI_Q8_K_BLOCK_BYTES, *ties = want + 2 * VLMI_Q8_K_BLOCK_BYTES;
    float d;
    memcpy(&d, zero, 4);
    CHECK(d == 0.0f && zero[4] == 0 && zero[259] == 0);
    memcpy(&d, ties, 4);
    CHECK(d == 1.0f && (int8_t)ties[4] == -127);
    /* x = i % 200 - 100 + 0.5: 513 -> 13.5 -> 14, 514 -> 14.5 -> 14, 600 -> -99.5 -> -100 */
    CHECK((int8_t)ties[4 + 1] == 14 && (int8_t)ties[4 + 2] == 14 && (int8_t)ties[4 + 88] == -100);
    printf("q8_k round trip: max |error| / amax = %.6f (bound %.6f)\n", worst,
           KQ_ELEMENT_ERROR);
    ref->quantize_q8_k(got, x, 0); /* n = 0 writes nothing */
}

// ---- matmul ----

/* One matmul shape through `tier` and ref; out rows strided with a sentinel
 * gap that must stay untouched. */
static void check_matmul(const vlmi_kernel_table *tier, vlm_dtype dtype, size_t m, size_t k,
                         size_t n, bool with_bias, size_t misalign) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    const size_t gap = 3;
    const float sentinel = 1234.5f;
    size_t out_stride = n + gap;
    void *w_base, *x_base, *out_base;
    unsigned char *w = alloc_misaligned(vlmi_kernels_row_bytes(dtype, k) * n + 1, misalign, &w_base);
    float *w_f32 = malloc((n * k + 1) * sizeof(float)), *w_mag = malloc((n * k + 1) * sizeof(float));
    float *x = alloc_misaligned((m * k + 1) * sizeof(float), misalign ? 4 : 0, &x_base);
    float *bias = malloc((n + 1) * sizeof(float));
    float *want = malloc((m * n + 1) * sizeof(float));
    float *got = alloc_misaligned((m * out_stride + 1) * sizeof(float), misalign ? 4 : 0, &out_base);
    make_weight(w, w_f32, w_mag, dtype, n, k);
    fill(x, m * k, 2.0f);
    fill(bias, n, 1.0f);
    for (size_t i = 0; i < m * out_stride; i++) got[i] = sentinel;

    const float *b = with_bias ? bias : NULL;
    ref->matmul(want, n, x, w, dtype, b, m, k, n);
    tier->matmul(got, out_stride, x, w, dtype, b, m, k, n);

    int bad = 0;
    for (size_t i = 0; i < m && bad < 3; i++) {
        for (size_t j = 0; j < n && bad < 3; j++) {
            float magnitude = 0.0f, quant_bound = 0.0f;
            for (size_t blk = 0; blk < k / VLMI_QK_K; blk++) {
                float amax = 0.0f, w_abs = 0.0f;
                for (size_t l = blk * VLMI_QK_K; l < (blk + 1) * VLMI_QK_K; l++) {
                    magnitude += fabsf(x[i * k + l]) * w_mag[j * k + l];
                    amax = fmaxf(amax, fabsf(x[i * k + l]));
                    w_abs += fabsf(w_f32[j * k + l]);
                }
                quant_bound += amax * KQ_ELEMENT_ERROR * w_abs;
            }
            float tol = KQ_REL_TOL * magnitude + (b ? KQ_BIAS_REL_TOL * fabsf(b[j]) : 0.0f);
            if (tier->quantizes_activations) tol += quant_bound;
            float g = got[i * out_stride + j], r = want[i * n + j];
            if (tier->quantizes_activations && quant_bound > 0.0f) {
                worst_quant_ratio = fmaxf(worst_quant_ratio, fabsf(g - r) / quant_bound);
                err_sq += (double)(g - r) * (g - r);
                ref_sq += (double)r * r;
            }
            if (!close_enough(g, r, tol)) {
                bad++;
                CHECK_MSG(0, "%s matmul %s m=%zu k=%zu n=%zu [%zu,%zu]: %g vs ref %g (tol %g)",
                          tier->name, dtype_name(dtype), m, k, n, i, j, g, r, tol);
            }
        }
        for (size_t j = n; j < out_stride && i + 1 < m; j++)
            if (got[i * out_stride + j] != sentinel) {
                bad++;
                CHECK_MSG(0, "%s matmul %s wrote into the stride gap", tier->name,
                          dtype_name(dtype));
                break;
            }
    }
    test_checks++;

    /* a quantizing tier's matmul is its quantize_q8_k + matmul_q8, exactly
     * (rows of at most 112 blocks: longer ones are summed in slabs) */
    if (tier->quantizes_activations && m > 0 && k / VLMI_QK_K <= 112) {
        size_t xq_row = k / VLMI_QK_K * VLMI_Q8_K_BLOCK_BYTES;
        unsigned char *xq = malloc(m * xq_row + 1);
        float *two = malloc((m * n + 1) * sizeof(float));
        for (size_t i = 0; i < m; i++) tier->quantize_q8_k(xq + i * xq_row, x + i * k, k);
        tier->matmul_q8(two, n, xq, w, dtype, b, m, k, n);
        bool same = true;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) same = same && two[i * n + j] == got[i * out_stride + j];
        CHECK_MSG(same, "%s matmul %s m=%zu k=%zu n=%zu: not quantize_q8_k + matmul_q8",
                  tier->name, dtype_name(dtype), m, k, n);
        free(xq);
        free(two);
    }
    free(w_base);
    free(w_f32);
    free(w_mag);
    free(x_base);
    free(bias);
    free(want);
    free(out_base);
}

static void test_matmul(const vlmi_kernel_table *tier) {
    const size_t ks[] = {256, 512, 768};
    const size_t mns[] = {0, 1, 7, 33};
    for (size_t d = 0; d < 2; d++) {
        for (size_t a = 0; a < 4; a++)
            for (size_t b = 0; b < 3; b++)
                for (size_t c = 0; c < 4; c++)
                    check_matmul(tier, KQ_DTYPES[d], mns[a], ks[b], mns[c], (a + c) % 2 == 0,
                                 (b + c) % 3);
        /* more than one cache block of x rows (64), and a long row that the
         * on-the-fly quantization splits into slabs */
        check_matmul(tier, KQ_DTYPES[d], 70, 256, 5, true, 1);
        check_matmul(tier, KQ_DTYPES[d], 2, 113 * 256, 3, false, 2);
    }
}

/* matmul_q8 on pre-quantized rows: the ref integer formulation against the
 * dequantizing specification (both over the values x's Q8_K stands for),
 * then every tier's against ref's */
static void test_matmul_q8(const vlmi_kernel_table *tier) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    const size_t shapes[][3] = {{1, 256, 1}, {1, 768, 7}, {7, 512, 33}, {33, 256, 7}, {5, 1024, 70},
                                /* rows 2, 3, 5: whole and partial tiles of x rows */
                                {2, 256, 3}, {3, 512, 5}, {5, 256, 2}};
    for (size_t d = 0; d < 2; d++) {
        vlm_dtype dtype = KQ_DTYPES[d];
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            size_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
            size_t x_row = k / VLMI_QK_K * VLMI_Q8_K_BLOCK_BYTES;
            void *w_base;
            unsigned char *w = alloc_misaligned(vlmi_kernels_row_bytes(dtype, k) * n, s % 3, &w_base);
            float *w_f32 = malloc(n * k * sizeof(float)), *w_mag = malloc(n * k * sizeof(float));
            float *x = malloc(m * k * sizeof(float)), *x_deq = malloc(m * k * sizeof(float));
            unsigned char *xq = malloc(m * x_row + 1);
            float *want = malloc(m * n * sizeof(float)), *got = malloc(m * n * sizeof(float));
            float *spec = malloc(m * n * sizeof(float));
            make_weight(w, w_f32, w_mag, dtype, n, k);
            fill(x, m * k, 2.0f);
            for (size_t i = 0; i < m; i++) ref->quantize_q8_k(xq + 1 + i * x_row, x + i * k, k);
            dequant_q8_k(x_deq, xq + 1, m * k);
            ref->matmul_q8(want, n, xq + 1, w, dtype, NULL, m, k, n);
            tier->matmul_q8(got, n, xq + 1, w, dtype, NULL, m, k, n);
            ref->matmul(spec, n, x_deq, w, dtype, NULL, m, k, n);
#if defined(__aarch64__)
            if (tier->tier == VLMI_KERNELS_NEON)
                check_neon_int8_sets(got, xq + 1, w, dtype, NULL, m, k, n);
#endif
            int bad = 0;
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n && bad < 3; j++) {
                    float magnitude = 0.0f;
                    for (size_t l = 0; l < k; l++) magnitude += fabsf(x_deq[i * k + l]) * w_mag[j * k + l];
                    float tol = KQ_REL_TOL * magnitude;
                    float g = got[i * n + j], r = want[i * n + j];
                    if (tol > 0.0f) worst_q8_ratio = fmaxf(worst_q8_ratio, fabsf(g - r) / tol);
                    if (!close_enough(g, r, tol)) {
                        bad++;
                        CHECK_MSG(0, "%s matmul_q8 %s m=%zu k=%zu n=%zu: %g vs ref %g",
                                  tier->name, dtype_name(dtype), m, k, n, g, r);
                    }
                    if (tier->tier == VLMI_KERNELS_REF && !close_enough(r, spec[i * n + j], tol)) {
                        bad++;
                        CHECK_MSG(0, "ref matmul_q8 %s m=%zu k=%zu n=%zu: %g vs dequantized %g",
                                  dtype_name(dtype), m, k, n, r, spec[i * n + j]);
                    }
                }
            test_checks++;
            free(w_base);
            free(w_f32);
            free(w_mag);
            free(x);
            free(x_deq);
            free(xq);
            free(want);
            free(got);
            free(spec);
        }
    }
}

/* One x row (the decode path: weight rows in tiles of several, streamed)
 * gives the same bytes as that row inside a product of many (x rows in
 * tiles), for n not a multiple of either tile and misaligned inputs: every
 * output is made by the same operations whatever the tile. */
static void test_one_row_as_many(const vlmi_kernel_table *tier) {
    const size_t ks[] = {256, 512, 1024};
    const size_t ns[] = {1, 2, 3, 5, 8, 17};
    enum { M = 6 };
    for (size_t d = 0; d < 2; d++) {
        vlm_dtype dtype = KQ_DTYPES[d];
        for (size_t a = 0; a < sizeof ks / sizeof *ks; a++)
            for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
                size_t k = ks[a], n = ns[c], x_row = k / VLMI_QK_K * VLMI_Q8_K_BLOCK_BYTES;
                void *w_base, *xq_base;
                unsigned char *w = alloc_misaligned(vlmi_kernels_row_bytes(dtype, k) * n, 1 + c % 3, &w_base);
                unsigned char *xq = alloc_misaligned(M * x_row, 3 - c % 3, &xq_base);
                float *w_f32 = malloc(n * k * sizeof(float)), *w_mag = malloc(n * k * sizeof(float));
                float *x = malloc(M * k * sizeof(float)), *bias = malloc(n * sizeof(float));
                float *many = malloc(M * n * sizeof(float)), *one = malloc(n * sizeof(float));
                make_weight(w, w_f32, w_mag, dtype, n, k);
                fill(x, M * k, 2.0f);
                fill(bias, n, 1.0f);
                for (size_t i = 0; i < M; i++) tier->quantize_q8_k(xq + i * x_row, x + i * k, k);
                tier->matmul_q8(many, n, xq, w, dtype, bias, M, k, n);
                bool same = true;
                for (size_t i = 0; i < M; i++) {
                    tier->matmul_q8(one, n, xq + i * x_row, w, dtype, bias, 1, k, n);
                    same = same && memcmp(one, many + i * n, n * sizeof(float)) == 0;
                }
                CHECK_MSG(same, "%s %s k=%zu n=%zu: one x row differs from the same row of %d",
                          tier->name, dtype_name(dtype), k, n, M);
                free(w_base);
                free(xq_base);
                free(w_f32);
                free(w_mag);
                free(x);
                free(bias);
                free(many);
                free(one);
            }
    }
}

// ---- threads, weight rows, the dtype list ----

/* vlmi_matmul (the chosen tier) on pools of 1..3 threads and on no pool
 * (x quantized on the fly instead of in the pool's scratch): the same bytes */
static void test_matmul_threads(vlm_dtype dtype, size_t m, size_t k, size_t n) {
    unsigned char *w = malloc(vlmi_kernels_row_bytes(dtype, k) * n);
    float *w_f32 = malloc(n * k * sizeof(float)), *w_mag = malloc(n * k * sizeof(float));
    float *x = malloc(m * k * sizeof(float)), *bias = malloc(n * sizeof(float));
    float *first = malloc(m * n * sizeof(float)), *out = malloc(m * n * sizeof(float));
    make_weight(w, w_f32, w_mag, dtype, n, k);
    fill(x, m * k, 1.0f);
    fill(bias, n, 1.0f);
    vlmi_matmul(NULL, first, x, w, dtype, bias, m, k, n);
    for (size_t t = 1; t <= 3; t++) {
        vlmi_threadpool *pool = NULL;
        CHECK_OK(vlmi_threadpool_create(t, &pool));
        memset(out, 0, m * n * sizeof(float));
        vlmi_matmul(pool, out, x, w, dtype, bias, m, k, n);
        CHECK_MSG(memcmp(out, first, m * n * sizeof(float)) == 0,
                  "%s %s m=%zu k=%zu n=%zu: %zu threads differ from one", vlmi_kernels_name(),
                  dtype_name(dtype), m, k, n, t);
        vlmi_threadpool_free(pool);
    }
    free(w);
    free(w_f32);
    free(w_mag);
    free(x);
    free(bias);
    free(first);
    free(out);
}

/* Many rows (BLAS in a build that has one: weights dequantized to f32 chunk
 * by chunk in the pool's scratch): pools of 1..3 threads give the same
 * bytes, within KQ_REL_TOL of ref (exact dequantization) there. */
static void test_matmul_many_rows(vlm_dtype dtype, size_t m, size_t k, size_t n) {
    unsigned char *w = malloc(vlmi_kernels_row_bytes(dtype, k) * n);
    float *w_f32 = malloc(n * k * sizeof(float)), *w_mag = malloc(n * k * sizeof(float));
    float *x = malloc(m * k * sizeof(float)), *want = malloc(m * n * sizeof(float));
    float *first = malloc(m * n * sizeof(float)), *out = malloc(m * n * sizeof(float));
    make_weight(w, w_f32, w_mag, dtype, n, k);
    fill(x, m * k, 1.0f);
    vlmi_kernels_tier(VLMI_KERNELS_REF)->matmul(want, n, x, w, dtype, NULL, m, k, n);
    for (size_t t = 1; t <= 3; t++) {
        vlmi_threadpool *pool = NULL;
        CHECK_OK(vlmi_threadpool_create(t, &pool));
        float *got = t == 1 ? first : out;
        vlmi_matmul(pool, got, x, w, dtype, NULL, m, k, n);
        CHECK_MSG(t == 1 || memcmp(got, first, m * n * sizeof(float)) == 0,
                  "%s m=%zu k=%zu n=%zu: %zu threads differ from one", dtype_name(dtype), m,
                  k, n, t);
        vlmi_threadpool_free(pool);
    }
    if (vlmi_blas_available() && vlmi_kernels()->tier != VLMI_KERNELS_REF) {
        int bad = 0;
        for (size_t i = 0; i < m && bad < 3; i++)
            for (size_t j = 0; j < n && bad < 3; j++) {
                float magnitude = 0.0f;
                for (size_t l = 0; l < k; l++) magnitude += fabsf(x[i * k + l]) * w_mag[j * k + l];
                if (!(fabsf(first[i * n + j] - want[i * n + j]) <= KQ_REL_TOL * magnitude)) {
                    bad++;
                    CHECK_MSG(0, "%s m=%zu: [%zu,%zu] %g vs ref %g", dtype_name(dtype), m, i, j,
                              (double)first[i * n + j], (double)want[i * n + j]);
                }
            }
        test_checks++;
    }
    free(w);
    free(w_f32);
    free(w_mag);
    free(x);
    free(want);
    free(first);
    free(out);
}

static void test_weight_rows(void) {
    for (size_t d = 0; d < 2; d++) {
        vlm_dtype dtype = KQ_DTYPES[d];
        size_t n = 3, k = 512;
        unsigned char *w = malloc(vlmi_kernels_row_bytes(dtype, k) * n);
        float *w_f32 = malloc(n * k * sizeof(float)), *w_mag = malloc(n * k * sizeof(float));
        float row[512];
        make_weight(w, w_f32, w_mag, dtype, n, k);
        vlmi_ref_weight_row(row, w, dtype, 2, k);
        CHECK_MSG(memcmp(row, w_f32 + 2 * k, sizeof row) == 0, "%s weight row",
                  dtype_name(dtype));
        free(w);
        free(w_f32);
        free(w_mag);
    }
    CHECK(vlmi_ref_weight_dtype_supported(VLM_DTYPE_Q4_K));
    CHECK(vlmi_ref_weight_dtype_supported(VLM_DTYPE_Q6_K));
    CHECK(!vlmi_ref_weight_dtype_supported(VLM_DTYPE_Q5_K));
    CHECK(vlmi_kernels_weight_dtype_supported(VLM_DTYPE_Q4_K));
    CHECK(vlmi_kernels_weight_dtype_supported(VLM_DTYPE_Q6_K));
    CHECK(!vlmi_kernels_weight_dtype_supported(VLM_DTYPE_Q8_K));
    CHECK(vlmi_kernels_row_bytes(VLM_DTYPE_Q4_K, 512) == 288);
    CHECK(vlmi_kernels_row_bytes(VLM_DTYPE_Q6_K, 768) == 630);
}

int main(void) {
    test_weight_rows();
    for (int t = 0; t < VLMI_KERNELS_TIER_COUNT; t++) {
        const vlmi_kernel_table *tier = vlmi_kernels_tier((vlmi_kernel_tier)t);
        if (tier == NULL) continue;
        printf("tier %s", tier->name);
        if (tier->int8_variant != NULL) printf(" (int8: %s)", tier->int8_variant);
        printf("\n");
        CHECK(tier->quantize_q8_k != NULL);
        test_quantize_q8_k(tier);
        test_matmul_q8(tier);
        test_matmul(tier);
        test_one_row_as_many(tier);
    }
    for (size_t d = 0; d < 2; d++) {
        test_matmul_threads(KQ_DTYPES[d], 1, 768, 133);
        test_matmul_threads(KQ_DTYPES[d], 5, 512, 70);
        test_matmul_threads(KQ_DTYPES[d], 40, 256, 200);
        test_matmul_many_rows(KQ_DTYPES[d], 257, 256, 600);
    }
    printf("matmul vs ref, quantizing tiers: max |error| / bound = %.4f, "
           "rms error / rms ref = %.2e\n", worst_quant_ratio,
           ref_sq > 0 ? sqrt(err_sq / ref_sq) : 0.0);
    printf("matmul_q8 vs ref: max |error| / (KQ_REL_TOL sum |x| |w|mag) = %.4f\n",
           worst_q8_ratio);
    return test_finish("kquant");
}
