/* Every kernel of every available tier against the ref tier, on random
 * inputs at awkward sizes (0, 1, non-multiples of 4, 8 and 32, more than one
 * cache block), misaligned pointers and strided outputs.
 *
 * Float paths are compared with tolerances relative to the magnitudes
 * involved (the summation order differs); quantizing activations must give
 * the same bytes in every tier; the quantized-activation matmul is held to
 * the bound its 8-bit rounding implies (QUANT_BOUND below) and, in a tier
 * that quantizes, equals its quantize_q8_0 + matmul_q8 bit for bit. Built
 * also for aarch64 and run under qemu by cross/run-kernel-tests.sh, where
 * the neon tier's int8 instruction sets are compared with each other. */
#include "dispatch.h"
#include "kernels.h"
#include "test.h"
#include "neon_int8_sets.h"

#include <stdint.h>

/* |tier - ref| <= MATMUL_REL_TOL * sum |x w| + BIAS_REL_TOL * |bias|:
 * f32 sums over k in a different order; k is at most a few thousand. */
#ifndef MATMUL_REL_TOL
#define MATMUL_REL_TOL 1e-5f
#endif
#define BIAS_REL_TOL 1e-6f
/* Norms: |tier - ref| <= NORM_TOL * (1 + |ref|) */
#define NORM_TOL 2e-5f
/* Activations and softmax: the vector exp is within a few ulp of expf:
 * |tier - ref| <= ACT_REL_TOL * |ref| + ACT_ABS_TOL * (1 + |x|) */
#ifndef ACT_REL_TOL
#define ACT_REL_TOL 1e-5f
#define ACT_ABS_TOL 1e-6f
#endif
/* Quantizing a block of x with scale d = amax / 127 moves each element by at
 * most d / 2 = amax / 254, and storing d as f16 by at most amax * 2^-11 more:
 * QUANT_BOUND = sum over blocks of amax_b(x) * (1/254 + 2^-10) * sum_b |w|. */
#ifndef QUANT_ELEMENT_ERROR
#define QUANT_ELEMENT_ERROR (1.0f / 254.0f + 1.0f / 1024.0f)
#endif

// ---- inputs ----

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

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

/* A buffer of `bytes`, plus room to misalign it by `offset` bytes. */
static void *alloc_misaligned(size_t bytes, size_t offset, void **base) {
    *base = calloc(1, bytes + offset + 64);
    return (unsigned char *)*base + offset;
}

static const char *dtype_name(vlm_dtype dtype) {
    switch (dtype) {
    case VLM_DTYPE_F32: return "f32";
    case VLM_DTYPE_F16: return "f16";
    case VLM_DTYPE_BF16: return "bf16";
    case VLM_DTYPE_Q8_0: return "q8_0";
    case VLM_DTYPE_Q4_0: return "q4_0";
    case VLM_DTYPE_Q5_0: return "q5_0";
    default: return "?";
    }
}

static bool close_enough(float got, float want, float tol) {
    return fabsf(got - want) <= tol; /* false for NaN */
}

static const vlm_dtype FLOAT_DTYPES[] = {VLM_DTYPE_F32, VLM_DTYPE_F16, VLM_DTYPE_BF16};
static const vlm_dtype QUANT_DTYPES[] = {VLM_DTYPE_Q8_0, VLM_DTYPE_Q4_0, VLM_DTYPE_Q5_0};

/* A random (n, k) weight of dtype: floats in [-1, 1) converted, or quantized
 * blocks with random scales and every code (Q8_0 includes -128). dequant
 * receives the exact f32 values. */
static void make_weight(void *w, float *dequant, vlm_dtype dtype, size_t n, size_t k) {
    size_t count = n * k;
    unsigned char *bytes = w;
    if (dtype == VLM_DTYPE_F32) {
        fill(dequant, count, 1.0f);
        memcpy(w, dequant, count * 4);
        return;
    }
    if (dtype == VLM_DTYPE_F16 || dtype == VLM_DTYPE_BF16) {
        for (size_t i = 0; i < count; i++) {
            uint16_t h = dtype == VLM_DTYPE_F16 ? vlmi_f32_to_f16(rng_float(1.0f))
                                                : vlmi_f32_to_bf16(rng_float(1.0f));
            memcpy(bytes + 2 * i, &h, 2);
        }
    } else {
        size_t block_bytes = vlmi_kernels_row_bytes(dtype, VLMI_QK);
        for (size_t b = 0; b < count / VLMI_QK; b++) {
            unsigned char *block = bytes + b * block_bytes;
            uint16_t d = vlmi_f32_to_f16(0.001f + fabsf(rng_float(0.05f)));
            memcpy(block, &d, 2);
            for (size_t i = 2; i < block_bytes; i++) block[i] = (unsigned char)rng_u32();
        }
    }
    vlmi_dequant_fn_for(dtype)(dequant, w, count);
}

// ---- matmul ----

/* One matmul shape through `tier` and ref, compared element by element;
 * out rows are strided with a sentinel gap that must stay untouched. */
static void check_matmul(const vlmi_kernel_table *tier, vlm_dtype dtype, size_t m, size_t k,
                         size_t n, bool with_bias, size_t misalign) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    const size_t gap = 3;
    const float sentinel = 1234.5f;
    size_t out_stride = n + gap;
    void *w_base, *x_base, *out_base;
    unsigned char *w = alloc_misaligned(vlmi_kernels_row_bytes(dtype, k) * n + 1, misalign, &w_base);
    float *w_f32 = malloc((n * k + 1) * sizeof(float));
    float *x = alloc_misaligned((m * k + 1) * sizeof(float), misalign ? 4 : 0, &x_base);
    float *bias = malloc((n + 1) * sizeof(float));
    float *want = malloc((m * n + 1) * sizeof(float));
    float *got = alloc_misaligned((m * out_stride + 1) * sizeof(float), misalign ? 4 : 0, &out_base);
    make_weight(w, w_f32, dtype, n, k);
    fill(x, m * k, 2.0f);
    fill(bias, n, 1.0f);
    for (size_t i = 0; i < m * out_stride; i++) got[i] = sentinel;

    const float *b = with_bias ? bias : NULL;
    ref->matmul(want, n, x, w, dtype, b, m, k, n);
    tier->matmul(got, out_stride, x, w, dtype, b, m, k, n);

    bool quantized = dtype == VLM_DTYPE_Q8_0 || dtype == VLM_DTYPE_Q4_0 || dtype == VLM_DTYPE_Q5_0;
    bool quantizes_x = quantized && tier->quantizes_activations;
    int bad = 0;
    for (size_t i = 0; i < m && bad < 3; i++) {
        for (size_t j = 0; j < n && bad < 3; j++) {
            float magnitude = 0.0f, quant_bound = 0.0f;
            for (size_t blk = 0; blk * VLMI_QK < k || (blk == 0 && k == 0); blk++) {
                float amax = 0.0f, w_abs = 0.0f;
                for (size_t l = blk * VLMI_QK; l < k && l < (blk + 1) * VLMI_QK; l++) {
                    magnitude += fabsf(x[i * k + l] * w_f32[j * k + l]);
                    amax = fmaxf(amax, fabsf(x[i * k + l]));
                    w_abs += fabsf(w_f32[j * k + l]);
                }
                quant_bound += amax * QUANT_ELEMENT_ERROR * w_abs;
                if (k == 0) break;
            }
            float tol = MATMUL_REL_TOL * magnitude + (b ? BIAS_REL_TOL * fabsf(b[j]) : 0.0f);
            if (quantizes_x) tol += quant_bound;
            float g = got[i * out_stride + j], r = want[i * n + j];
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

    /* a quantizing tier's matmul is its quantize_q8_0 + matmul_q8, exactly,
     * when the quantized rows fit the tiers' stack slab (16 KB) at once */
    size_t xq_row = k / VLMI_QK * VLMI_Q8_0_BLOCK_BYTES;
    if (quantizes_x && m > 0 && m * xq_row <= 16384) {
        unsigned char *xq = malloc(m * xq_row + 1);
        float *two = malloc((m * n + 1) * sizeof(float));
        for (size_t i = 0; i < m; i++) tier->quantize_q8_0(xq + i * xq_row, x + i * k, k);
        tier->matmul_q8(two, n, xq, w, dtype, b, m, k, n);
        bool same = true;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) same = same && two[i * n + j] == got[i * out_stride + j];
        CHECK_MSG(same, "%s matmul %s m=%zu k=%zu n=%zu: not quantize_q8_0 + matmul_q8",
                  tier->name, dtype_name(dtype), m, k, n);
        free(xq);
        free(two);
    }
    free(w_base);
    free(w_f32);
    free(x_base);
    free(bias);
    free(want);
    free(out_base);
}

static void test_matmul_float(const vlmi_kernel_table *tier) {
    const size_t ms[] = {0, 1, 2, 3, 4, 7};
    const size_t ks[] = {0, 1, 7, 8, 31, 33, 257};
    const size_t ns[] = {0, 1, 3, 5, 33};
    for (size_t d = 0; d < sizeof FLOAT_DTYPES / sizeof *FLOAT_DTYPES; d++)
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
                for (size_t c = 0; c < sizeof ns / sizeof *ns; c++)
                    check_matmul(tier, FLOAT_DTYPES[d], ms[a], ks[b], ns[c], (a + c) % 2 == 0,
                                 (b + c) % 3);
    /* more than one cache block in k (512) and n (64), odd everywhere */
    for (size_t d = 0; d < sizeof FLOAT_DTYPES / sizeof *FLOAT_DTYPES; d++) {
        check_matmul(tier, FLOAT_DTYPES[d], 7, 1031, 133, true, 1);
        check_matmul(tier, FLOAT_DTYPES[d], 1, 1031, 133, false, 2);
    }
}

static void test_matmul_quant(const vlmi_kernel_table *tier) {
    const size_t ms[] = {0, 1, 2, 3, 5};
    const size_t ks[] = {0, 32, 64, 288};
    const size_t ns[] = {0, 1, 3, 5, 33};
    for (size_t d = 0; d < sizeof QUANT_DTYPES / sizeof *QUANT_DTYPES; d++) {
        for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
            for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
                for (size_t c = 0; c < sizeof ns / sizeof *ns; c++)
                    check_matmul(tier, QUANT_DTYPES[d], ms[a], ks[b], ns[c], (a + c) % 2 == 0,
                                 (b + c) % 3);
        check_matmul(tier, QUANT_DTYPES[d], 5, 1024, 133, true, 1);
        /* rows longer than a tier's stack slab for quantized activations */
        check_matmul(tier, QUANT_DTYPES[d], 2, 482 * 32, 5, true, 1);
        /* many rows (the tiled GEMM, rows in fours plus a rest; columns past a
         * multiple of 4), and k past the tiled GEMM's scale slab */
        check_matmul(tier, QUANT_DTYPES[d], 13, 1024, 133, true, 1);
        check_matmul(tier, QUANT_DTYPES[d], 8, 130 * 32, 70, false, 2);
    }
}

/* The activation quantizer gives the same bytes in every tier, including
 * exact halves (rounded away from zero) and all-zero blocks. */
static void test_quantize_q8_0(const vlmi_kernel_table *tier) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    const size_t n = 32 * 9;
    float x[32 * 9];
    fill(x, n, 3.0f);
    for (size_t i = 32; i < 64; i++) x[i] = 0.0f;              /* a zero block */
    x[64] = 127.0f;                                             /* d = 1: halves */
    for (size_t i = 65; i < 96; i++) x[i] = (float)((int)i - 80) + 0.5f;
    x[96] = -1e-30f;                                            /* tiny scale */
    for (size_t i = 97; i < 128; i++) x[i] = 1e-31f * (float)(i % 7);
    unsigned char want[9 * VLMI_Q8_0_BLOCK_BYTES], got[9 * VLMI_Q8_0_BLOCK_BYTES + 1];
    ref->quantize_q8_0(want, x, n);
    tier->quantize_q8_0(got + 1, x, n); /* misaligned output */
    CHECK_MSG(memcmp(want, got + 1, sizeof want) == 0, "%s quantize_q8_0 differs from ref",
              tier->name);
    /* ref itself: halves round away from zero, as roundf */
    CHECK((int8_t)want[2 * VLMI_Q8_0_BLOCK_BYTES + 2 + 1] == -15); /* -14.5 */
    CHECK((int8_t)want[2 * VLMI_Q8_0_BLOCK_BYTES + 2 + 16] == 1);  /*   0.5 */
    tier->quantize_q8_0(got, x, 0); /* n = 0 writes nothing */
}

/* The pre-quantized matmul against the ref tier's (the same integer sums,
 * summed in another order). */
static void test_matmul_q8(const vlmi_kernel_table *tier) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    const size_t shapes[][3] = {{1, 32, 1}, {1, 96, 7}, {2, 64, 5}, {3, 288, 9}, {4, 1024, 70},
                                {1, 640, 301}, /* the streaming one-row path */
                                {11, 4160, 67}, {64, 768, 128}, /* the tiled GEMM */
                                /* one block; rows 2, 3, 5 against columns past the tiles */
                                {2, 32, 4}, {3, 32, 6}, {5, 32, 13}, {5, 96, 3}, {2, 256, 67}};
    for (size_t d = 0; d < sizeof QUANT_DTYPES / sizeof *QUANT_DTYPES; d++) {
        vlm_dtype dtype = QUANT_DTYPES[d];
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            size_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
            size_t x_row = k / VLMI_QK * VLMI_Q8_0_BLOCK_BYTES;
            void *w_base;
            unsigned char *w = alloc_misaligned(vlmi_kernels_row_bytes(dtype, k) * n, s % 3, &w_base);
            float *w_f32 = malloc(n * k * sizeof(float));
            float *x = malloc(m * k * sizeof(float)), *x_deq = malloc(m * k * sizeof(float));
            unsigned char *xq = malloc(m * x_row + 1);
            float *want = malloc(m * n * sizeof(float)), *got = malloc(m * n * sizeof(float));
            make_weight(w, w_f32, dtype, n, k);
            fill(x, m * k, 2.0f);
            for (size_t i = 0; i < m; i++) ref->quantize_q8_0(xq + 1 + i * x_row, x + i * k, k);
            vlmi_dequant_q8_0(x_deq, xq + 1, m * k);
            ref->matmul_q8(want, n, xq + 1, w, dtype, NULL, m, k, n);
            tier->matmul_q8(got, n, xq + 1, w, dtype, NULL, m, k, n);
#if defined(__aarch64__)
            if (tier->tier == VLMI_KERNELS_NEON)
                check_neon_int8_sets(got, xq + 1, w, dtype, NULL, m, k, n);
#endif
            int bad = 0;
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n && bad < 3; j++) {
                    float magnitude = 0.0f, spec = 0.0f;
                    for (size_t l = 0; l < k; l++) {
                        magnitude += fabsf(x_deq[i * k + l] * w_f32[j * k + l]);
                        spec += x_deq[i * k + l] * w_f32[j * k + l];
                    }
                    float tol = MATMUL_REL_TOL * magnitude;
                    /* the integer sums equal the dequantized product */
                    if (!close_enough(want[i * n + j], spec, tol)) {
                        bad++;
                        CHECK_MSG(0, "ref matmul_q8 %s m=%zu k=%zu n=%zu: %g vs dequantized %g",
                                  dtype_name(dtype), m, k, n, want[i * n + j], spec);
                    }
                    if (!close_enough(got[i * n + j], want[i * n + j], tol)) {
                        bad++;
                        CHECK_MSG(0, "%s matmul_q8 %s m=%zu k=%zu n=%zu: %g vs ref %g",
                                  tier->name, dtype_name(dtype), m, k, n, got[i * n + j],
                                  want[i * n + j]);
                    }
                }
            test_checks++;
            free(w_base);
            free(w_f32);
            free(x);
            free(x_deq);
            free(xq);
            free(want);
            free(got);
        }
    }
}

// ---- row and elementwise kernels ----

static const size_t SIZES[] = {0, 1, 7, 8, 31, 33, 257, 1000};

/* x for activations: mostly moderate, with a few values far in both tails */
static void fill_activation_input(float *x, size_t n) {
    fill(x, n, 8.0f);
    const float extremes[] = {-100.0f, 100.0f, -30.0f, 30.0f, 0.0f, -1e-6f};
    for (size_t i = 0; i < n && i < 6; i++) x[(i * 37) % n] = extremes[i];
}

typedef enum { ACT_GELU_TANH, ACT_SILU, ACT_SILU_MUL, ACT_SOFTMAX, ACT_ADD } act_kind;
static const char *const ACT_NAMES[] = {"gelu_tanh", "silu", "silu_mul", "softmax", "add"};

static void check_activation(const vlmi_kernel_table *tier, act_kind kind, size_t n,
                             bool in_place) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    float *x = malloc((n + 1) * sizeof(float)), *up = malloc((n + 1) * sizeof(float));
    float *want = malloc((n + 1) * sizeof(float)), *got_base = malloc((n + 2) * sizeof(float));
    float *got = got_base + 1; /* not 32-byte aligned */
    fill_activation_input(x, n);
    fill(up, n, 2.0f);
    if (kind == ACT_SOFTMAX || kind == ACT_ADD || in_place) {
        memcpy(want, kind == ACT_ADD ? up : x, n * sizeof(float));
        memcpy(got, kind == ACT_ADD ? up : x, n * sizeof(float));
    }
    switch (kind) {
    case ACT_GELU_TANH:
        ref->gelu_tanh(want, in_place ? want : x, n);
        tier->gelu_tanh(got, in_place ? got : x, n);
        break;
    case ACT_SILU:
        ref->silu(want, in_place ? want : x, n);
        tier->silu(got, in_place ? got : x, n);
        break;
    case ACT_SILU_MUL:
        ref->silu_mul(want, in_place ? want : x, up, n);
        tier->silu_mul(got, in_place ? got : x, up, n);
        break;
    case ACT_SOFTMAX:
        ref->softmax(want, n);
        tier->softmax(got, n);
        break;
    case ACT_ADD:
        ref->add(want, x, n);
        tier->add(got, x, n);
        break;
    }
    for (size_t i = 0; i < n; i++) {
        float scale = kind == ACT_SOFTMAX ? 0.0f : fabsf(x[i]) * (kind == ACT_SILU_MUL ? fabsf(up[i]) : 1.0f);
        float tol = ACT_REL_TOL * fabsf(want[i]) + ACT_ABS_TOL * (1.0f + scale);
        if (kind == ACT_ADD) tol = 0.0f;
        if (!close_enough(got[i], want[i], tol)) {
            CHECK_MSG(0, "%s %s n=%zu [%zu] x=%g: %g vs ref %g", tier->name, ACT_NAMES[kind], n,
                      i, x[i], got[i], want[i]);
            break;
        }
    }
    test_checks++;
    free(x);
    free(up);
    free(want);
    free(got_base);
}

static void check_norm(const vlmi_kernel_table *tier, bool layer, size_t n_rows, size_t n,
                       bool in_place) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    size_t count = n_rows * n;
    float *x = malloc((count + 1) * sizeof(float)), *weight = malloc((n + 1) * sizeof(float));
    float *bias = malloc((n + 1) * sizeof(float)), *want = malloc((count + 1) * sizeof(float));
    float *got_base = malloc((count + 2) * sizeof(float)), *got = got_base + 1;
    fill(x, count, 3.0f);
    for (size_t i = 0; i < count; i++) x[i] += 0.5f; /* a mean to remove */
    fill(weight, n, 1.5f);
    fill(bias, n, 0.5f);
    memcpy(got, x, count * sizeof(float));
    if (layer) {
        ref->layernorm(want, x, weight, bias, n_rows, n, 1e-6f);
        tier->layernorm(got, in_place ? got : x, weight, bias, n_rows, n, 1e-6f);
    } else {
        ref->rmsnorm(want, x, weight, n_rows, n, 1e-5f);
        tier->rmsnorm(got, in_place ? got : x, weight, n_rows, n, 1e-5f);
    }
    for (size_t i = 0; i < count; i++)
        if (!close_enough(got[i], want[i], NORM_TOL * (1.0f + fabsf(want[i])))) {
            CHECK_MSG(0, "%s %s rows=%zu n=%zu [%zu]: %g vs ref %g", tier->name,
                      layer ? "layernorm" : "rmsnorm", n_rows, n, i, got[i], want[i]);
            break;
        }
    test_checks++;
    free(x);
    free(weight);
    free(bias);
    free(want);
    free(got_base);
}

static void test_elementwise(const vlmi_kernel_table *tier) {
    for (size_t s = 0; s < sizeof SIZES / sizeof *SIZES; s++) {
        for (int kind = ACT_GELU_TANH; kind <= ACT_ADD; kind++) {
            check_activation(tier, (act_kind)kind, SIZES[s], false);
            check_activation(tier, (act_kind)kind, SIZES[s], true);
        }
        check_norm(tier, false, 3, SIZES[s], false);
        check_norm(tier, false, 2, SIZES[s], true);
        check_norm(tier, true, 3, SIZES[s], false);
        check_norm(tier, true, 2, SIZES[s], true);
    }
}

// ---- the table ----

static void test_tables(void) {
    const vlmi_kernel_table *ref = vlmi_kernels_tier(VLMI_KERNELS_REF);
    CHECK(ref != NULL && strcmp(ref->name, "ref") == 0);
    CHECK(vlmi_kernels() != NULL && strcmp(vlmi_kernels_name(), vlmi_kernels()->name) == 0);
    CHECK(vlmi_kernels_tier(VLMI_KERNELS_TIER_COUNT) == NULL);
    for (int t = 0; t < VLMI_KERNELS_TIER_COUNT; t++) {
        const vlmi_kernel_table *tab = vlmi_kernels_tier((vlmi_kernel_tier)t);
        if (tab == NULL) continue;
        /* every entry is filled */
        CHECK(tab->tier == (vlmi_kernel_tier)t);
        CHECK(tab->matmul && tab->quantize_q8_0 && tab->matmul_q8 && tab->quantize_q8_k &&
              tab->rmsnorm &&
              tab->layernorm && tab->gelu_tanh && tab->gelu_erf && tab->silu &&
              tab->silu_mul && tab->add && tab->softmax && tab->rope && tab->attention);
    }
#if defined(__x86_64__)
    CHECK(vlmi_kernels_tier(VLMI_KERNELS_NEON) == NULL);
#elif defined(__aarch64__)
    CHECK(vlmi_kernels_tier(VLMI_KERNELS_NEON) != NULL);
    CHECK(vlmi_kernels_tier(VLMI_KERNELS_AVX2) == NULL);
#endif
    CHECK(vlmi_kernels_weight_dtype_supported(VLM_DTYPE_Q4_0));
    CHECK(!vlmi_kernels_weight_dtype_supported(VLM_DTYPE_Q5_K));
    CHECK(vlmi_kernels_row_bytes(VLM_DTYPE_Q8_0, 64) == 68);
    CHECK(vlmi_kernels_row_bytes(VLM_DTYPE_Q4_0, 64) == 36);
    CHECK(vlmi_kernels_weight_dtype_supported(VLM_DTYPE_Q5_0));
    CHECK(vlmi_kernels_row_bytes(VLM_DTYPE_Q5_0, 64) == 44);
    CHECK(vlmi_kernels_row_bytes(VLM_DTYPE_BF16, 3) == 6);
}

int main(void) {
    test_tables();
    for (int t = 0; t < VLMI_KERNELS_TIER_COUNT; t++) {
        const vlmi_kernel_table *tier = vlmi_kernels_tier((vlmi_kernel_tier)t);
        if (tier == NULL) continue;
        printf("tier %s", tier->name);
        if (tier->int8_variant != NULL) printf(" (int8: %s)", tier->int8_variant);
        printf("\n");
        test_matmul_float(tier);
        test_matmul_quant(tier);
        test_quantize_q8_0(tier);
        test_matmul_q8(tier);
        if (t != VLMI_KERNELS_REF) test_elementwise(tier);
    }
    return test_finish("kernels");
}
