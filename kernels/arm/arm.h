/* AArch64 Advanced SIMD kernels (the kernels/arm sources, built only for aarch64,
 * where NEON needs no extra flags). Signatures and contracts: dispatch.h. */
#ifndef VLM_KERNELS_ARM_H
#define VLM_KERNELS_ARM_H

#include "dispatch.h"

/* F32, F16 and BF16 weights; other dtypes are the caller's to route.
 * x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n), row i at out + i*out_stride */
void vlmi_neon_matmul(float *out, size_t out_stride, const float *x, const void *w,
                      vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n);

/* quant_neon.c: quantized weights with activations quantized to 8 bits on
 * the fly (the quantizes_activations contract of dispatch.h), in one of
 * three instruction sets, all giving the same bits: dispatch.c picks the
 * best the CPU has. */
typedef enum vlmi_neon_int8_set {
    VLMI_NEON_INT8_BASE = 0,    /* ARMv8.0 Advanced SIMD: smull / sadalp */
    VLMI_NEON_INT8_DOTPROD = 1, /* FEAT_DotProd: sdot */
    VLMI_NEON_INT8_I8MM = 2,    /* FEAT_I8MM (+ dotprod): smmla for >= 2 rows of x */
} vlmi_neon_int8_set;

/* quantize_q8_0 / quantize_q8_k of dispatch.h: bytes identical to ref */
void vlmi_neon_quantize_q8_0(void *y, const float *x, size_t n);
void vlmi_neon_quantize_q8_k(void *y, const float *x, size_t n);

/* matmul_q8 of dispatch.h (Q8_0 / Q4_0 / Q5_0 weights with Q8_0 rows, Q4_K /
 * Q6_K with Q8_K rows), with the instruction set `set`.
 * xq (m, k/32 or k/256 blocks) @ W (n,k)^T + bias (n,) -> out (m,n) strided */
void vlmi_neon_matmul_q8(vlmi_neon_int8_set set, float *out, size_t out_stride, const void *xq,
                         const void *w, vlm_dtype w_dtype, const float *bias, size_t m, size_t k,
                         size_t n);

/* The same weights with x in f32, quantized in stack slabs (equal to
 * quantize + vlmi_neon_matmul_q8 when a row fits one slab: 481 Q8_0 or 112
 * Q8_K blocks). x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n) strided */
void vlmi_neon_matmul_quant(vlmi_neon_int8_set set, float *out, size_t out_stride,
                            const float *x, const void *w, vlm_dtype w_dtype, const float *bias,
                            size_t m, size_t k, size_t n);

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
                                     vlm_dtype kv_dtype, size_t n_q, size_t n_kv,
                                     size_t n_heads, size_t n_kv_heads, size_t head_dim,
                                     const vlmi_attention_mask *mask, float scale,
                                     size_t kv_head, size_t p0, size_t p1);
void vlmi_neon_attention_decode_reduce(float *out, const float *parts, size_t n_parts,
                                       size_t n_q, size_t n_heads, size_t n_kv_heads,
                                       size_t head_dim, size_t kv_head);

#endif
