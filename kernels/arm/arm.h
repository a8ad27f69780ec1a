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

/* attention_neon.c: attention with the contracts of the ref kernels
 * (ref/ops.h), every (row, head) pair on its own; and the decode entries
 * (dispatch.h: attention_decode_part / _reduce) */
void vlmi_neon_attention(float *out, float *scores, const float *q, const float *k,
                         const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                         size_t n_kv_heads, size_t head_dim, size_t q_pos0, bool causal,
                         float scale);
void vlmi_neon_attention_masked(float *out, float *scores, const float *q, const float *k,
                                const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                                size_t n_kv_heads, size_t head_dim,
                                const vlmi_attention_mask *mask, float scale);
void vlmi_neon_attention_masked_f16(float *out, float *scores, const float *q,
                                    const uint16_t *k, const uint16_t *v, size_t n_q,
                                    size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                    size_t head_dim, const vlmi_attention_mask *mask,
                                    float scale);
void vlmi_neon_attention_decode_part(float *part, const float *q, const void *k, const void *v,
                                     bool kv_f16, size_t n_q, size_t n_kv, size_t n_heads,
                                     size_t n_kv_heads, size_t head_dim,
                                     const vlmi_attention_mask *mask, float scale,
                                     size_t kv_head, size_t p0, size_t p1);
void vlmi_neon_attention_decode_reduce(float *out, const float *parts, size_t n_parts,
                                       size_t n_q, size_t n_heads, size_t n_kv_heads,
                                       size_t head_dim, size_t kv_head);

#endif
