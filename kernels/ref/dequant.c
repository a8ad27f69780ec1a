/* Reference conversions and dequantization: plain scalar C, written to be
 * read against the ggml block layouts (ggml-common.h). Faster variants are
 * tested against these, so clarity wins over speed here.
 *
 * Each quantized block is read field by field from its bytes (little-endian)
 * rather than through a struct, so unaligned input is fine. Block layouts
 * are given as "field[bytes]" in the order they are stored. */
#include "kernels.h"

#include <string.h>

/* The results must equal ggml's bit for bit, which an FMA contraction of
 * d * q - m would break. GCC does not contract in ISO C mode (-std=c11);
 * clang needs telling. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define QK 32    /* elements per block of the legacy quants */
#define QK_K 256 /* elements per k-quant super-block */

/* ---- scalar conversions ---- */

static float float_from_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint32_t bits_from_float(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

float vlmi_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    if (exponent == 0) {
        /* Zero or subnormal: mantissa * 2^-24, exact in f32. */
        float magnitude = (float)mantissa * 0x1p-24f;
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31)  /* infinity or NaN, payload kept */
        return float_from_bits(sign | 0x7f800000u | mantissa << 13);
    /* Normal: rebias the exponent from 15 to 127. */
    return float_from_bits(sign | (exponent + 112) << 23 | mantissa << 13);
}

float vlmi_bf16_to_f32(uint16_t b) { return float_from_bits((uint32_t)b << 16); }

/* Shifts value right by shift bits, rounding to nearest, ties to even. */
static uint32_t shift_round_even(uint32_t value, unsigned shift) {
    uint32_t kept = value >> shift;
    uint32_t dropped = value & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (dropped > half || (dropped == half && (kept & 1))) kept++;
    return kept;
}

uint16_t vlmi_f32_to_f16(float f) {
    uint32_t bits = bits_from_float(f);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    uint32_t magnitude = bits & 0x7fffffffu;
    uint32_t exponent = magnitude >> 23;
    uint32_t mantissa = magnitude & 0x7fffffu;
    if (magnitude > 0x7f800000u)  /* NaN: quiet, keep the top payload bits */
        return sign | 0x7e00 | (uint16_t)(mantissa >> 13);
    if (magnitude >= 0x477ff000u)  /* >= 65520 rounds past 65504: infinity */
        return sign | 0x7c00;
    if (magnitude >= 0x38800000u) {
        /* Normal in f16 (>= 2^-14): rebias, round away 13 mantissa bits; a
         * carry out of the mantissa correctly bumps the exponent. */
        uint32_t h = (exponent - 112) << 23 | mantissa;
        return sign | (uint16_t)shift_round_even(h, 13);
    }
    /* Subnormal in f16: count units of 2^-24. The f32 value is
     * (2^23 + mantissa) * 2^(exponent - 150), so shift by 126 - exponent. */
    if (exponent < 102)  /* below 2^-25: rounds to zero */
        return sign;
    return sign | (uint16_t)shift_round_even(mantissa | 0x800000u, 126 - exponent);
}

uint16_t vlmi_f32_to_bf16(float f) {
    uint32_t bits = bits_from_float(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u)  /* NaN: truncate and force quiet */
        return (uint16_t)(bits >> 16 | 0x40);
    /* Adding 0x7fff plus the kept lsb rounds to nearest even; an overflow
     * into the exponent gives the right result, up to infinity. */
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1)) >> 16);
}

void vlmi_convert_f32_to_f16(uint16_t *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = vlmi_f32_to_f16(x[i]);
}

void vlmi_convert_f32_to_bf16(uint16_t *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = vlmi_f32_to_bf16(x[i]);
}

/* ---- byte access ---- */

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float load_f16(const uint8_t *p) { return vlmi_f16_to_f32(load_u16(p)); }

/* ---- plain types ---- */

void vlmi_dequant_f32(float *y, const void *x, size_t n) { memcpy(y, x, n * sizeof *y); }

void vlmi_dequant_f16(float *y, const void *x, size_t n) {
    const uint8_t *p = x;
    for (size_t i = 0; i < n; i++) y[i] = load_f16(p + 2 * i);
}

void vlmi_dequant_bf16(float *y, const void *x, size_t n) {
    const uint8_t *p = x;
    for (size_t i = 0; i < n; i++) y[i] = vlmi_bf16_to_f32(load_u16(p + 2 * i));
}

/* ---- legacy quants: blocks of 32 ---- */

/* Q8_0: d[2] (f16 scale), qs[32] (int8). y = d * q. */
void vlmi_dequant_q8_0(float *y, const void *x, size_t n) {
    const uint8_t *block = x;
    for (size_t b = 0; b < n / QK; b++, block += 2 + QK, y += QK) {
        float d = load_f16(block);
        const int8_t *qs = (const int8_t *)(block + 2);
        for (int j = 0; j < QK; j++) y[j] = (float)qs[j] * d;
    }
}

/* Q4_0: d[2], qs[16]. Element j (< 16) is the low nibble of qs[j], element
 * j + 16 the high nibble; y = d * (nibble - 8). */
void vlmi_dequant_q4_0(float *y, const void *x, size_t n) {
    const uint8_t *block = x;
    for (size_t b = 0; b < n / QK; b++, block += 2 + QK / 2, y += QK) {
        float d = load_f16(block);
        const uint8_t *qs = block + 2;
        for (int j = 0; j < QK / 2; j++) {
            y[j] = (float)((qs[j] & 0x0f) - 8) * d;
            y[j + QK / 2] = (float)((qs[j] >> 4) - 8) * d;
        }
    }
}

/* Q4_1: d[2], m[2] (f16 minimum), qs[16] as in Q4_0. y = d * nibble + m. */
void vlmi_dequant_q4_1(float *y, const void *x, size_t n) {
    const uint8_t *block = x;
    for (size_t b = 0; b < n / QK; b++, block += 4 + QK / 2, y += QK) {
        float d = load_f16(block), m = load_f16(block + 2);
        const uint8_t *qs = block + 4;
        for (int j = 0; j < QK / 2; j++) {
            y[j] = (float)(qs[j] & 0x0f) * d + m;
            y[j + QK / 2] = (float)(qs[j] >> 4) * d + m;
        }
    }
}

/* The 5-bit value of element j of a Q5 block: the nibble as in Q4_0, plus
 * bit j of the 32-bit qh as bit 4. */
static int q5_value(const uint8_t *qs, uint32_t qh, int j) {
    int nibble = j < QK / 2 ? qs[j] & 0x0f : qs[j - QK / 2] >> 4;
    return nibble | (int)((qh >> j) & 1) << 4;
}

/* Q5_0: d[2], qh[4], qs[16]. y = d * (value - 16). */
void vlmi_dequant_q5_0(float *y, const void *x, size_t n) {
    const uint8_t *block = x;
    for (size_t b = 0; b < n / QK; b++, block += 6 + QK / 2, y += QK) {
        float d = load_f16(block);
        uint32_t qh = load_u32(block + 2);
        for (int j = 0; j < QK; j++) y[j] = (float)(q5_value(block + 6, qh, j) - 16) * d;
    }
}

/* Q5_1: d[2], m[2], qh[4], qs[16]. y = d * value + m. */
void vlmi_dequant_q5_1(float *y, const void *x, size_t n) {
    const uint8_t *block = x;
    for (size_t b = 0; b < n / QK; b++, block += 8 + QK / 2, y += QK) {
        float d = load_f16(block), m = load_f16(block + 2);
        uint32_t qh = load_u32(block + 4);
        for (int j = 0; j < QK; j++) y[j] = (float)q5_value(block + 8, qh, j) * d + m;
    }
}

/* ---- k-quants: super-blocks of 256 ---- */

/* Q2_K: scales[16], qs[64], d[2], dmin[2]. Sixteen groups of 16; group g
 * has scale (scales[g] & 15) * d and minimum (scales[g] >> 4) * dmin.
 * Element i lives in qs byte 32 * (i / 128) + i % 32, at bit pair
 * (i % 128) / 32. y = scale * q - minimum. */
void vlmi_dequant_q2_k(float *y, const void *x, size_t n) {
    const uint8_t *block = x;
    for (size_t b = 0; b < n / QK_K; b++, block += 84, y += QK_K) {
        const uint8_t *scales = block, *qs = block + 16;
        float d = load_f16(block + 80), dmin = load_f16(block + 82);
        for (int i = 0; i < QK_K; i++) {
            int g = i / 16;
            float scale = d * (float)(scales[g] & 0x0f);
            float minimum = dmin * (float)(scales[g] >> 4);
            int q = (qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3;
            y[i] = scale * (float)q - minimum;
        }
    }
}

/* Q3_K: hmask[32], qs[64], scales[12], d[2]. Sixteen groups of 16 with
 * 6-bit signed scales (value - 32): the low 4 bits of scale g are a nibble
 * of scales[g % 8] (low for g < 8), the high 2 bits are bit pair g / 4 of
 * scales[8 + g % 4]. Element i has 2 low bits placed as in Q2_K, and bit
 * i / 32 of hmask[i % 32]: when that bit is clear, 4 is subtracted.
 * y = d * scale * q. */
void vlmi_dequant_q3_k(float *y, const void *x, size_t n) {
    const uint8_t *block = x;
    for (size_t b = 0; b < n / QK_K; b++, block += 110, y += QK_K) {
        const uint8_t *hmask = block, *qs = block + 32, *scales = block + 96;
        float d = load_f16(block + 108);
        for (int i = 0; i < QK_K; i++) {
            int g = i / 16;
            int low = g < 8 ? scales[g] & 0x0f : scales[g - 8] >> 4;
            int high = (scales[8 + g % 4] >> (2 * (g / 4))) & 3;
            float scale = d * (float)((low | high << 4) - 32);
            int q = (qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3;
            if (!((hmask[i % 32] >> (i / 32)) & 1)) q -= 4;
            y[i] = scale * (float)q;
        }
    }
}

/* The 6-bit scale and minimum of group g (0..7) of a Q4_K/Q5_K block, packed
 * in 12 bytes: groups 0-3 in the low 6 bits of bytes g (scale) and g + 4
 * (minimum); groups 4-7 take their low 4 bits from byte g + 4 (scale low
 * nibble, minimum high nibble) and their top 2 bits from the top bits of
 * bytes g - 4 (scale) and g (minimum). */
static void k4_scale_min(const uint8_t *packed, int g, int *scale, int *minimum) {
    if (g < 4) {
        *scale = packed[g] & 63;
        *minimum = packed[g + 4] & 63;
    } else {
        *scale = (packed[g + 4] & 0x0f) | (packed[g - 4] >> 6) << 4;
        *minimum = (packed[g + 4] >> 4) | (packed[g] >> 6) << 4;
    }
}

/* Q4_K: d[2], dmin[2], scales[12], qs[128]. Eight groups of 32; group g
 * reads nibbles from qs[32 * (g / 2) ..], low nibbles for even g, high for
 * odd. y = d * scale * q - dmin * minimum. */
void vlmi_dequant_q4_k(float *y, const void *x, size_t n) {
    const uint8_t *block = x;
    for (size_t b = 0; b < n / QK_K; b++, block += 144, y += QK_K) {
        float d = load_f16(block), dmin = load_f16(block + 2);
        const uint8_t *packed = block + 4, *qs = block + 16;
        for (int g = 0; g < 8; g++) {
            int sc, m;
            k4_scale_min(packed, g, &sc, &m);
            float scale = d * (float)sc, minimum = dmin * (float)m;
            const uint8_t *q = qs + 32 * (g / 2);
            for (int l = 0; l < 32; l++) {
                int nibble = g % 2 == 0 ? q[l] & 0x0f : q[l] >> 4;
                y[32 * g + l] = scale * (float)nibble - minimum;
            }
        }
    }
}

/* Q5_K: d[2], dmin[2], scales[12], qh[32], qs[128]. As Q4_K, plus bit g of
 * qh[l] as bit 4 of element l of group g. */
void vlmi_dequant_q5_k(float *y, const void *x, size_t n) {
    const uint8_t *block = x;
    for (size_t b = 0; b < n / QK_K; b++, block += 176, y += QK_K) {
        float d = load_f16(block), dmin = load_f16(block + 2);
        const uint8_t *packed = block + 4, *qh = block + 16, *qs = block + 48;
        for (int g = 0; g < 8; g++) {
            int sc, m;
            k4_scale_min(packed, g, &sc, &m);
            float scale = d * (float)sc, minimum = dmin * (float)m;
            const uint8_t *q = qs + 32 * (g / 2);
            for (int l = 0; l < 32; l++) {
                int nibble = g % 2 == 0 ? q[l] & 0x0f : q[l] >> 4;
                int value = nibble | ((qh[l] >> g) & 1) << 4;
                y[32 * g + l] = scale * (float)value - minimum;
            }
        }
    }
}

/* Q6_K: ql[128], qh[64], scales[16] (int8), d[2]. Two halves of 128; in
 * half h, element 32 * k + l (k = 0..3, l = 0..31) has its low 4 bits from
 * ql[64 * h + l + 32 * (k % 2)] (low nibble for k < 2, high otherwise) and
 * its top 2 bits from bit pair k of qh[32 * h + l]; its scale is
 * scales[8 * h + 2 * k + l / 16]. y = d * scale * (q - 32). */
void vlmi_dequant_q6_k(float *y, const void *x, size_t n) {
    const uint8_t *block = x;
    for (size_t b = 0; b < n / QK_K; b++, block += 210, y += QK_K) {
        const uint8_t *ql = block, *qh = block + 128;
        const int8_t *scales = (const int8_t *)(block + 192);
        float d = load_f16(block + 208);
        for (int h = 0; h < 2; h++) {
            for (int k = 0; k < 4; k++) {
                for (int l = 0; l < 32; l++) {
                    uint8_t low_byte = ql[64 * h + l + 32 * (k % 2)];
                    int low = k < 2 ? low_byte & 0x0f : low_byte >> 4;
                    int high = (qh[32 * h + l] >> (2 * k)) & 3;
                    float scale = d * (float)scales[8 * h + 2 * k + l / 16];
                    y[128 * h + 32 * k + l] = scale * (float)((low | high << 4) - 32);
                }
            }
        }
    }
}

/* ---- dispatch ---- */

vlmi_dequant_fn vlmi_dequant_fn_for(vlm_dtype dtype) {
    switch (dtype) {
    case VLM_DTYPE_F32: return vlmi_dequant_f32;
    case VLM_DTYPE_F16: return vlmi_dequant_f16;
    case VLM_DTYPE_BF16: return vlmi_dequant_bf16;
    case VLM_DTYPE_Q8_0: return vlmi_dequant_q8_0;
    case VLM_DTYPE_Q4_0: return vlmi_dequant_q4_0;
    case VLM_DTYPE_Q4_1: return vlmi_dequant_q4_1;
    case VLM_DTYPE_Q5_0: return vlmi_dequant_q5_0;
    case VLM_DTYPE_Q5_1: return vlmi_dequant_q5_1;
    case VLM_DTYPE_Q2_K: return vlmi_dequant_q2_k;
    case VLM_DTYPE_Q3_K: return vlmi_dequant_q3_k;
    case VLM_DTYPE_Q4_K: return vlmi_dequant_q4_k;
    case VLM_DTYPE_Q5_K: return vlmi_dequant_q5_k;
    case VLM_DTYPE_Q6_K: return vlmi_dequant_q6_k;
    default: return NULL;
    }
}
