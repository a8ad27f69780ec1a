/* The internal kernel interface. Every kernel is defined in plain C in
 * kernels/ref (the specification); SIMD variants, when they come, keep the
 * same signatures and are tested against the reference.
 *
 * Conventions: outputs first, then inputs, then counts. Element counts of
 * quantized rows are multiples of the block size (32, or 256 for k-quants).
 * Quantized inputs are raw GGUF block bytes and need no alignment. */
#ifndef VLM_KERNELS_H
#define VLM_KERNELS_H

#include "vlm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- scalar conversions (IEEE binary16 and bfloat16 bit patterns) ---- */

/* Exact: every f16 and bf16 value is an f32 value (NaN payloads kept). */
float vlmi_f16_to_f32(uint16_t h);
float vlmi_bf16_to_f32(uint16_t b);
/* Round to nearest, ties to even; overflow gives infinity, NaN stays a
 * (quiet) NaN. */
uint16_t vlmi_f32_to_f16(float f);
uint16_t vlmi_f32_to_bf16(float f);

/* ---- row conversions: y (n) <- x (n) ---- */

void vlmi_convert_f32_to_f16(uint16_t *y, const float *x, size_t n);
void vlmi_convert_f32_to_bf16(uint16_t *y, const float *x, size_t n);

/* ---- dequantization: y (n floats) <- x (n elements of the type) ---- */

void vlmi_dequant_f32(float *y, const void *x, size_t n);  /* a copy */
void vlmi_dequant_f16(float *y, const void *x, size_t n);
void vlmi_dequant_bf16(float *y, const void *x, size_t n);
void vlmi_dequant_q8_0(float *y, const void *x, size_t n);  /* n % 32 == 0 */
void vlmi_dequant_q4_0(float *y, const void *x, size_t n);  /* n % 32 == 0 */
void vlmi_dequant_q4_1(float *y, const void *x, size_t n);  /* n % 32 == 0 */
void vlmi_dequant_q5_0(float *y, const void *x, size_t n);  /* n % 32 == 0 */
void vlmi_dequant_q5_1(float *y, const void *x, size_t n);  /* n % 32 == 0 */
void vlmi_dequant_q2_k(float *y, const void *x, size_t n);  /* n % 256 == 0 */
void vlmi_dequant_q3_k(float *y, const void *x, size_t n);  /* n % 256 == 0 */
void vlmi_dequant_q4_k(float *y, const void *x, size_t n);  /* n % 256 == 0 */
void vlmi_dequant_q5_k(float *y, const void *x, size_t n);  /* n % 256 == 0 */
void vlmi_dequant_q6_k(float *y, const void *x, size_t n);  /* n % 256 == 0 */

/* Elements per block of Q8_0 / Q4_0 / Q5_0, and the bytes of one block. */
#define VLMI_QK 32
#define VLMI_Q8_0_BLOCK_BYTES 34 /* d (f16), qs[32] (int8) */
#define VLMI_Q4_0_BLOCK_BYTES 18 /* d (f16), qs[16] (two nibbles each) */
/* d (f16), qh (the 32 fifth bits), qs[16] (nibbles as Q4_0); element l is
 * (nibble | bit l of qh << 4) - 16 */
#define VLMI_Q5_0_BLOCK_BYTES 22

/* Elements per k-quant super-block and the bytes of the blocks the matmul
 * kernels read (ggml's layouts; see ref/dequant.c for the fields). */
#define VLMI_QK_K 256
#define VLMI_Q4_K_BLOCK_BYTES 144 /* d, dmin (f16), scales[12], qs[128] */
#define VLMI_Q6_K_BLOCK_BYTES 210 /* ql[128], qh[64], scales[16] (int8), d (f16) */
/* Activations quantized for k-quant weights: ggml's block_q8_K,
 * d (f32), qs[256] (int8), bsums[16] (int16, sums of 16 consecutive qs) */
#define VLMI_Q8_K_BLOCK_BYTES 292

typedef void (*vlmi_dequant_fn)(float *y, const void *x, size_t n);

/* The dequantizer for dtype, or NULL if there is none (integer types, Q8_K,
 * Q8_1). */
vlmi_dequant_fn vlmi_dequant_fn_for(vlm_dtype dtype);

#endif
