/* Reference weight quantizers, written after llama.cpp's quantize_row_*_ref
 * (ggml/src/ggml-quants.c, MIT): the same operations in the same order and
 * precision, so the blocks are identical. Blocks are written byte by byte
 * (little-endian), as dequant.c reads them. */
#include "ref/quantize.h"

#include "kernels.h"

#include <math.h>
#include <string.h>

/* Bit-identical results need the products and sums rounded one at a time,
 * as ggml's reference compiles them; GCC does not contract in ISO C mode. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define QK 32
#define QK_K 256

static void store_f16(uint8_t *p, float f) {
    uint16_t h = vlmi_f32_to_f16(f);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

static float load_f16(const uint8_t *p) {
    return vlmi_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

/* ggml's nearest_int: adding 1.5 * 2^23 leaves the rounded integer (ties to
 * even) in the low mantissa bits; valid for |f| < 2^22. */
static int nearest_int(float f) {
    float shifted = f + 12582912.f;
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// ---- Q8_0: d[2], qs[32] ----

void vlmi_quantize_q8_0(void *y, const float *x, size_t n) {
    uint8_t *block = y;
    for (size_t b = 0; b < n / QK; b++, block += VLMI_Q8_0_BLOCK_BYTES, x += QK) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_f16(block, d);
        for (int j = 0; j < QK; j++) block[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
    }
}

/* The value of largest magnitude of a 32-element block, with its sign (the
 * first of equal magnitudes). */
static float signed_absmax(const float *x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

/* Q4_0 (levels 16: d[2], qs[16]) and Q5_0 (levels 32: d[2], qh[4], qs[16]):
 * d = -max / (levels/2), q = min(levels-1, trunc(x/d + levels/2 + 0.5)) (x/d
 * lies in [-levels/2, levels/2], so truncation rounds half up); element j
 * in the low nibble of qs[j], j + 16 in the high; Q5_0's fifth bit of
 * element j in bit j of qh. */
static void quantize_signed_blocks(uint8_t *block, const float *x, size_t n, int levels,
                                   size_t block_bytes) {
    float half = (float)(levels / 2), offset = half + 0.5f;
    for (size_t b = 0; b < n / QK; b++, block += block_bytes, x += QK) {
        float d = signed_absmax(x) / -half;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_f16(block, d);
        uint8_t *qs = block + block_bytes - QK / 2;
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            int lo = clamp_int((int8_t)(x[j] * id + offset), 0, levels - 1);
            int hi = clamp_int((int8_t)(x[QK / 2 + j] * id + offset), 0, levels - 1);
            qs[j] = (uint8_t)((lo & 0xf) | (hi & 0xf) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + QK / 2);
        }
        if (levels == 32)
            for (int i = 0; i < 4; i++) block[2 + i] = (uint8_t)(qh >> (8 * i));
    }
}

void vlmi_quantize_q4_0(void *y, const float *x, size_t n) {
    quantize_signed_blocks(y, x, n, 16, VLMI_Q4_0_BLOCK_BYTES);
}

void vlmi_quantize_q5_0(void *y, const float *x, size_t n) {
    quantize_signed_blocks(y, x, n, 32, VLMI_Q5_0_BLOCK_BYTES);
}

// ---- Q4_K: d[2], dmin[2], scales[12], qs[128] ----

/* make_qkx2_quants: levels L (0..nmax) and a scale (returned) and min
 * (*neg_min = -min) for x (n) that minimise the weighted squared error,
 * searching nstep + 1 inverse scales around nmax / (max - min). */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L,
                           float *neg_min, float rmin, float rdelta, int nstep) {
    uint8_t Laux[QK];
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *neg_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min), scale = 1 / iscale, best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
        L[i] = (uint8_t)l;
        float diff = scale * (float)L[i] + min - x[i];
        best_error += w[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float wl = w[i] * (float)l;
            sum_l += wl;
            sum_l2 += wl * (float)l;
            sum_xl += wl * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * (float)Laux[i] + this_min - x[i];
                cur_error += w[i] * (diff * diff);
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *neg_min = -min;
    return scale;
}

/* Group g's 6-bit scale and min from the packed scales[12] (dequant.c's
 * k4_scale_min). */
static void k4_scale_min(const uint8_t *q, int g, int *sc, int *m) {
    if (g < 4) {
        *sc = q[g] & 63;
        *m = q[g + 4] & 63;
    } else {
        *sc = (q[g + 4] & 0xf) | (q[g - 4] >> 6) << 4;
        *m = (q[g + 4] >> 4) | (q[g] >> 6) << 4;
    }
}

void vlmi_quantize_q4_k(void *y, const float *x, size_t n) {
    uint8_t *block = y;
    for (size_t b = 0; b < n / QK_K; b++, block += VLMI_Q4_K_BLOCK_BYTES, x += QK_K) {
        uint8_t L[QK_K];
        float weights[32], mins[QK_K / 32], scales[QK_K / 32];
        float max_scale = 0, max_min = 0;
        for (int g = 0; g < QK_K / 32; g++) {
            const float *xg = x + 32 * g;
            float sum_x2 = 0;
            for (int l = 0; l < 32; l++) sum_x2 += xg[l] * xg[l];
            float av_x = sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(xg[l]);
            scales[g] = fit_scale_min(32, 15, xg, weights, L + 32 * g, &mins[g], -1.f, 0.1f, 20);
            if (scales[g] > max_scale) max_scale = scales[g];
            if (mins[g] > max_min) max_min = mins[g];
        }

        uint8_t *packed = block + 4, *qs = block + 16;
        memset(packed, 0, 12);
        float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
        float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
        for (int g = 0; g < QK_K / 32; g++) {
            /* ggml keeps the low byte of nearest_int, then caps at 63 */
            int ls = (uint8_t)nearest_int(inv_scale * scales[g]);
            int lm = (uint8_t)nearest_int(inv_min * mins[g]);
            ls = ls < 63 ? ls : 63;
            lm = lm < 63 ? lm : 63;
            if (g < 4) {
                packed[g] = (uint8_t)ls;
                packed[g + 4] = (uint8_t)lm;
            } else {
                packed[g + 4] = (uint8_t)((ls & 0xf) | (lm & 0xf) << 4);
                packed[g - 4] |= (uint8_t)((ls >> 4) << 6);
                packed[g] |= (uint8_t)((lm >> 4) << 6);
            }
        }
        store_f16(block, max_scale / 63.f);
        store_f16(block + 2, max_min / 63.f);

        /* the levels again, against the scales as stored */
        float d_all = load_f16(block), dmin_all = load_f16(block + 2);
        for (int g = 0; g < QK_K / 32; g++) {
            int sc, m;
            k4_scale_min(packed, g, &sc, &m);
            float d = d_all * (float)sc;
            if (d == 0.0f) continue;
            float dm = dmin_all * (float)m;
            for (int l = 0; l < 32; l++)
                L[32 * g + l] = (uint8_t)clamp_int(nearest_int((x[32 * g + l] + dm) / d), 0, 15);
        }
        /* 64 elements per 32 bytes: j + l in the low nibble, j + 32 + l in the high */
        for (int j = 0; j < QK_K; j += 64)
            for (int l = 0; l < 32; l++)
                qs[j / 2 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
    }
}

// ---- dispatch ----

static void quantize_f16(void *y, const float *x, size_t n) {
    uint8_t *p = y;
    for (size_t i = 0; i < n; i++) store_f16(p + 2 * i, x[i]);
}

static void quantize_f32(void *y, const float *x, size_t n) { memcpy(y, x, n * sizeof *x); }

vlmi_quantize_fn vlmi_quantize_fn_for(vlm_dtype dtype) {
    switch (dtype) {
    case VLM_DTYPE_F32: return quantize_f32;
    case VLM_DTYPE_F16: return quantize_f16;
    case VLM_DTYPE_Q8_0: return vlmi_quantize_q8_0;
    case VLM_DTYPE_Q4_0: return vlmi_quantize_q4_0;
    case VLM_DTYPE_Q5_0: return vlmi_quantize_q5_0;
    case VLM_DTYPE_Q4_K: return vlmi_quantize_q4_k;
    default: return NULL;
    }
}
