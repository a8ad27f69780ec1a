/* Reference compute kernels: plain scalar C, f32 accumulation, written to be
 * obviously correct. Every faster variant is tested against these.
 *
 * Conventions (as karpathy's run.c): the output comes first, then the inputs,
 * then the sizes; each signature carries its shape contract as a comment.
 * Matrices are row-major. Weights are stored as PyTorch's nn.Linear stores
 * them, (out_features, in_features), so a linear layer is x @ W^T. Kernels
 * never allocate and never fail: callers validate shapes and dtypes first
 * (see vlmi_ref_weight_dtype_supported). Weight pointers may be unaligned
 * (safetensors data is not aligned); kernels read them with memcpy. */
#ifndef VLM_KERNELS_REF_OPS_H
#define VLM_KERNELS_REF_OPS_H

#include "vlm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- weights ---- */

/* True if the matmul and row kernels read weights of this dtype
 * (F32, F16, BF16; Q8_0, Q4_0 and Q5_0, whose rows must hold a multiple of
 * 32 elements; the k-quants Q4_K and Q6_K, a multiple of 256). */
bool vlmi_ref_weight_dtype_supported(vlm_dtype dtype);

/* Row `row` of a (n_rows, n) weight matrix, converted to f32.
 * W (n_rows, n)[row] -> out (n,) */
void vlmi_ref_weight_row(float *out, const void *w, vlm_dtype dtype,
                         size_t row, size_t n);

/* ---- matmul ---- */

/* A linear layer over m rows of activations, with an optional bias (NULL:
 * none). out must not alias x.
 * x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n) */
void vlmi_ref_matmul(float *out, const float *x, const void *w, vlm_dtype w_dtype,
                     const float *bias, size_t m, size_t k, size_t n);

/* ---- normalization (row by row; out may equal x) ---- */

/* RMSNorm, Llama form: x / sqrt(mean(x^2) + eps) * weight.
 * x (n_rows, n), weight (n,) -> out (n_rows, n) */
void vlmi_ref_rmsnorm(float *out, const float *x, const float *weight,
                      size_t n_rows, size_t n, float eps);

/* LayerNorm: (x - mean) / sqrt(var + eps) * weight + bias, var biased.
 * x (n_rows, n), weight (n,), bias (n,) -> out (n_rows, n) */
void vlmi_ref_layernorm(float *out, const float *x, const float *weight,
                        const float *bias, size_t n_rows, size_t n, float eps);

/* ---- elementwise (out may equal x) ---- */

/* GELU, tanh approximation (PyTorch approximate="tanh", HF gelu_pytorch_tanh).
 * x (n,) -> out (n,) */
void vlmi_ref_gelu_tanh(float *out, const float *x, size_t n);
/* GELU, exact: 0.5 x (1 + erf(x / sqrt 2)) (HF "gelu"). x (n,) -> out (n,) */
void vlmi_ref_gelu_erf(float *out, const float *x, size_t n);
/* SiLU: x * sigmoid(x). x (n,) -> out (n,) */
void vlmi_ref_silu(float *out, const float *x, size_t n);
/* SwiGLU gate: silu(gate) * up. gate (n,), up (n,) -> out (n,) */
void vlmi_ref_silu_mul(float *out, const float *gate, const float *up, size_t n);
/* out += x. x (n,) -> out (n,) */
void vlmi_ref_add(float *out, const float *x, size_t n);

/* Numerically stable softmax in place: subtracts the max before exp.
 * x (n,) -> x (n,), sums to 1 */
void vlmi_ref_softmax(float *x, size_t n);

/* ---- rotary position embedding ---- */

/* RoPE in the rotate_half layout (Llama / Hugging Face): within each head,
 * dimension i < head_dim/2 pairs with i + head_dim/2, rotated by the angle
 * pos * theta^(-2i/head_dim). Row r has position pos0 + r. Computed in f32
 * the way transformers computes it (inv_freq, then angle, then cos/sin), so
 * results agree to the last bits. head_dim must be even.
 * x (n_rows, n_heads * head_dim) -> x rotated in place */
void vlmi_ref_rope(float *x, size_t n_rows, size_t n_heads, size_t head_dim,
                   size_t pos0, float theta);

/* RoPE as vlmi_ref_rope with linear scaling (transformers rope_type
 * "linear"): every inverse frequency divided by freq_scale, in f32, before
 * it multiplies the position (Gemma 3 global layers: 8).
 * x (n_rows, n_heads * head_dim) -> x rotated in place */
void vlmi_ref_rope_scaled(float *x, size_t n_rows, size_t n_heads, size_t head_dim,
                          size_t pos0, float theta, float freq_scale);

/* ---- attention ---- */

/* Scaled dot-product attention for all heads, with grouped-query attention:
 * query head h reads key/value head h / (n_heads / n_kv_heads).
 * Query row i sits at position q_pos0 + i of the key sequence; when causal it
 * attends to keys 0 ..= q_pos0 + i (which must be < n_kv), otherwise to all
 * n_kv keys. scores is scratch for n_kv floats. n_heads must be a multiple of
 * n_kv_heads.
 * q (n_q, n_heads*head_dim), k (n_kv, n_kv_heads*head_dim),
 * v (n_kv, n_kv_heads*head_dim) -> out (n_q, n_heads*head_dim) */
void vlmi_ref_attention(float *out, float *scores, const float *q,
                        const float *k, const float *v, size_t n_q, size_t n_kv,
                        size_t n_heads, size_t n_kv_heads, size_t head_dim,
                        size_t q_pos0, bool causal, float scale);

/* Which keys each query sees, by position, for vlmi_ref_attention_masked. */
typedef struct vlmi_attention_mask {
    size_t q_pos0;        /* position of query row 0; row i is at q_pos0 + i */
    size_t kv_pos0;       /* position of the first key; the n_kv keys have the
                             consecutive positions kv_pos0 .. kv_pos0 + n_kv - 1 */
    size_t kv_ring;       /* 0: the key of position p is row p - kv_pos0; else
                             row p % kv_ring (a ring buffer of kv_ring >= n_kv rows) */
    size_t window;        /* 0: no limit; else a query at p sees keys at > p - window */
    const size_t *kv_end; /* (n_q) exclusive end of the key positions each query
                             sees; NULL: causal, q_pos + 1. Past q_pos + 1 it lets
                             a block of queries see each other (Gemma 3 images). */
    float softcap;        /* 0: none; else score -> softcap * tanh(score / softcap),
                             after the scale (Gemma 2 attn_logit_softcapping) */
} vlmi_attention_mask;

/* The key positions query row i sees under mask: [*first, *end) (empty
 * when *first == *end); every tier follows it. */
static inline void vlmi_attention_visible(const vlmi_attention_mask *mask, size_t n_kv,
                                          size_t i, size_t *first, size_t *end) {
    size_t pos = mask->q_pos0 + i;
    size_t f = mask->kv_pos0;
    if (mask->window > 0 && pos + 1 > mask->window && pos + 1 - mask->window > f)
        f = pos + 1 - mask->window;
    size_t e = mask->kv_end != NULL ? mask->kv_end[i] : pos + 1;
    if (e > mask->kv_pos0 + n_kv) e = mask->kv_pos0 + n_kv;
    if (e < f) e = f;
    *first = f;
    *end = e;
}

/* Scaled dot-product attention as vlmi_ref_attention (grouped-query heads,
 * the same summation order), where query row i at position p sees the keys
 * at positions max(kv_pos0, p - window + 1) .. min(kv_end[i], kv_pos0 + n_kv) - 1
 * (see vlmi_attention_mask). A query that sees no key outputs zeros. scores
 * is scratch for n_kv floats.
 * q (n_q, n_heads*head_dim), k, v (rows of n_kv_heads*head_dim, see kv_ring)
 *   -> out (n_q, n_heads*head_dim) */
void vlmi_ref_attention_masked(float *out, float *scores, const float *q,
                               const float *k, const float *v, size_t n_q, size_t n_kv,
                               size_t n_heads, size_t n_kv_heads, size_t head_dim,
                               const vlmi_attention_mask *mask, float scale);

/* vlmi_ref_attention_masked over keys and values stored as IEEE f16 (queries,
 * scores and outputs f32): each element converted exactly to f32 where it is
 * read, so the result is bit for bit vlmi_ref_attention_masked of the
 * converted keys and values. A causal vlmi_ref_attention is the mask
 * {.q_pos0 = q_pos0} (bidirectional: {.q_pos0 = n_kv}).
 * q (n_q, n_heads*head_dim), k, v f16 (rows of n_kv_heads*head_dim, see kv_ring)
 *   -> out (n_q, n_heads*head_dim) */
void vlmi_ref_attention_masked_f16(float *out, float *scores, const float *q,
                                   const uint16_t *k, const uint16_t *v, size_t n_q,
                                   size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                   size_t head_dim, const vlmi_attention_mask *mask,
                                   float scale);

#endif
