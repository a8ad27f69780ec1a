/* Reference Q8_K activation quantizer and k-quant integer dot products (see
 * kquant.h). Scalar and field by field, to be read against dequant.c. */
#include "ref/kquant.h"

#include "kernels.h"

#include <math.h>
#include <string.h>

/* The same products in every compiler: no FMA contraction (GCC does not
 * contract in ISO C mode; clang needs telling). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define Q8_K_QS 4      /* offset of qs[256] in a Q8_K block */
#define Q8_K_BSUMS 260 /* offset of bsums[16] */

static float load_f16(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return vlmi_f16_to_f32(h);
}

/* Round to nearest, ties to even, without float-to-int conversion (no UB on
 * NaN): adding 1.5 * 2^23 leaves the integer in the low mantissa bits. Valid
 * for |v| < 2^22; the caller clamps. As ggml's nearest_int. */
static int nearest_int(float v) {
    float shifted = v + 12582912.0f;
    int32_t bits;
    memcpy(&bits, &shifted, 4);
    return (bits & 0x007fffff) - 0x00400000;
}

// x (n) -> y (n/256 Q8_K blocks)
void vlmi_ref_quantize_q8_k(void *y, const float *x, size_t n) {
    unsigned char *block = y;
    for (size_t b = 0; b < n / VLMI_QK_K; b++, block += VLMI_Q8_K_BLOCK_BYTES, x += VLMI_QK_K) {
        float amax = 0.0f;
        for (int j = 0; j < VLMI_QK_K; j++) amax = fmaxf(amax, fabsf(x[j]));
        int8_t qs[VLMI_QK_K];
        int16_t bsums[VLMI_QK_K / 16];
        float d = 0.0f;
        if (amax > 0.0f) {
            float iscale = 127.0f / amax;
            d = 1.0f / iscale;
            for (int j = 0; j < VLMI_QK_K; j++) {
                int q = nearest_int(x[j] * iscale);
                qs[j] = (int8_t)(q < -127 ? -127 : q > 127 ? 127 : q);
            }
        } else {
            memset(qs, 0, sizeof qs);
        }
        for (int g = 0; g < VLMI_QK_K / 16; g++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += qs[16 * g + l];
            bsums[g] = (int16_t)sum;
        }
        memcpy(block, &d, 4);
        memcpy(block + Q8_K_QS, qs, sizeof qs);
        memcpy(block + Q8_K_BSUMS, bsums, sizeof bsums);
    }
}

/* The 6-bit scale and minimum of group g of a Q4_K block (as dequant.c). */
static void k4_scale_min(const unsigned char *packed, int g, int *scale, int *minimum) {
    if (g < 4) {
        *scale = packed[g] & 63;
        *minimum = packed[g + 4] & 63;
    } else {
        *scale = (packed[g + 4] & 0x0f) | (packed[g - 4] >> 6) << 4;
        *minimum = (packed[g + 4] >> 4) | (packed[g] >> 6) << 4;
    }
}

static float q8_k_scale(const unsigned char *block) {
    float d;
    memcpy(&d, block, 4);
    return d;
}

static int q8_k_bsum(const unsigned char *block, int g) {
    int16_t s;
    memcpy(&s, block + Q8_K_BSUMS + 2 * g, 2);
    return s;
}

// W row (n, Q4_K) . xq (n/256 Q8_K blocks)
float vlmi_ref_dot_q4_k_q8_k(const void *w, const void *xq, size_t n) {
    const unsigned char *wb = w, *xb = xq;
    float sum = 0.0f;
    for (size_t b = 0; b < n / VLMI_QK_K;
         b++, wb += VLMI_Q4_K_BLOCK_BYTES, xb += VLMI_Q8_K_BLOCK_BYTES) {
        const unsigned char *packed = wb + 4, *qs = wb + 16;
        const int8_t *qx = (const int8_t *)(xb + Q8_K_QS);
        int32_t isum = 0, msum = 0;
        for (int g = 0; g < 8; g++) {
            int sc, m;
            k4_scale_min(packed, g, &sc, &m);
            const unsigned char *q = qs + 32 * (g / 2);
            int32_t dot = 0;
            for (int l = 0; l < 32; l++) {
                int nibble = g % 2 == 0 ? q[l] & 0x0f : q[l] >> 4;
                dot += nibble * qx[32 * g + l];
            }
            isum += sc * dot;
            msum += m * (q8_k_bsum(xb, 2 * g) + q8_k_bsum(xb, 2 * g + 1));
        }
        float dx = q8_k_scale(xb);
        float scale = dx * load_f16(wb), minimum = dx * load_f16(wb + 2);
        float block = scale * (float)isum - minimum * (float)msum;
        sum += block;
    }
    return sum;
}

// W row (n, Q6_K) . xq (n/256 Q8_K blocks)
float vlmi_ref_dot_q6_k_q8_k(const void *w, const void *xq, size_t n) {
    const unsigned char *wb = w, *xb = xq;
    float sum = 0.0f;
    for (size_t b = 0; b < n / VLMI_QK_K;
         b++, wb += VLMI_Q6_K_BLOCK_BYTES, xb += VLMI_Q8_K_BLOCK_BYTES) {
        const unsigned char *ql = wb, *qh = wb + 128;
        const int8_t *scales = (const int8_t *)(wb + 192);
        const int8_t *qx = (const int8_t *)(xb + Q8_K_QS);
        int32_t isum = 0;
        for (int g = 0; g < 16; g++) {
            int32_t dot = 0;
            for (int l = 0; l < 16; l++) {
                /* element i of half h, quarter k, lane ll (dequant.c) */
                int i = 16 * g + l, h = i / 128, k = (i % 128) / 32, ll = i % 32;
                unsigned char low_byte = ql[64 * h + ll + 32 * (k % 2)];
                int low = k < 2 ? low_byte & 0x0f : low_byte >> 4;
                int high = (qh[32 * h + ll] >> (2 * k)) & 3;
                dot += ((low | high << 4) - 32) * qx[i];
            }
            isum += scales[g] * dot;
        }
        float scale = q8_k_scale(xb) * load_f16(wb + 208);
        sum += scale * (float)isum;
    }
    return sum;
}

// xq (m, k/256 Q8_K blocks) @ W (n,k)^T + bias (n,) -> out (m,n) strided
void vlmi_ref_matmul_q8_k(float *out, size_t out_stride, const void *xq, const void *w,
                          vlm_dtype w_dtype, const float *bias, size_t m, size_t k,
                          size_t n) {
    size_t n_blocks = k / VLMI_QK_K;
    bool q4 = w_dtype == VLM_DTYPE_Q4_K;
    size_t w_row = n_blocks * (q4 ? VLMI_Q4_K_BLOCK_BYTES : VLMI_Q6_K_BLOCK_BYTES);
    size_t x_row = n_blocks * VLMI_Q8_K_BLOCK_BYTES;
    for (size_t i = 0; i < m; i++) {
        const unsigned char *x_i = (const unsigned char *)xq + i * x_row;
        for (size_t j = 0; j < n; j++) {
            const unsigned char *w_j = (const unsigned char *)w + j * w_row;
            float sum = q4 ? vlmi_ref_dot_q4_k_q8_k(w_j, x_i, k) : vlmi_ref_dot_q6_k_q8_k(w_j, x_i, k);
            out[i * out_stride + j] = bias ? sum + bias[j] : sum;
        }
    }
}
