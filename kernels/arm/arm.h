/* AArch64 Advanced SIMD kernels (the kernels/arm sources, built only for aarch64,
 * where NEON needs no extra flags). Signatures and contracts: dispatch.h. */
#ifndef VLM_KERNELS_ARM_H
#define VLM_KERNELS_ARM_H

#include "dispatch.h"

/* F32, F16 and BF16 weights; other dtypes are the caller's to route.
 * x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n), row i at out + i*out_stride */
void vlmi_neon_matmul(float *out, size_t out_stride, const float *x, const void *w,
                      vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n);

/* Q4_K / Q6_K weights: each weight row dequantized exactly (ref dequant)
 * into a stack slab of up to 4096 values, then NEON f32 dot products with
 * every row of x. k % 256 == 0.
 * x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n), row i at out + i*out_stride */
void vlmi_neon_matmul_dequant(float *out, size_t out_stride, const float *x, const void *w,
                              vlm_dtype w_dtype, const float *bias, size_t m, size_t k,
                              size_t n);

#endif
