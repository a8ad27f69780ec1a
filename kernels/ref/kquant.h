/* Reference k-quant matrix products over activations quantized to Q8_K: the
 * integer formulation every tier that quantizes activations follows (the
 * plain specification of a Q4_K / Q6_K matmul is vlmi_ref_matmul:
 * dequantize, then f32 dot products).
 *
 * Q8_K (ggml's block_q8_K layout, VLMI_Q8_K_BLOCK_BYTES): per super-block of
 * 256 values, amax = max |x|; if amax is 0 everything is 0, else
 * iscale = 127 / amax, d = 1 / iscale (f32), q = x * iscale rounded to
 * nearest, ties to even, clamped to [-127, 127] (never -128, which keeps the
 * AVX2 sign trick exact), and bsums[g] = sum of q[16g .. 16g+15]. It differs
 * from ggml's quantize_row_q8_K_ref only in the sign of d (ggml scales by
 * the signed extreme); the rounding error of an element is at most
 * amax / 254 (1 + 2^-22) + amax * 2^-23.
 *
 * The dot product of one super-block, with dx the activation scale and all
 * integer sums exact in int32:
 *   Q4_K: (dx*d) * sum_g sc_g * sum_{l<32} q_{32g+l} * qx_{32g+l}
 *       - (dx*dmin) * sum_g m_g * (bsums[2g] + bsums[2g+1])
 *   Q6_K: (dx*d) * sum_{g<16} sc_g * sum_{l<16} (q_{16g+l} - 32) * qx_{16g+l}
 * each product and difference rounded to f32 in that order; a row's blocks
 * are summed in order in f32. Other tiers sum in other orders (the integer
 * parts are the same), so they agree with this to f32 rounding. Inputs must
 * be finite. Little-endian hosts only, as GGUF. */
#ifndef VLM_KERNELS_REF_KQUANT_H
#define VLM_KERNELS_REF_KQUANT_H

#include "vlm.h"

#include <stddef.h>

/* x (n), n % 256 == 0 -> y (n/256 Q8_K blocks) */
void vlmi_ref_quantize_q8_k(void *y, const float *x, size_t n);

/* W row (n elements, Q4_K or Q6_K) . xq (n/256 Q8_K blocks), n % 256 == 0 */
float vlmi_ref_dot_q4_k_q8_k(const void *w, const void *xq, size_t n);
float vlmi_ref_dot_q6_k_q8_k(const void *w, const void *xq, size_t n);

/* The matmul of Q4_K / Q6_K weights with rows of x quantized by
 * vlmi_ref_quantize_q8_k (k % 256 == 0); bias NULL: none.
 * xq (m, k/256 Q8_K blocks) @ W (n,k)^T + bias (n,) -> out (m,n), row i at
 * out + i*out_stride */
void vlmi_ref_matmul_q8_k(float *out, size_t out_stride, const void *xq, const void *w,
                          vlm_dtype w_dtype, const float *bias, size_t m, size_t k,
                          size_t n);

#endif
