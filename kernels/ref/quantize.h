/* Weight quantizers: f32 rows -> ggml block bytes, for writing model files.
 *
 * Each produces exactly the blocks of llama.cpp's reference quantizer of the
 * same name (ggml/src/ggml-quants.c, quantize_row_*_ref), so a file written
 * here equals one llama-quantize writes from the same f32 values (without an
 * importance matrix). Dequantize with kernels.h's vlmi_dequant_*. Inputs
 * must be finite. */
#ifndef VLM_KERNELS_REF_QUANTIZE_H
#define VLM_KERNELS_REF_QUANTIZE_H

#include "vlm.h"

#include <stdbool.h>
#include <stddef.h>

/* x (n), n % 32 == 0 -> y (n/32 blocks of 34 bytes): d = amax/127 (f16),
 * q = round(x/d) half away from zero (with the f32 1/d) */
void vlmi_quantize_q8_0(void *y, const float *x, size_t n);
/* x (n), n % 32 == 0 -> y (n/32 blocks of 18 bytes): d = -max/8 where max is
 * the signed value of largest magnitude, q = min(15, trunc(x/d + 8.5)) */
void vlmi_quantize_q4_0(void *y, const float *x, size_t n);
/* x (n), n % 32 == 0 -> y (n/32 blocks of 22 bytes): as Q4_0 with 32
 * levels, d = -max/16, q = min(31, trunc(x/d + 16.5)); the fifth bits in qh */
void vlmi_quantize_q5_0(void *y, const float *x, size_t n);
/* x (n), n % 256 == 0 -> y (n/256 blocks of 144 bytes): per 32-element
 * group a weighted least-squares scale and min (make_qkx2_quants), then
 * both quantized to 6 bits against the super-block's d and dmin */
void vlmi_quantize_q4_k(void *y, const float *x, size_t n);

/* The quantizer of dtype (F16, Q8_0, Q4_0, Q5_0, Q4_K; F32 copies), or NULL. */
typedef void (*vlmi_quantize_fn)(void *y, const float *x, size_t n);
vlmi_quantize_fn vlmi_quantize_fn_for(vlm_dtype dtype);

#endif
