/* NEON matmul of quantized weights with activations quantized to 8 bits:
 * Q8_0 / Q4_0 / Q5_0 weights with Q8_0 activations, Q4_K / Q6_K weights
 * with Q8_K activations (ref/kquant.h), and the two activation quantizers
 * (bytes identical to ref). The products come in three instruction sets,
 * chosen by dispatch.c from what the CPU has:
 *   base     ARMv8.0: smull + sadalp (int16 pairs: at most 2 * 128 * 127)
 *   dotprod  ARMv8.2 sdot (four int8 products per int32 lane)
 *   i8mm     smmla for Q8_0-type weights with >= 2 rows of x (a 2x8 by
 *            8x2 int8 product per instruction), dotprod for the rest
 * int8_gemm_neon.inc holds the tiles, compiled once per set; they give
 * the same bits in every set (see there). */
#include "arm/arm.h"

#include "kernels.h"

#include <arm_neon.h>
#include <math.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define BLOCK_N 64  /* weight rows per cache block (Q8_0 types) */
#define TILE_M 4    /* rows of x sharing one unpacked k-quant super-block */
#define BLOCK_M 64  /* rows of x per cache block (k-quants) */
#define Q8_K_QS 4
#define Q8_K_BSUMS 260
/* Stack room for activations quantized on the fly (kernels never
 * allocate): longer rows go in slabs, summed slab by slab. */
#define Q8_0_STACK_BYTES 16384
#define Q8_K_STACK_BYTES (112 * VLMI_Q8_K_BLOCK_BYTES)

/* GCC's arm_neon.h enables sdot / smmla with "arch=armv8.2-a+..."
 * pragmas, so its callers need that spelling; clang (16 and later) takes
 * the feature names. */
#if defined(__clang__)
#  define TARGET_DOTPROD __attribute__((target("dotprod")))
#  define TARGET_I8MM __attribute__((target("dotprod,i8mm")))
#else
#  define TARGET_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#  define TARGET_I8MM __attribute__((target("arch=armv8.2-a+dotprod+i8mm")))
#endif

// ---- quantizing activations ----

// x (n), n % 32 == 0 -> y (n/32 blocks of d (f16), qs[32]), bytes as ref
void vlmi_neon_quantize_q8_0(void *y, const float *x, size_t n) {
    unsigned char *block = y;
    for (size_t b = 0; b < n / VLMI_QK; b++, block += VLMI_Q8_0_BLOCK_BYTES, x += VLMI_QK) {
        float32x4_t v[8];
        float32x4_t amax4 = vdupq_n_f32(0.0f);
        for (int q = 0; q < 8; q++) {
            v[q] = vld1q_f32(x + 4 * q);
            amax4 = vmaxq_f32(amax4, vabsq_f32(v[q]));
        }
        /* the same f32 operations as the ref tier, so the bytes agree */
        float d = vmaxvq_f32(amax4) / 127.0f;
        float inv_d = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t d16 = vlmi_f32_to_f16(d);
        memcpy(block, &d16, 2);
        int16x8_t q16[4];
        for (int q = 0; q < 4; q++) /* fcvtas: to nearest, ties away, as roundf */
            q16[q] = vcombine_s16(vqmovn_s32(vcvtaq_s32_f32(vmulq_n_f32(v[2 * q], inv_d))),
                                  vqmovn_s32(vcvtaq_s32_f32(vmulq_n_f32(v[2 * q + 1], inv_d))));
        vst1q_s8((int8_t *)(block + 2), vcombine_s8(vqmovn_s16(q16[0]), vqmovn_s16(q16[1])));
        vst1q_s8((int8_t *)(block + 18), vcombine_s8(vqmovn_s16(q16[2]), vqmovn_s16(q16[3])));
    }
}

// x (n), n % 256 == 0 -> y (n/256 Q8_K blocks), bytes as ref
void vlmi_neon_quantize_q8_k(void *y, const float *x, size_t n) {
    unsigned char *block = y;
    for (size_t b = 0; b < n / VLMI_QK_K; b++, block += VLMI_Q8_K_BLOCK_BYTES, x += VLMI_QK_K) {
        float32x4_t amax4 = vdupq_n_f32(0.0f);
        for (int j = 0; j < VLMI_QK_K; j += 4) amax4 = vmaxq_f32(amax4, vabsq_f32(vld1q_f32(x + j)));
        float amax = vmaxvq_f32(amax4), d = 0.0f, iscale = 0.0f;
        if (amax > 0.0f) {
            iscale = 127.0f / amax;
            d = 1.0f / iscale;
        }
        memcpy(block, &d, 4);
        for (int g = 0; g < VLMI_QK_K / 16; g++) {
            const float *xg = x + 16 * g;
            int16x8_t q16[2];
            for (int h = 0; h < 2; h++) /* fcvtns: to nearest, ties to even, as ref */
                q16[h] = vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xg + 8 * h), iscale))),
                                      vqmovn_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xg + 8 * h + 4), iscale))));
            int8x16_t q = vmaxq_s8(vcombine_s8(vqmovn_s16(q16[0]), vqmovn_s16(q16[1])),
                                   vdupq_n_s8(-127));
            vst1q_s8((int8_t *)(block + Q8_K_QS + 16 * g), q);
            int16_t bsum = vaddlvq_s8(q);
            memcpy(block + Q8_K_BSUMS + 2 * g, &bsum, 2);
        }
    }
}

// ---- helpers of every instruction set ----

static ALWAYS_INLINE float load_f16(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return vlmi_f16_to_f32(h);
}

static ALWAYS_INLINE float load_f32(const unsigned char *p) {
    float f;
    memcpy(&f, p, 4);
    return f;
}

/* the f16 scales of four weight blocks w_stride bytes apart, as f32 */
static ALWAYS_INLINE float32x4_t scales4(const unsigned char *wb, size_t w_stride) {
    uint16_t h[4];
    for (int r = 0; r < 4; r++) memcpy(&h[r], wb + r * w_stride, 2);
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

/* out[0..3] = acc + bias (=), or out += acc (accumulate: a later slab) */
static ALWAYS_INLINE void store4(float *out, float32x4_t acc, const float *bias,
                                 bool accumulate) {
    if (accumulate) acc = vaddq_f32(vld1q_f32(out), acc);
    else if (bias) acc = vaddq_f32(acc, vld1q_f32(bias));
    vst1q_f32(out, acc);
}

static ALWAYS_INLINE void store1(float *out, float acc, const float *bias, bool accumulate) {
    *out = accumulate ? *out + acc : bias ? acc + *bias : acc;
}

static size_t block32_bytes(vlm_dtype dt) {
    return dt == VLM_DTYPE_Q8_0   ? VLMI_Q8_0_BLOCK_BYTES
           : dt == VLM_DTYPE_Q5_0 ? VLMI_Q5_0_BLOCK_BYTES
                                  : VLMI_Q4_0_BLOCK_BYTES;
}

/* 16 bytes, byte l 0x10 where bit l of the 16-bit bits is set: Q5_0's
 * fifth bits */
static ALWAYS_INLINE uint8x16_t fifth_bits(uint32_t bits) {
    const uint8x16_t bit = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t bytes = vcombine_u8(vdup_n_u8((uint8_t)bits), vdup_n_u8((uint8_t)(bits >> 8)));
    return vandq_u8(vtstq_u8(bytes, bit), vdupq_n_u8(0x10));
}

/* The 32 int8 weights of a Q8_0 / Q4_0 / Q5_0 block: elements 0..15, 16..31 */
static ALWAYS_INLINE int8x16x2_t load_block32(const unsigned char *block, vlm_dtype dt) {
    int8x16x2_t w;
    if (dt == VLM_DTYPE_Q8_0) {
        w.val[0] = vld1q_s8((const int8_t *)(block + 2));
        w.val[1] = vld1q_s8((const int8_t *)(block + 18));
        return w;
    }
    /* Q4_0: low nibbles are elements 0..15, high 16..31, offset 8; Q5_0:
     * the same after qh (4 bytes), bit l of qh adding 16 to element l */
    const unsigned char *qs = block + (dt == VLM_DTYPE_Q5_0 ? 6 : 2);
    uint8x16_t raw = vld1q_u8(qs);
    uint8x16_t lo = vandq_u8(raw, vdupq_n_u8(0x0f)), hi = vshrq_n_u8(raw, 4);
    uint8_t offset = 8;
    if (dt == VLM_DTYPE_Q5_0) {
        uint32_t qh;
        memcpy(&qh, block + 2, 4);
        lo = vorrq_u8(lo, fifth_bits(qh));
        hi = vorrq_u8(hi, fifth_bits(qh >> 16));
        offset = 16;
    }
    w.val[0] = vreinterpretq_s8_u8(vsubq_u8(lo, vdupq_n_u8(offset)));
    w.val[1] = vreinterpretq_s8_u8(vsubq_u8(hi, vdupq_n_u8(offset)));
    return w;
}

/* The 8 six-bit scales and minimums of a Q4_K block (as dequant.c). */
static ALWAYS_INLINE void q4_k_scales_mins(const unsigned char *packed, int *sc, int *mn) {
    for (int g = 0; g < 4; g++) {
        sc[g] = packed[g] & 63;
        mn[g] = packed[g + 4] & 63;
        sc[g + 4] = (packed[g + 8] & 0x0f) | (packed[g] >> 6) << 4;
        mn[g + 4] = (packed[g + 8] >> 4) | (packed[g + 4] >> 6) << 4;
    }
}

/* sum_g m_g * (bsums[2g] + bsums[2g+1]) of a Q8_K block, exact */
static ALWAYS_INLINE int32_t q4_k_min_sum(const int *mn, const unsigned char *xb) {
    int16_t bs[16];
    memcpy(bs, xb + Q8_K_BSUMS, sizeof bs);
    int32_t s = 0;
    for (int g = 0; g < 8; g++) s += mn[g] * (bs[2 * g] + bs[2 * g + 1]);
    return s;
}

/* A Q4_K super-block's value in ref's f32 operations (ref/kquant.h). */
static ALWAYS_INLINE float q4_k_block_value(float d, float dmin, const unsigned char *xb,
                                            int32_t isum, int32_t msum) {
    float dx = load_f32(xb);
    float scale = dx * d, minimum = dx * dmin;
    return scale * (float)isum - minimum * (float)msum;
}

/* Half h of a Q6_K block (ql: its 64 bytes, qh: its 32) -> q[2k + half] the
 * 16 quants - 32 of chunk k's half (ref: low nibbles of ql for k < 2, bit
 * pair k of qh as bits 4, 5) */
static ALWAYS_INLINE void q6_k_unpack_half(int8x16_t *q, const unsigned char *ql,
                                           const unsigned char *qh) {
    const uint8x16_t low_mask = vdupq_n_u8(0x0f), pair = vdupq_n_u8(0x30);
    for (int half = 0; half < 2; half++) {
        uint8x16_t l0 = vld1q_u8(ql + 16 * half), l1 = vld1q_u8(ql + 32 + 16 * half);
        uint8x16_t hb = vld1q_u8(qh + 16 * half);
        uint8x16_t v[4] = {
            vorrq_u8(vandq_u8(l0, low_mask), vandq_u8(vshlq_n_u8(hb, 4), pair)),
            vorrq_u8(vandq_u8(l1, low_mask), vandq_u8(vshlq_n_u8(hb, 2), pair)),
            vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(hb, pair)),
            vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(hb, 2), pair)),
        };
        for (int k = 0; k < 4; k++)
            q[2 * k + half] = vreinterpretq_s8_u8(vsubq_u8(v[k], vdupq_n_u8(32)));
    }
}

// ---- the tiles, once per instruction set ----

/* base: int16 pairs (|w x| <= 128 * 127, two fit), then pairwise into int32 */
static ALWAYS_INLINE int32x4_t dot_acc16_base(int32x4_t acc, int8x16_t w, int8x16_t x) {
    int16x8_t p = vmull_s8(vget_low_s8(w), vget_low_s8(x));
    return vpadalq_s16(acc, vmlal_high_s8(p, w, x));
}

static ALWAYS_INLINE TARGET_DOTPROD int32x4_t dot_acc16_dotprod(int32x4_t acc, int8x16_t w,
                                                                int8x16_t x) {
    return vdotq_s32(acc, w, x);
}

#define NAME(f) f##_base
#define ISA_TARGET
#include "arm/int8_gemm_neon.inc"
#undef NAME
#undef ISA_TARGET

#define NAME(f) f##_dotprod
#define ISA_TARGET TARGET_DOTPROD
#include "arm/int8_gemm_neon.inc"
#undef NAME
#undef ISA_TARGET

// ---- i8mm: two rows of x at once ----

/* The 8-byte chunks c of two rows side by side: {a[c], b[c]} for c = 0..3
 * (a, b: 32 bytes each as two vectors), smmla's operand layout */
static ALWAYS_INLINE void pair_rows(int8x16_t *out, int8x16_t a0, int8x16_t a1, int8x16_t b0,
                                    int8x16_t b1) {
    int64x2_t pa0 = vreinterpretq_s64_s8(a0), pa1 = vreinterpretq_s64_s8(a1);
    int64x2_t pb0 = vreinterpretq_s64_s8(b0), pb1 = vreinterpretq_s64_s8(b1);
    out[0] = vreinterpretq_s8_s64(vzip1q_s64(pa0, pb0));
    out[1] = vreinterpretq_s8_s64(vzip2q_s64(pa0, pb0));
    out[2] = vreinterpretq_s8_s64(vzip1q_s64(pa1, pb1));
    out[3] = vreinterpretq_s8_s64(vzip2q_s64(pa1, pb1));
}

/* out rows 0..1, cols 0..3 = x rows 0..1 . W rows 0..3: per block and pair
 * of weight rows, four smmla give the exact 2x2 block sums {x0 w0, x0 w1,
 * x1 w0, x1 w1}, accumulated as the other tiles do */
static ALWAYS_INLINE TARGET_I8MM void tile_2x4_i8mm(float *out, size_t out_stride,
                                                    const unsigned char *x, size_t x_stride,
                                                    const unsigned char *w, size_t w_stride,
                                                    size_t wbb, size_t nb, vlm_dtype dt,
                                                    const float *bias, bool accumulate) {
    float32x4_t acc[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (size_t b = 0; b < nb; b++) {
        const unsigned char *xa = x + b * VLMI_Q8_0_BLOCK_BYTES, *xc = xa + x_stride;
        const unsigned char *wb = w + b * wbb;
        int8x16_t xs[4];
        pair_rows(xs, vld1q_s8((const int8_t *)(xa + 2)), vld1q_s8((const int8_t *)(xa + 18)),
                  vld1q_s8((const int8_t *)(xc + 2)), vld1q_s8((const int8_t *)(xc + 18)));
        float dxa = load_f16(xa), dxc = load_f16(xc);
        float32x4_t dx = vcombine_f32(vdup_n_f32(dxa), vdup_n_f32(dxc));
        for (int p = 0; p < 2; p++) {
            const unsigned char *w0 = wb + 2 * p * w_stride, *w1 = w0 + w_stride;
            int8x16x2_t v0 = load_block32(w0, dt), v1 = load_block32(w1, dt);
            int8x16_t ws[4];
            pair_rows(ws, v0.val[0], v0.val[1], v1.val[0], v1.val[1]);
            int32x4_t s = vdupq_n_s32(0);
            for (int c = 0; c < 4; c++) s = vmmlaq_s32(s, xs[c], ws[c]);
            float dw0 = load_f16(w0), dw1 = load_f16(w1);
            float32x2_t dw = vset_lane_f32(dw1, vdup_n_f32(dw0), 1);
            acc[p] = vfmaq_f32(acc[p], vcvtq_f32_s32(s), vmulq_f32(dx, vcombine_f32(dw, dw)));
        }
    }
    /* acc[p] = {o[0][2p], o[0][2p+1], o[1][2p], o[1][2p+1]} */
    float32x4_t row0 = vcombine_f32(vget_low_f32(acc[0]), vget_low_f32(acc[1]));
    float32x4_t row1 = vcombine_f32(vget_high_f32(acc[0]), vget_high_f32(acc[1]));
    store4(out, row0, bias, accumulate);
    store4(out + out_stride, row1, bias, accumulate);
}

/* q8_gemm with pairs of rows through smmla; the odd row and the columns
 * past a multiple of 4 through the dotprod tiles */
static ALWAYS_INLINE TARGET_I8MM void q8_gemm_i8mm(float *out, size_t out_stride,
                                                   const unsigned char *xq, size_t x_stride,
                                                   const unsigned char *w, size_t w_stride,
                                                   size_t m, size_t nb, size_t n, vlm_dtype dt,
                                                   const float *bias, bool accumulate) {
    size_t wbb = block32_bytes(dt), n4 = n - n % 4, m2 = m - m % 2;
    for (size_t j0 = 0; j0 < n4; j0 += BLOCK_N) {
        size_t j1 = j0 + BLOCK_N < n4 ? j0 + BLOCK_N : n4;
        for (size_t i = 0; i < m2; i += 2)
            for (size_t j = j0; j < j1; j += 4)
                tile_2x4_i8mm(out + i * out_stride + j, out_stride, xq + i * x_stride, x_stride,
                              w + j * w_stride, w_stride, wbb, nb, dt, bias ? bias + j : NULL,
                              accumulate);
    }
    if (m2 < m)
        q8_gemm_dtype_dotprod(out + m2 * out_stride, out_stride, xq + m2 * x_stride, x_stride, w,
                              w_stride, 1, nb, n, dt, bias, accumulate);
    if (n4 < n && m2 > 0)
        q8_gemm_dtype_dotprod(out + n4, out_stride, xq, x_stride, w + n4 * w_stride, w_stride,
                              m2, nb, n - n4, dt, bias ? bias + n4 : NULL, accumulate);
}

static TARGET_I8MM void q8_gemm_dtype_i8mm(float *out, size_t out_stride,
                                           const unsigned char *xq, size_t x_stride,
                                           const unsigned char *w, size_t w_stride, size_t m,
                                           size_t nb, size_t n, vlm_dtype dt, const float *bias,
                                           bool accumulate) {
    if (m < 2) /* one row: sdot streams the weights as well */
        q8_gemm_dtype_dotprod(out, out_stride, xq, x_stride, w, w_stride, m, nb, n, dt, bias,
                              accumulate);
    else if (dt == VLM_DTYPE_Q8_0)
        q8_gemm_i8mm(out, out_stride, xq, x_stride, w, w_stride, m, nb, n, VLM_DTYPE_Q8_0, bias, accumulate);
    else if (dt == VLM_DTYPE_Q5_0)
        q8_gemm_i8mm(out, out_stride, xq, x_stride, w, w_stride, m, nb, n, VLM_DTYPE_Q5_0, bias, accumulate);
    else
        q8_gemm_i8mm(out, out_stride, xq, x_stride, w, w_stride, m, nb, n, VLM_DTYPE_Q4_0, bias, accumulate);
}

// ---- entries ----

typedef void (*gemm_fn)(float *out, size_t out_stride, const unsigned char *xq,
                        size_t x_stride, const unsigned char *w, size_t w_stride, size_t m,
                        size_t nb, size_t n, vlm_dtype dt, const float *bias, bool accumulate);

static bool is_kquant(vlm_dtype dt) { return dt == VLM_DTYPE_Q4_K || dt == VLM_DTYPE_Q6_K; }

/* The gemm of one instruction set for weights of dt. */
static gemm_fn gemm_for(vlmi_neon_int8_set set, vlm_dtype dt) {
    if (is_kquant(dt)) return set == VLMI_NEON_INT8_BASE ? q8k_gemm_dtype_base : q8k_gemm_dtype_dotprod;
    return set == VLMI_NEON_INT8_BASE      ? q8_gemm_dtype_base
           : set == VLMI_NEON_INT8_DOTPROD ? q8_gemm_dtype_dotprod
                                           : q8_gemm_dtype_i8mm;
}

// xq (m, k/32 Q8_0 or k/256 Q8_K blocks) @ W (n,k)^T + bias -> out (m,n) strided
void vlmi_neon_matmul_q8(vlmi_neon_int8_set set, float *out, size_t out_stride, const void *xq,
                         const void *w, vlm_dtype w_dtype, const float *bias, size_t m, size_t k,
                         size_t n) {
    bool kq = is_kquant(w_dtype);
    size_t nb = kq ? k / VLMI_QK_K : k / VLMI_QK;
    size_t x_stride = nb * (kq ? VLMI_Q8_K_BLOCK_BYTES : VLMI_Q8_0_BLOCK_BYTES);
    gemm_for(set, w_dtype)(out, out_stride, xq, x_stride, w, vlmi_kernels_row_bytes(w_dtype, k),
                           m, nb, n, w_dtype, bias, false);
}

// x (m,k) @ W (n,k)^T + bias -> out (m,n) strided, W quantized, x quantized
// on the fly in stack slabs: one slab gives matmul_q8's bits exactly
void vlmi_neon_matmul_quant(vlmi_neon_int8_set set, float *out, size_t out_stride,
                            const float *x, const void *w, vlm_dtype w_dtype, const float *bias,
                            size_t m, size_t k, size_t n) {
    _Alignas(16) unsigned char xq[Q8_K_STACK_BYTES > Q8_0_STACK_BYTES ? Q8_K_STACK_BYTES
                                                                      : Q8_0_STACK_BYTES];
    bool kq = is_kquant(w_dtype);
    size_t qk = kq ? VLMI_QK_K : VLMI_QK;
    size_t xbb = kq ? VLMI_Q8_K_BLOCK_BYTES : VLMI_Q8_0_BLOCK_BYTES;
    size_t stack = kq ? Q8_K_STACK_BYTES : Q8_0_STACK_BYTES;
    size_t nb = k / qk, wbb = vlmi_kernels_row_bytes(w_dtype, qk);
    size_t w_stride = vlmi_kernels_row_bytes(w_dtype, k), slab_max = stack / xbb;
    gemm_fn gemm = gemm_for(set, w_dtype);
    if (nb == 0) { /* no blocks: out = bias (or 0) */
        gemm(out, out_stride, xq, 0, w, w_stride, m, 0, n, w_dtype, bias, false);
        return;
    }
    /* slabs of blocks (one slab unless rows are very long) x chunks of rows */
    for (size_t b0 = 0; b0 < nb; b0 += slab_max) {
        size_t slab = nb - b0 < slab_max ? nb - b0 : slab_max;
        size_t slab_bytes = slab * xbb, rows_per_chunk = stack / slab_bytes;
        for (size_t i0 = 0; i0 < m; i0 += rows_per_chunk) {
            size_t rows = m - i0 < rows_per_chunk ? m - i0 : rows_per_chunk;
            for (size_t r = 0; r < rows; r++) {
                const float *xr = x + (i0 + r) * k + b0 * qk;
                if (kq) vlmi_neon_quantize_q8_k(xq + r * slab_bytes, xr, slab * qk);
                else vlmi_neon_quantize_q8_0(xq + r * slab_bytes, xr, slab * qk);
            }
            gemm(out + i0 * out_stride, out_stride, xq, slab_bytes,
                 (const unsigned char *)w + b0 * wbb, w_stride, rows, slab, n, w_dtype, bias,
                 b0 > 0);
        }
    }
}
