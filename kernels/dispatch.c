/* Kernel tier tables, CPU detection and the run-time choice (see dispatch.h).
 *
 * This file is compiled without ISA flags, so it runs on any CPU of its
 * architecture; the ISA kernels it points to live in kernels/x86 and
 * kernels/arm, each built with its own flags. It also holds the scalar
 * reference of the Q8_0 quantized-activation path (quantize_q8_0,
 * matmul_q8); the k-quant one is in kernels/ref/kquant.c. */
#include "dispatch.h"

#include "kernels.h"
#include "ref/ops.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#  define VLMI_BUILD_AVX2 1
#  include "x86/x86.h"
#  include <cpuid.h>
#endif
#if defined(__aarch64__)
#  define VLMI_BUILD_NEON 1
#  include "arm/arm.h"
#  if defined(__linux__)
#    include <sys/auxv.h>
#  elif defined(__APPLE__)
#    include <sys/types.h>
#    include <sys/sysctl.h>
#  endif
#endif

// ----------------------------------------------------------------------------
// weights

bool vlmi_kernels_weight_dtype_supported(vlm_dtype dtype) {
    return vlmi_ref_weight_dtype_supported(dtype);
}

size_t vlmi_kernels_row_bytes(vlm_dtype dtype, size_t n) {
    switch (dtype) {
    case VLM_DTYPE_F32: return n * 4;
    case VLM_DTYPE_F16:
    case VLM_DTYPE_BF16: return n * 2;
    case VLM_DTYPE_Q8_0: return n / VLMI_QK * VLMI_Q8_0_BLOCK_BYTES;
    case VLM_DTYPE_Q4_0: return n / VLMI_QK * VLMI_Q4_0_BLOCK_BYTES;
    case VLM_DTYPE_Q5_0: return n / VLMI_QK * VLMI_Q5_0_BLOCK_BYTES;
    case VLM_DTYPE_Q4_K: return n / VLMI_QK_K * VLMI_Q4_K_BLOCK_BYTES;
    case VLM_DTYPE_Q6_K: return n / VLMI_QK_K * VLMI_Q6_K_BLOCK_BYTES;
    default: return 0;
    }
}

// ----------------------------------------------------------------------------
// ref tier: the entries kernels/ref does not have in table form

// x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n) strided; W quantized (Q8_0, Q4_0, Q5_0):
// each block dequantized exactly (the specification), then an f32 dot.
static void ref_matmul_dequant(float *out, size_t out_stride, const float *x,
                               const void *w, vlm_dtype w_dtype, const float *bias,
                               size_t m, size_t k, size_t n) {
    vlmi_dequant_fn dequant = vlmi_dequant_fn_for(w_dtype);
    size_t block_bytes = vlmi_kernels_row_bytes(w_dtype, VLMI_QK);
    size_t row_bytes = vlmi_kernels_row_bytes(w_dtype, k);
    float block[VLMI_QK];
    for (size_t i = 0; i < m; i++) {
        const float *x_row = x + i * k;
        for (size_t j = 0; j < n; j++) {
            const unsigned char *w_row = (const unsigned char *)w + j * row_bytes;
            float sum = 0.0f;
            for (size_t b = 0; b < k / VLMI_QK; b++) {
                dequant(block, w_row + b * block_bytes, VLMI_QK);
                for (size_t l = 0; l < VLMI_QK; l++) sum += block[l] * x_row[b * VLMI_QK + l];
            }
            out[i * out_stride + j] = bias ? sum + bias[j] : sum;
        }
    }
}

/* True for the weight dtypes of 32-element blocks (Q8_0 activations). */
static bool is_block32(vlm_dtype dtype) {
    return dtype == VLM_DTYPE_Q8_0 || dtype == VLM_DTYPE_Q4_0 || dtype == VLM_DTYPE_Q5_0;
}

/* True for the k-quant weight dtypes the matmul reads (Q8_K activations). */
static bool is_kquant(vlm_dtype dtype) {
    return dtype == VLM_DTYPE_Q4_K || dtype == VLM_DTYPE_Q6_K;
}

// x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n) strided; k-quants through
// vlmi_ref_matmul (dequantized exactly: the specification)
static void ref_matmul(float *out, size_t out_stride, const float *x, const void *w,
                       vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n) {
    if (is_block32(w_dtype)) {
        ref_matmul_dequant(out, out_stride, x, w, w_dtype, bias, m, k, n);
    } else if (out_stride == n) {
        vlmi_ref_matmul(out, x, w, w_dtype, bias, m, k, n);
    } else {
        for (size_t i = 0; i < m; i++)
            vlmi_ref_matmul(out + i * out_stride, x + i * k, w, w_dtype, bias, 1, k, n);
    }
}

// x (n) -> y (n/32 Q8_0 blocks), as ggml's quantize_row_q8_0_ref
static void ref_quantize_q8_0(void *y, const float *x, size_t n) {
    unsigned char *block = y;
    for (size_t b = 0; b < n / VLMI_QK; b++, block += VLMI_Q8_0_BLOCK_BYTES, x += VLMI_QK) {
        float amax = 0.0f;
        for (size_t j = 0; j < VLMI_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t d16 = vlmi_f32_to_f16(d);
        memcpy(block, &d16, 2); /* little-endian hosts only, as GGUF */
        int8_t *qs = (int8_t *)(block + 2);
        for (size_t j = 0; j < VLMI_QK; j++) qs[j] = (int8_t)roundf(x[j] * inv_d);
    }
}

static float load_f16_scale(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return vlmi_f16_to_f32(h);
}

// xq (m, k/32 Q8_0 blocks) @ W (n,k)^T + bias (n,) -> out (m,n) strided
static void ref_matmul_q8(float *out, size_t out_stride, const void *xq, const void *w,
                          vlm_dtype w_dtype, const float *bias, size_t m, size_t k,
                          size_t n) {
    if (is_kquant(w_dtype)) {
        vlmi_ref_matmul_q8_k(out, out_stride, xq, w, w_dtype, bias, m, k, n);
        return;
    }
    size_t n_blocks = k / VLMI_QK;
    size_t x_row_bytes = n_blocks * VLMI_Q8_0_BLOCK_BYTES;
    size_t w_block_bytes = vlmi_kernels_row_bytes(w_dtype, VLMI_QK);
    for (size_t i = 0; i < m; i++) {
        const unsigned char *x_row = (const unsigned char *)xq + i * x_row_bytes;
        for (size_t j = 0; j < n; j++) {
            const unsigned char *w_block =
                (const unsigned char *)w + j * n_blocks * w_block_bytes;
            float sum = 0.0f;
            for (size_t b = 0; b < n_blocks; b++, w_block += w_block_bytes) {
                const unsigned char *x_block = x_row + b * VLMI_Q8_0_BLOCK_BYTES;
                const int8_t *qx = (const int8_t *)(x_block + 2);
                int32_t isum = 0;
                if (w_dtype == VLM_DTYPE_Q8_0) {
                    const int8_t *qw = (const int8_t *)(w_block + 2);
                    for (size_t l = 0; l < VLMI_QK; l++) isum += qw[l] * qx[l];
                } else if (w_dtype == VLM_DTYPE_Q5_0) {
                    /* nibbles as Q4_0, bit l of qh the fifth bit of element l */
                    uint32_t qh;
                    memcpy(&qh, w_block + 2, 4);
                    const unsigned char *qs = w_block + 6;
                    for (size_t l = 0; l < VLMI_QK / 2; l++) {
                        int lo = (qs[l] & 0x0f) | (int)((qh >> l) & 1) << 4;
                        int hi = (qs[l] >> 4) | (int)((qh >> (l + VLMI_QK / 2)) & 1) << 4;
                        isum += (lo - 16) * qx[l] + (hi - 16) * qx[l + VLMI_QK / 2];
                    }
                } else { /* Q4_0: low nibbles are elements 0..15, high 16..31 */
                    const unsigned char *qw = w_block + 2;
                    for (size_t l = 0; l < VLMI_QK / 2; l++) {
                        isum += ((qw[l] & 0x0f) - 8) * qx[l];
                        isum += ((qw[l] >> 4) - 8) * qx[l + VLMI_QK / 2];
                    }
                }
                sum += load_f16_scale(w_block) * load_f16_scale(x_block) * (float)isum;
            }
            out[i * out_stride + j] = bias ? sum + bias[j] : sum;
        }
    }
}

static const vlmi_kernel_table ref_table = {
    .name = "ref",
    .tier = VLMI_KERNELS_REF,
    .matmul = ref_matmul,
    .quantize_q8_0 = ref_quantize_q8_0,
    .matmul_q8 = ref_matmul_q8,
    .quantize_q8_k = vlmi_ref_quantize_q8_k,
    .rmsnorm = vlmi_ref_rmsnorm,
    .layernorm = vlmi_ref_layernorm,
    .gelu_tanh = vlmi_ref_gelu_tanh,
    .gelu_erf = vlmi_ref_gelu_erf,
    .silu = vlmi_ref_silu,
    .silu_mul = vlmi_ref_silu_mul,
    .add = vlmi_ref_add,
    .softmax = vlmi_ref_softmax,
    .rope = vlmi_ref_rope,
    .attention = vlmi_ref_attention,
    .rope_scaled = vlmi_ref_rope_scaled,
    .attention_masked = vlmi_ref_attention_masked,
    .attention_masked_f16 = vlmi_ref_attention_masked_f16,
};

// ----------------------------------------------------------------------------
// CPU detection (no ISA flags here: cpuid and xgetbv only)

#ifdef VLMI_BUILD_AVX2
/* XCR0 through inline asm: the _xgetbv intrinsic would need -mxsave. */
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static bool cpu_has_avx2_fma_f16c(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    bool fma = ecx >> 12 & 1, osxsave = ecx >> 27 & 1, avx = ecx >> 28 & 1,
         f16c = ecx >> 29 & 1;
    if (!(fma && osxsave && avx && f16c)) return false;
    /* the OS saves the xmm and ymm state on context switches */
    if ((read_xcr0() & 0x6) != 0x6) return false;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    return ebx >> 5 & 1;
}

static vlmi_kernel_table avx2_table;

static void fill_avx2_table(void) {
    avx2_table = ref_table;
    avx2_table.name = "avx2";
    avx2_table.tier = VLMI_KERNELS_AVX2;
    avx2_table.quantizes_activations = true;
    avx2_table.matmul = vlmi_avx2_matmul;
    avx2_table.quantize_q8_0 = vlmi_avx2_quantize_q8_0;
    avx2_table.matmul_q8 = vlmi_avx2_matmul_q8;
    avx2_table.quantize_q8_k = vlmi_avx2_quantize_q8_k;
    avx2_table.rmsnorm = vlmi_avx2_rmsnorm;
    avx2_table.layernorm = vlmi_avx2_layernorm;
    avx2_table.gelu_tanh = vlmi_avx2_gelu_tanh;
    avx2_table.silu = vlmi_avx2_silu;
    avx2_table.silu_mul = vlmi_avx2_silu_mul;
    avx2_table.add = vlmi_avx2_add;
    avx2_table.softmax = vlmi_avx2_softmax;
    avx2_table.attention = vlmi_avx2_attention;
    avx2_table.attention_masked = vlmi_avx2_attention_masked;
    avx2_table.attention_share = vlmi_avx2_attention_share;
    avx2_table.attention_masked_f16 = vlmi_avx2_attention_masked_f16;
    avx2_table.attention_share_f16 = vlmi_avx2_attention_share_f16;
    avx2_table.attention_decode_part = vlmi_avx2_attention_decode_part;
    avx2_table.attention_decode_reduce = vlmi_avx2_attention_decode_reduce;
}
#endif

#ifdef VLMI_BUILD_NEON
static vlmi_kernel_table neon_table;
static vlmi_neon_int8_set neon_int8_set;

/* Linux hwcap bits (the kernel's ABI; older libc headers lack them) */
#  ifndef HWCAP_ASIMDDP
#    define HWCAP_ASIMDDP (1UL << 20)
#  endif
#  ifndef HWCAP2_I8MM
#    define HWCAP2_I8MM (1UL << 13)
#  endif

#  if defined(__APPLE__)
/* hw.optional.arm.FEAT_* are 1 when present; absent (older macOS / iOS)
 * reads as not present */
static bool apple_has(const char *name) {
    int value = 0;
    size_t size = sizeof value;
    return sysctlbyname(name, &value, &size, NULL, 0) == 0 && value == 1;
}
#  endif

/* The best int8 instruction set of this CPU (as the OS reports it). */
static vlmi_neon_int8_set neon_detect_int8_set(void) {
    bool dotprod = false, i8mm = false;
#  if defined(__linux__)
    dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
    i8mm = (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0;
#  elif defined(__APPLE__)
    dotprod = apple_has("hw.optional.arm.FEAT_DotProd");
    i8mm = apple_has("hw.optional.arm.FEAT_I8MM");
#  endif
    if (dotprod && i8mm) return VLMI_NEON_INT8_I8MM;
    return dotprod ? VLMI_NEON_INT8_DOTPROD : VLMI_NEON_INT8_BASE;
}

static const char *const NEON_INT8_NAMES[] = {"base", "dotprod", "i8mm"};

/* The CPU's set, capped by VLM_NEON_INT8 (base, dotprod, i8mm) so that
 * tests and benchmarks can run the lesser sets too; other values ignored. */
static vlmi_neon_int8_set neon_choose_int8_set(void) {
    vlmi_neon_int8_set set = neon_detect_int8_set();
    const char *cap = getenv("VLM_NEON_INT8");
    for (int s = 0; cap != NULL && s < 3; s++)
        if (strcmp(cap, NEON_INT8_NAMES[s]) == 0 && (int)set > s) set = (vlmi_neon_int8_set)s;
    return set;
}

static void neon_matmul_q8(float *out, size_t out_stride, const void *xq, const void *w,
                           vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n) {
    vlmi_neon_matmul_q8(neon_int8_set, out, out_stride, xq, w, w_dtype, bias, m, k, n);
}

/* NEON for the float weight types; quantized ones with x quantized to 8
 * bits on the fly (quant_neon.c). */
static void neon_matmul(float *out, size_t out_stride, const float *x, const void *w,
                        vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n) {
    if (is_block32(w_dtype) || is_kquant(w_dtype))
        vlmi_neon_matmul_quant(neon_int8_set, out, out_stride, x, w, w_dtype, bias, m, k, n);
    else
        vlmi_neon_matmul(out, out_stride, x, w, w_dtype, bias, m, k, n);
}

/* Advanced SIMD is part of every AArch64 CPU; dotprod and i8mm are
 * optional and come from the OS (getauxval, sysctl). */
static void fill_neon_table(void) {
    neon_int8_set = neon_choose_int8_set();
    neon_table = ref_table;
    neon_table.name = "neon";
    neon_table.tier = VLMI_KERNELS_NEON;
    neon_table.quantizes_activations = true;
    neon_table.int8_variant = NEON_INT8_NAMES[neon_int8_set];
    neon_table.matmul = neon_matmul;
    neon_table.quantize_q8_0 = vlmi_neon_quantize_q8_0;
    neon_table.matmul_q8 = neon_matmul_q8;
    neon_table.quantize_q8_k = vlmi_neon_quantize_q8_k;
    neon_table.attention = vlmi_neon_attention;
    neon_table.attention_masked = vlmi_neon_attention_masked;
    neon_table.attention_masked_f16 = vlmi_neon_attention_masked_f16;
    neon_table.attention_decode_part = vlmi_neon_attention_decode_part;
    neon_table.attention_decode_reduce = vlmi_neon_attention_decode_reduce;
}
#endif

// ----------------------------------------------------------------------------
// the choice, made once

static const vlmi_kernel_table *tiers[VLMI_KERNELS_TIER_COUNT];
static const vlmi_kernel_table *chosen;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void detect_tiers(void) {
    tiers[VLMI_KERNELS_REF] = &ref_table;
#ifdef VLMI_BUILD_AVX2
    if (cpu_has_avx2_fma_f16c()) {
        fill_avx2_table();
        tiers[VLMI_KERNELS_AVX2] = &avx2_table;
    }
#endif
#ifdef VLMI_BUILD_NEON
    fill_neon_table();
    tiers[VLMI_KERNELS_NEON] = &neon_table;
#endif
}

static void choose(void) {
    detect_tiers();
    /* the best tier available: the highest-numbered one on this architecture */
    chosen = &ref_table;
    for (int t = 0; t < VLMI_KERNELS_TIER_COUNT; t++)
        if (tiers[t] != NULL) chosen = tiers[t];
    /* VLM_KERNELS forces a tier, when this build and CPU can run it */
    const char *forced = getenv("VLM_KERNELS");
    if (forced == NULL) return;
    for (int t = 0; t < VLMI_KERNELS_TIER_COUNT; t++)
        if (tiers[t] != NULL && strcmp(forced, tiers[t]->name) == 0) chosen = tiers[t];
}

const vlmi_kernel_table *vlmi_kernels(void) {
    pthread_once(&choose_once, choose);
    return chosen;
}

const char *vlmi_kernels_name(void) { return vlmi_kernels()->name; }

const vlmi_kernel_table *vlmi_kernels_tier(vlmi_kernel_tier tier) {
    pthread_once(&choose_once, choose);
    if ((int)tier < 0 || tier >= VLMI_KERNELS_TIER_COUNT) return NULL;
    return tiers[tier];
}

// ----------------------------------------------------------------------------
// threaded matmul

/* Below this many multiply-adds a matmul runs on the calling thread: waking
 * the pool costs about a microsecond. */
#define PARALLEL_MIN_MACS 65536
/* Weight-row bands start at multiples of this (a multiple of every tier's
 * column tile, so thread count never changes the arithmetic). */
#define BAND_ROWS 16
/* f32 products with at least this many rows of x go to BLAS (vlm-bench:
 * at m = 1 our GEMV streams the weights faster; from a few dozen rows on,
 * OpenBLAS's packed kernels win). */
#define BLAS_MIN_ROWS 32
/* Products of at least this many rows with weights in 16 bits or quantized
 * go to BLAS too, each chunk of weight rows dequantized (exactly) to f32 in
 * the pool's scratch first: at the vision shape (1024x768x3072, one thread,
 * CPU time on the shared machine) that ran ~1.25x our Q8_0 int8 tiles and
 * ~1.1x the BF16 ones, level with F16 (AVX2's int8 products, with Q8_0's
 * per-block scales, do not beat f32 FMA by enough). The conversion costs a
 * weight pass per call, so it pays only with many rows (vlm-bench: the
 * "lib" rows). */
#define BLAS_DEQUANT_MIN_ROWS 256
/* A BLAS product is cut into tiles: about BLAS_CHUNK_ROWS weight rows (each
 * chunk dequantized once by the thread that needs it) by about
 * BLAS_TILE_X_ROWS rows of x. Tile edges depend on the shape only, never on
 * the thread count, so neither do the results; cutting x too keeps both
 * threads busy on products with few weight rows (a text model's 576 x 576
 * projections). Smaller weight chunks cost sgemm its packing of x once more
 * per chunk (128 rows: ~15% at the vision shape). */
#define BLAS_CHUNK_ROWS 512
#define BLAS_TILE_X_ROWS 256

typedef struct blas_job {
    float *out;
    const float *x;
    const unsigned char *w;
    vlmi_dequant_fn dequant;   /* NULL: f32 weights, read in place */
    size_t w_row_bytes;
    const float *bias;
    size_t m, k, n;
    size_t chunk_rows, n_chunks; /* weight rows per chunk (a multiple of 16) */
    size_t tile_rows, n_x_tiles; /* rows of x per tile */
    float *panels;             /* per thread chunk_rows x k floats, or NULL */
} blas_job;

static size_t even_split(size_t total, size_t at_most, size_t multiple, size_t *count) {
    *count = (total + at_most - 1) / at_most;
    size_t rows = (total + *count - 1) / *count;
    return (rows + multiple - 1) / multiple * multiple;
}

/* Each thread takes a contiguous run of tiles, chunk by chunk, so it
 * dequantizes a chunk once for all the x tiles it multiplies it with. */
static void blas_tiles(void *ctx, size_t thread_index, size_t n_threads) {
    blas_job *job = ctx;
    size_t n_tiles = job->n_chunks * job->n_x_tiles;
    size_t t0 = n_tiles * thread_index / n_threads, t1 = n_tiles * (thread_index + 1) / n_threads;
    size_t panel_chunk = SIZE_MAX;
    float *panel = job->panels ? job->panels + thread_index * job->chunk_rows * job->k : NULL;
    for (size_t t = t0; t < t1; t++) {
        size_t chunk = t / job->n_x_tiles, tile = t % job->n_x_tiles;
        size_t j0 = chunk * job->chunk_rows, i0 = tile * job->tile_rows;
        if (j0 >= job->n || i0 >= job->m) continue;
        size_t j1 = j0 + job->chunk_rows < job->n ? j0 + job->chunk_rows : job->n;
        size_t i1 = i0 + job->tile_rows < job->m ? i0 + job->tile_rows : job->m;
        const float *w = (const float *)(const void *)(job->w + j0 * job->w_row_bytes);
        if (panel != NULL) {
            if (panel_chunk != chunk)
                for (size_t j = j0; j < j1; j++)
                    job->dequant(panel + (j - j0) * job->k, job->w + j * job->w_row_bytes, job->k);
            panel_chunk = chunk;
            w = panel;
        }
        vlmi_blas_matmul(job->out + i0 * job->n + j0, job->n, job->x + i0 * job->k, w,
                         job->bias ? job->bias + j0 : NULL, i1 - i0, job->k, j1 - j0);
    }
}

/* True if the product ran through BLAS (see BLAS_MIN_ROWS,
 * BLAS_DEQUANT_MIN_ROWS); false: the caller runs the tier's kernels. */
static bool matmul_blas(vlmi_threadpool *pool, const vlmi_kernel_table *table, float *out,
                        const float *x, const void *w, vlm_dtype w_dtype, const float *bias,
                        size_t m, size_t k, size_t n) {
    if (table->tier == VLMI_KERNELS_REF || !vlmi_blas_available()) return false;
    bool f32 = w_dtype == VLM_DTYPE_F32;
    if (f32 ? m < BLAS_MIN_ROWS || (uintptr_t)w % sizeof(float) != 0
            : m < BLAS_DEQUANT_MIN_ROWS || vlmi_dequant_fn_for(w_dtype) == NULL)
        return false;
    size_t n_threads = vlmi_threadpool_n_threads(pool);
    blas_job job = {.out = out, .x = x, .w = w, .dequant = f32 ? NULL : vlmi_dequant_fn_for(w_dtype),
                    .w_row_bytes = vlmi_kernels_row_bytes(w_dtype, k), .bias = bias, .m = m,
                    .k = k, .n = n};
    job.chunk_rows = even_split(n, BLAS_CHUNK_ROWS, BAND_ROWS, &job.n_chunks);
    job.tile_rows = even_split(m, BLAS_TILE_X_ROWS, BAND_ROWS, &job.n_x_tiles);
    if (!f32) {
        job.panels = vlmi_threadpool_scratch(pool, n_threads * job.chunk_rows * k * sizeof(float));
        if (job.panels == NULL) return false;
    }
    if (n_threads == 1 || job.n_chunks * job.n_x_tiles == 1) blas_tiles(&job, 0, 1);
    else vlmi_threadpool_run(pool, blas_tiles, &job);
    return true;
}

typedef struct matmul_job {
    const vlmi_kernel_table *table;
    float *out;
    const float *x;
    const void *xq;            /* x quantized to Q8_0, or NULL */
    const unsigned char *w;
    vlm_dtype w_dtype;
    size_t w_row_bytes;
    const float *bias;
    size_t m, k, n;
} matmul_job;

static void matmul_band(void *ctx, size_t thread_index, size_t n_threads) {
    const matmul_job *job = ctx;
    size_t n_bands = (job->n + BAND_ROWS - 1) / BAND_ROWS;
    size_t per_thread = (n_bands + n_threads - 1) / n_threads;
    size_t j0 = thread_index * per_thread * BAND_ROWS;
    size_t j1 = j0 + per_thread * BAND_ROWS;
    if (j1 > job->n) j1 = job->n;
    if (j0 >= j1) return;
    const unsigned char *w = job->w + j0 * job->w_row_bytes;
    const float *bias = job->bias ? job->bias + j0 : NULL;
    if (job->xq != NULL)
        job->table->matmul_q8(job->out + j0, job->n, job->xq, w, job->w_dtype, bias, job->m,
                              job->k, j1 - j0);
    else
        job->table->matmul(job->out + j0, job->n, job->x, w, job->w_dtype, bias, job->m,
                           job->k, j1 - j0);
}

// x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n)
void vlmi_matmul(vlmi_threadpool *pool, float *out, const float *x, const void *w,
                 vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n) {
    const vlmi_kernel_table *table = vlmi_kernels();
    size_t n_threads = vlmi_threadpool_n_threads(pool);
    if (m == 0 || n == 0) return;
    if (matmul_blas(pool, table, out, x, w, w_dtype, bias, m, k, n)) return;

    matmul_job job = {.table = table, .out = out, .x = x, .w = w, .w_dtype = w_dtype,
                      .w_row_bytes = vlmi_kernels_row_bytes(w_dtype, k), .bias = bias,
                      .m = m, .k = k, .n = n};
    bool kquant = is_kquant(w_dtype);
    if ((is_block32(w_dtype) || kquant) &&
        table->quantizes_activations) {
        /* quantize x once rather than once per thread */
        size_t xq_row = kquant ? k / VLMI_QK_K * VLMI_Q8_K_BLOCK_BYTES
                               : k / VLMI_QK * VLMI_Q8_0_BLOCK_BYTES;
        unsigned char *xq = vlmi_threadpool_scratch(pool, m * xq_row);
        if (xq != NULL) {
            for (size_t i = 0; i < m; i++) {
                if (kquant) table->quantize_q8_k(xq + i * xq_row, x + i * k, k);
                else table->quantize_q8_0(xq + i * xq_row, x + i * k, k);
            }
            job.xq = xq;
        }
    }
    if (n_threads == 1 || n <= BAND_ROWS || m * k * n < PARALLEL_MIN_MACS)
        matmul_band(&job, 0, 1);
    else
        vlmi_threadpool_run(pool, matmul_band, &job);
}

// ----------------------------------------------------------------------------
// threaded attention

typedef struct attention_job {
    const vlmi_kernel_table *table;
    float *out;
    float *scores;             /* n_threads slices of n_kv floats (no share entry) */
    const float *q;
    const void *k, *v;         /* f32, or f16 when f16 */
    bool f16;
    size_t n_q, n_kv, n_heads, n_kv_heads, head_dim;
    const vlmi_attention_mask *mask;
    float scale;
    size_t chunk_rows;         /* query rows per share */
    size_t n_chunks, n_items;
    float *blas_scores;        /* the BLAS path's n_threads score blocks, or NULL */
    atomic_size_t next;        /* the next share to take */
} attention_job;

/* The table's share entry for the job's key dtype, or NULL. */
static bool has_share(const attention_job *job) {
    return job->f16 ? job->table->attention_share_f16 != NULL
                    : job->table->attention_share != NULL;
}

/* attention_masked of the job's key dtype, on whole arguments. */
static void attention_masked_of(const attention_job *job, float *out, float *scores,
                                const float *q, size_t n_q, const vlmi_attention_mask *mask) {
    if (job->f16)
        job->table->attention_masked_f16(out, scores, q, job->k, job->v, n_q, job->n_kv,
                                         job->n_heads, job->n_kv_heads, job->head_dim, mask,
                                         job->scale);
    else
        job->table->attention_masked(out, scores, q, job->k, job->v, n_q, job->n_kv,
                                     job->n_heads, job->n_kv_heads, job->head_dim, mask,
                                     job->scale);
}

static void attention_worker(void *ctx, size_t thread_index, size_t n_threads) {
    attention_job *job = ctx;
    (void)n_threads;
    size_t q_dim = job->n_heads * job->head_dim;
    bool share = has_share(job);
    for (;;) {
        size_t item = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (item >= job->n_items) return;
        size_t per_chunk = share || job->blas_scores != NULL ? job->n_kv_heads : 1;
        /* the last rows first: under a causal mask they see the most keys */
        size_t chunk = job->n_chunks - 1 - item / per_chunk;
        size_t i0 = chunk * job->chunk_rows;
        size_t i1 = i0 + job->chunk_rows < job->n_q ? i0 + job->chunk_rows : job->n_q;
        if (job->blas_scores != NULL) {
            vlmi_attention_blas_share(job->out,
                                      job->blas_scores + thread_index * job->chunk_rows * job->n_kv,
                                      job->q, job->k, job->v, job->n_kv, job->n_heads,
                                      job->n_kv_heads, job->head_dim, job->mask, job->scale,
                                      item % per_chunk, i0, i1);
        } else if (share && job->f16) {
            job->table->attention_share_f16(job->out, job->q, job->k, job->v, job->n_kv,
                                            job->n_heads, job->n_kv_heads, job->head_dim,
                                            job->mask, job->scale, item % per_chunk, i0, i1);
        } else if (share) {
            job->table->attention_share(job->out, job->q, job->k, job->v, job->n_kv,
                                        job->n_heads, job->n_kv_heads, job->head_dim,
                                        job->mask, job->scale, item % per_chunk, i0, i1);
        } else {
            vlmi_attention_mask sub = *job->mask;
            sub.q_pos0 += i0;
            if (sub.kv_end != NULL) sub.kv_end += i0;
            attention_masked_of(job, job->out + i0 * q_dim,
                                job->scores + thread_index * job->n_kv, job->q + i0 * q_dim,
                                i1 - i0, &sub);
        }
    }
}

/* Decode attention over the pool: (key/value head, key segment) parts taken
 * in turn by whichever thread is free, then each head's parts reduced in key
 * order on the calling thread (dispatch.h: attention_decode_part). */
typedef struct decode_job {
    const vlmi_kernel_table *table;
    float *parts;              /* n_kv_heads * n_seg parts, head-major */
    const float *q;
    const void *k, *v;
    vlm_dtype kv_dtype;
    size_t n_q, n_kv, n_heads, n_kv_heads, head_dim;
    const vlmi_attention_mask *mask;
    float scale;
    size_t seg0, n_seg, part_floats;
    atomic_size_t next;
} decode_job;

static void decode_worker(void *ctx, size_t thread_index, size_t n_threads) {
    decode_job *job = ctx;
    (void)thread_index, (void)n_threads;
    for (;;) {
        size_t item = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (item >= job->n_kv_heads * job->n_seg) return;
        size_t p0, p1;
        vlmi_attention_decode_segment(job->mask, job->n_kv, job->seg0 + item % job->n_seg,
                                      &p0, &p1);
        job->table->attention_decode_part(job->parts + item * job->part_floats, job->q,
                                          job->k, job->v, job->kv_dtype, job->n_q, job->n_kv,
                                          job->n_heads, job->n_kv_heads, job->head_dim,
                                          job->mask, job->scale, item / job->n_seg, p0, p1);
    }
}

/* True if the decode call ran over the pool; false: the caller runs it as
 * one call (too small, one thread, or no scratch). serial: run it on the
 * calling thread rather than return false when it is too small or the pool
 * has one thread (for key types without a one-call entry). */
static bool attention_decode_pool(vlmi_threadpool *pool, const vlmi_kernel_table *table,
                                  float *out, const float *q, const void *k, const void *v,
                                  vlm_dtype kv_dtype, bool serial, size_t n_q, size_t n_kv,
                                  size_t n_heads, size_t n_kv_heads, size_t head_dim,
                                  const vlmi_attention_mask *mask, float scale) {
    decode_job job = {.table = table, .q = q, .k = k, .v = v, .kv_dtype = kv_dtype, .n_q = n_q,
                      .n_kv = n_kv, .n_heads = n_heads, .n_kv_heads = n_kv_heads,
                      .head_dim = head_dim, .mask = mask, .scale = scale,
                      .part_floats = VLMI_DECODE_PART_FLOATS(n_q, n_heads, n_kv_heads,
                                                             head_dim)};
    vlmi_attention_decode_segments(mask, n_kv, &job.seg0, &job.n_seg);
    size_t n_items = n_kv_heads * job.n_seg;
    bool small = vlmi_threadpool_n_threads(pool) == 1 || n_items < 2 ||
                 n_q * n_heads * n_kv * head_dim < PARALLEL_MIN_MACS;
    if (small && !serial) return false;
    job.parts = vlmi_threadpool_scratch(pool, n_items * job.part_floats * sizeof(float));
    if (job.parts == NULL) return false;
    atomic_init(&job.next, 0);
    if (small) decode_worker(&job, 0, 1);
    else vlmi_threadpool_run(pool, decode_worker, &job);
    for (size_t g = 0; g < n_kv_heads; g++)
        table->attention_decode_reduce(out, job.parts + g * job.n_seg * job.part_floats,
                                       job.n_seg, n_q, n_heads, n_kv_heads, head_dim, g);
    return true;
}

/* True if every query row sees all n_kv keys (a bidirectional encoder). */
static bool every_row_sees_all(const vlmi_attention_mask *mask, size_t n_q, size_t n_kv) {
    for (size_t i = 0; i < n_q; i++) {
        size_t first, end;
        vlmi_attention_visible(mask, n_kv, i, &first, &end);
        if (first != mask->kv_pos0 || end != mask->kv_pos0 + n_kv) return false;
    }
    return true;
}

/* The BLAS path (kernels/attention_blas.c): shares of
 * VLMI_ATTENTION_BLAS_ROWS(_FULL) rows per key/value head, at positions that
 * do not depend on the thread count. False if no scratch could be had. */
static bool attention_blas(vlmi_threadpool *pool, float *out, const float *q, const float *k,
                           const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                           size_t n_kv_heads, size_t head_dim, const vlmi_attention_mask *mask,
                           float scale) {
    size_t n_threads = vlmi_threadpool_n_threads(pool);
    attention_job job = {.table = vlmi_kernels(), .out = out, .q = q, .k = k, .v = v,
                         .n_q = n_q, .n_kv = n_kv, .n_heads = n_heads,
                         .n_kv_heads = n_kv_heads, .head_dim = head_dim, .mask = mask,
                         .scale = scale,
                         .chunk_rows = every_row_sees_all(mask, n_q, n_kv)
                                           ? VLMI_ATTENTION_BLAS_ROWS_FULL
                                           : VLMI_ATTENTION_BLAS_ROWS};
    job.n_chunks = (n_q + job.chunk_rows - 1) / job.chunk_rows;
    job.n_items = job.n_chunks * n_kv_heads;
    size_t block = job.chunk_rows * n_kv * sizeof(float);
    float *own = NULL;
    job.blas_scores = vlmi_threadpool_scratch(pool, n_threads * block);
    if (job.blas_scores == NULL && pool == NULL) job.blas_scores = own = malloc(block);
    if (job.blas_scores == NULL) return false;
    atomic_init(&job.next, 0);
    if (n_threads > 1 && job.n_items > 1) vlmi_threadpool_run(pool, attention_worker, &job);
    else attention_worker(&job, 0, 1);
    free(own);
    return true;
}

/* vlmi_attention_masked over f32 or f16 (f16) keys and values. */
static void attention_masked_any(vlmi_threadpool *pool, float *out, float *scores,
                                 const float *q, const void *k, const void *v, bool f16,
                                 size_t n_q, size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                 size_t head_dim, const vlmi_attention_mask *mask,
                                 float scale) {
    const vlmi_kernel_table *table = vlmi_kernels();
    size_t n_threads = vlmi_threadpool_n_threads(pool);
    if (n_q == 0) return;
    if (table->attention_decode_part != NULL &&
        vlmi_attention_is_decode(n_q, n_heads, n_kv_heads, head_dim)) {
        if (!attention_decode_pool(pool, table, out, q, k, v,
                                   f16 ? VLM_DTYPE_F16 : VLM_DTYPE_F32, false, n_q, n_kv,
                                   n_heads, n_kv_heads, head_dim, mask, scale)) {
            if (f16)
                table->attention_masked_f16(out, scores, q, k, v, n_q, n_kv, n_heads,
                                            n_kv_heads, head_dim, mask, scale);
            else
                table->attention_masked(out, scores, q, k, v, n_q, n_kv, n_heads, n_kv_heads,
                                        head_dim, mask, scale);
        }
        return;
    }
    if (vlmi_attention_blas_takes(mask, f16, n_q, n_kv) &&
        attention_blas(pool, out, q, k, v, n_q, n_kv, n_heads, n_kv_heads, head_dim, mask,
                       scale))
        return;
    size_t heads_per_kv = n_heads / n_kv_heads;
    attention_job job = {.table = table, .out = out, .q = q, .k = k, .v = v, .f16 = f16,
                         .n_q = n_q, .n_kv = n_kv, .n_heads = n_heads,
                         .n_kv_heads = n_kv_heads, .head_dim = head_dim, .mask = mask,
                         .scale = scale};
    bool share = has_share(&job);
    /* shares of at least 32 (query row, head) pairs: whole blocks of 8 */
    job.chunk_rows = heads_per_kv >= 4 ? 8 : 32 / (heads_per_kv == 3 ? 4 : heads_per_kv);
    job.n_chunks = (n_q + job.chunk_rows - 1) / job.chunk_rows;
    job.n_items = share ? job.n_chunks * n_kv_heads : job.n_chunks;
    atomic_init(&job.next, 0);
    bool split = n_threads > 1 && job.n_items > 1 &&
                 n_q * n_heads * n_kv * head_dim >= PARALLEL_MIN_MACS;
    if (split && !share) {
        job.scores = vlmi_threadpool_scratch(pool, n_threads * n_kv * sizeof(float));
        if (job.scores == NULL) split = false;
    }
    if (!split)
        attention_masked_of(&job, out, scores, q, n_q, mask);
    else
        vlmi_threadpool_run(pool, attention_worker, &job);
}

// q (n_q, n_heads*head_dim), k, v (rows of n_kv_heads*head_dim, see mask->kv_ring)
//   -> out (n_q, n_heads*head_dim)
void vlmi_attention_masked(vlmi_threadpool *pool, float *out, float *scores, const float *q,
                           const float *k, const float *v, size_t n_q, size_t n_kv,
                           size_t n_heads, size_t n_kv_heads, size_t head_dim,
                           const vlmi_attention_mask *mask, float scale) {
    attention_masked_any(pool, out, scores, q, k, v, false, n_q, n_kv, n_heads, n_kv_heads,
                         head_dim, mask, scale);
}

// The same, k, v f16.
void vlmi_attention_masked_f16(vlmi_threadpool *pool, float *out, float *scores,
                               const float *q, const uint16_t *k, const uint16_t *v,
                               size_t n_q, size_t n_kv, size_t n_heads, size_t n_kv_heads,
                               size_t head_dim, const vlmi_attention_mask *mask, float scale) {
    attention_masked_any(pool, out, scores, q, k, v, true, n_q, n_kv, n_heads, n_kv_heads,
                         head_dim, mask, scale);
}

typedef struct dequant_rows_job {
    float *out;                /* (rows, row_len) */
    const unsigned char *src;  /* (rows) rows of src_row_bytes */
    size_t rows, row_len, src_row_bytes;
    vlmi_dequant_fn dequant;
} dequant_rows_job;

static void dequant_rows(void *ctx, size_t thread_index, size_t n_threads) {
    const dequant_rows_job *job = ctx;
    size_t r0 = job->rows * thread_index / n_threads, r1 = job->rows * (thread_index + 1) / n_threads;
    for (size_t r = r0; r < r1; r++)
        job->dequant(job->out + r * job->row_len, job->src + r * job->src_row_bytes,
                     job->row_len);
}

// q (n_q, n_heads*head_dim), k, v f16 or Q8_0 (rows of n_kv_heads*head_dim, see
// mask->kv_ring) -> out (n_q, n_heads*head_dim)
void vlmi_attention_masked_stored(vlmi_threadpool *pool, float *out, float *scores,
                                  const float *q, const void *k, const void *v,
                                  vlm_dtype kv_dtype, float *staging, size_t n_q, size_t n_kv,
                                  size_t n_heads, size_t n_kv_heads, size_t head_dim,
                                  const vlmi_attention_mask *mask, float scale) {
    const vlmi_kernel_table *table = vlmi_kernels();
    if (n_q == 0) return;
    if (table->attention_decode_part != NULL &&
        vlmi_attention_is_decode(n_q, n_heads, n_kv_heads, head_dim) &&
        attention_decode_pool(pool, table, out, q, k, v, kv_dtype, true, n_q, n_kv,
                              n_heads, n_kv_heads, head_dim, mask, scale))
        return;
    if (kv_dtype == VLM_DTYPE_F16 && !vlmi_attention_blas_takes(mask, false, n_q, n_kv)) {
        attention_masked_any(pool, out, scores, q, k, v, true, n_q, n_kv, n_heads, n_kv_heads,
                             head_dim, mask, scale);
        return;
    }
    size_t kv_dim = n_kv_heads * head_dim, rows = mask->kv_ring ? mask->kv_ring : n_kv;
    dequant_rows_job job = {.out = staging, .src = k, .rows = rows, .row_len = kv_dim,
                            .src_row_bytes = vlmi_kernels_row_bytes(kv_dtype, kv_dim),
                            .dequant = vlmi_dequant_fn_for(kv_dtype)};
    bool split = rows * kv_dim >= PARALLEL_MIN_MACS;
    if (split) vlmi_threadpool_run(pool, dequant_rows, &job);
    else dequant_rows(&job, 0, 1);
    job.out = staging + rows * kv_dim;
    job.src = v;
    if (split) vlmi_threadpool_run(pool, dequant_rows, &job);
    else dequant_rows(&job, 0, 1);
    vlmi_attention_masked(pool, out, scores, q, staging, staging + rows * kv_dim, n_q, n_kv,
                          n_heads, n_kv_heads, head_dim, mask, scale);
}

// q (n_q, n_heads*head_dim), k, v (n_kv, n_kv_heads*head_dim)
//   -> out (n_q, n_heads*head_dim)
void vlmi_attention(vlmi_threadpool *pool, float *out, float *scores, const float *q,
                    const float *k, const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                    size_t n_kv_heads, size_t head_dim, size_t q_pos0, bool causal,
                    float scale) {
    /* the position mask of the same keys (ref/ops.h: the same arithmetic);
     * bidirectional: a row at a position >= n_kv - 1 sees all n_kv keys */
    vlmi_attention_mask mask = {.q_pos0 = causal ? q_pos0 : n_kv};
    vlmi_attention_masked(pool, out, scores, q, k, v, n_q, n_kv, n_heads, n_kv_heads,
                          head_dim, &mask, scale);
}

// The same, k, v f16.
void vlmi_attention_f16(vlmi_threadpool *pool, float *out, float *scores, const float *q,
                        const uint16_t *k, const uint16_t *v, size_t n_q, size_t n_kv,
                        size_t n_heads, size_t n_kv_heads, size_t head_dim, size_t q_pos0,
                        bool causal, float scale) {
    vlmi_attention_mask mask = {.q_pos0 = causal ? q_pos0 : n_kv};
    vlmi_attention_masked_f16(pool, out, scores, q, k, v, n_q, n_kv, n_heads, n_kv_heads,
                              head_dim, &mask, scale);
}
