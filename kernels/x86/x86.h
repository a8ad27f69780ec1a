/* AVX2 + FMA + F16C kernels (the kernels/x86 sources, each compiled with
 * -mavx2 -mfma -mf16c and only reached through the dispatch table after
 * cpuid says the CPU has them). Signatures and contracts: dispatch.h. */
#ifndef VLM_KERNELS_X86_H
#define VLM_KERNELS_X86_H

#include "dispatch.h"

// x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n), row i at out + i*out_stride
void vlmi_avx2_matmul(float *out, size_t out_stride, const float *x, const void *w,
                      vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n);
// The Q8_0 / Q4_0 case of vlmi_avx2_matmul: x quantized to Q8_0 on the fly.
void vlmi_avx2_matmul_quant(float *out, size_t out_stride, const float *x, const void *w,
                            vlm_dtype w_dtype, const float *bias, size_t m, size_t k,
                            size_t n);
// x (n) -> y (n/32 Q8_0 blocks), bytes identical to the ref tier
void vlmi_avx2_quantize_q8_0(void *y, const float *x, size_t n);
// xq (m, k/32 Q8_0 blocks) @ W (n,k)^T (Q8_0 or Q4_0) + bias -> out (m,n) strided;
// Q4_K / Q6_K weights with xq in Q8_K go to vlmi_avx2_matmul_q8_k
void vlmi_avx2_matmul_q8(float *out, size_t out_stride, const void *xq, const void *w,
                         vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n);

/* kquant_avx2.c: Q4_K / Q6_K weights with activations in Q8_K (ref/kquant.h) */
// x (n) -> y (n/256 Q8_K blocks), bytes identical to the ref tier
void vlmi_avx2_quantize_q8_k(void *y, const float *x, size_t n);
// xq (m, k/256 Q8_K blocks) @ W (n,k)^T (Q4_K or Q6_K) + bias -> out (m,n) strided
void vlmi_avx2_matmul_q8_k(float *out, size_t out_stride, const void *xq, const void *w,
                           vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n);
// The Q4_K / Q6_K case of vlmi_avx2_matmul: x quantized to Q8_K on the fly.
void vlmi_avx2_matmul_kquant(float *out, size_t out_stride, const float *x, const void *w,
                             vlm_dtype w_dtype, const float *bias, size_t m, size_t k,
                             size_t n);

// x (n_rows, n), weight (n,) -> out (n_rows, n)
void vlmi_avx2_rmsnorm(float *out, const float *x, const float *weight, size_t n_rows,
                       size_t n, float eps);
// x (n_rows, n), weight (n,), bias (n,) -> out (n_rows, n)
void vlmi_avx2_layernorm(float *out, const float *x, const float *weight,
                         const float *bias, size_t n_rows, size_t n, float eps);
void vlmi_avx2_gelu_tanh(float *out, const float *x, size_t n);  // x (n) -> out (n)
void vlmi_avx2_silu(float *out, const float *x, size_t n);       // x (n) -> out (n)
// gate (n), up (n) -> out (n)
void vlmi_avx2_silu_mul(float *out, const float *gate, const float *up, size_t n);
void vlmi_avx2_add(float *out, const float *x, size_t n);        // out (n) += x (n)
void vlmi_avx2_softmax(float *x, size_t n);                      // x (n) in place

/* attention_avx2.c: the same contracts as the ref attention kernels */
void vlmi_avx2_attention(float *out, float *scores, const float *q, const float *k,
                         const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                         size_t n_kv_heads, size_t head_dim, size_t q_pos0, bool causal,
                         float scale);
void vlmi_avx2_attention_masked(float *out, float *scores, const float *q, const float *k,
                                const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                                size_t n_kv_heads, size_t head_dim,
                                const vlmi_attention_mask *mask, float scale);
void vlmi_avx2_attention_share(float *out, const float *q, const float *k, const float *v,
                               size_t n_kv, size_t n_heads, size_t n_kv_heads,
                               size_t head_dim, const vlmi_attention_mask *mask,
                               float scale, size_t kv_head, size_t i0, size_t i1);
/* the same over keys and values stored as f16 (ref/ops.h:
 * vlmi_ref_attention_masked_f16; dispatch.h: the _f16 entries) */
void vlmi_avx2_attention_masked_f16(float *out, float *scores, const float *q,
                                    const uint16_t *k, const uint16_t *v, size_t n_q,
                                    size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                    size_t head_dim, const vlmi_attention_mask *mask,
                                    float scale);
void vlmi_avx2_attention_share_f16(float *out, const float *q, const uint16_t *k,
                                   const uint16_t *v, size_t n_kv, size_t n_heads,
                                   size_t n_kv_heads, size_t head_dim,
                                   const vlmi_attention_mask *mask, float scale,
                                   size_t kv_head, size_t i0, size_t i1);

/* decode attention by key segments (dispatch.h: attention_decode_part / _reduce) */
void vlmi_avx2_attention_decode_part(float *part, const float *q, const void *k,
                                     const void *v, vlm_dtype kv_dtype, size_t n_q,
                                     size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                     size_t head_dim, const vlmi_attention_mask *mask,
                                     float scale, size_t kv_head, size_t p0, size_t p1);
void vlmi_avx2_attention_decode_reduce(float *out, const float *parts, size_t n_parts,
                                       size_t n_q, size_t n_heads, size_t n_kv_heads,
                                       size_t head_dim, size_t kv_head);

#endif
