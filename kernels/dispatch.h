/* The one internal kernel interface: a table of function pointers, one
 * implementation tier per table (ref, avx2, neon), chosen once at run time.
 *
 * kernels/ref is the specification; every tier keeps its signatures and is
 * tested against it (tests/kernels). A tier fills only the entries it makes
 * faster and takes the rest from ref, so a table is always complete.
 *
 * The tier is chosen on first use, thread-safely: the best one the CPU runs
 * (cpuid + xgetbv on x86, compiled without ISA flags; neon on AArch64, its
 * int8 instruction set from getauxval / sysctl), unless the environment
 * variable VLM_KERNELS names one (ref, avx2, neon); a name this build or CPU
 * cannot run falls back to the automatic choice.
 *
 * Matrices are row-major; weights are (out_features, in_features) as
 * nn.Linear stores them; a matmul's output rows may be strided (out_stride
 * >= n) so that threads can each fill a band of columns. Kernels never
 * allocate and never fail: callers check dtypes with
 * vlmi_kernels_weight_dtype_supported and shapes before calling. */
#ifndef VLM_KERNELS_DISPATCH_H
#define VLM_KERNELS_DISPATCH_H

#include "ref/kquant.h"
#include "ref/ops.h"
#include "threadpool.h"
#include "vlm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum vlmi_kernel_tier {
    VLMI_KERNELS_REF = 0,  /* plain C, the specification */
    VLMI_KERNELS_AVX2 = 1, /* x86-64 AVX2 + FMA + F16C */
    VLMI_KERNELS_NEON = 2, /* AArch64 Advanced SIMD */
    VLMI_KERNELS_TIER_COUNT
} vlmi_kernel_tier;

typedef struct vlmi_kernel_table {
    const char *name;      /* "ref", "avx2", "neon" */
    vlmi_kernel_tier tier;
    /* true if matmul quantizes x to Q8_0 for Q8_0 / Q4_0 weights and to Q8_K
     * for Q4_K / Q6_K weights (and so equals quantize_q8_0 or quantize_q8_k,
     * then matmul_q8); false if it dequantizes W exactly */
    bool quantizes_activations;
    /* the instruction set of those int8 products where a tier chooses one
     * at run time (neon: "base", "dotprod", "i8mm"; VLM_NEON_INT8 caps
     * it, see dispatch.c), else NULL; for tests and logs */
    const char *int8_variant;

    /* ---- matrix products ---- */

    /* A linear layer over m rows, optional bias (NULL: none). Weight dtypes:
     * F32, F16, BF16, Q8_0, Q4_0 (k % 32 == 0), Q4_K, Q6_K (k % 256 == 0); a
     * tier may quantize x to 8 bits on the fly for the quantized ones, see
     * the bounds in tests/kernels. out must not alias x. w needs no alignment.
     * x (m,k) @ W (n,k)^T + bias (n,) -> out (m, n), row i at out + i*out_stride */
    void (*matmul)(float *out, size_t out_stride, const float *x, const void *w,
                   vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n);

    /* Quantizes rows to Q8_0 as ggml's quantize_row_q8_0_ref does
     * (d = max|x| / 127, q = round(x / d)); every tier gives identical bytes.
     * x (n), n % 32 == 0 -> y (n / 32 blocks of 34 bytes) */
    void (*quantize_q8_0)(void *y, const float *x, size_t n);

    /* The matmul of Q8_0 / Q4_0 weights with activations already quantized
     * by quantize_q8_0 (rows of k / 32 blocks, k % 32 == 0), or of Q4_K /
     * Q6_K weights with activations quantized by quantize_q8_k (rows of
     * k / 256 blocks, k % 256 == 0): integer dot products per block, scaled
     * and summed in f32 (for the k-quants, ref/kquant.h is the contract).
     * xq (m, k/32 or k/256 blocks) @ W (n,k)^T + bias (n,) -> out (m, n) strided */
    void (*matmul_q8)(float *out, size_t out_stride, const void *xq, const void *w,
                      vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n);

    /* Quantizes rows to Q8_K as vlmi_ref_quantize_q8_k (ref/kquant.h); every
     * tier gives identical bytes. x (n), n % 256 == 0 -> y (n / 256 blocks of
     * VLMI_Q8_K_BLOCK_BYTES) */
    void (*quantize_q8_k)(void *y, const float *x, size_t n);

    /* ---- normalization (row by row; out may equal x) ---- */

    /* x (n_rows, n), weight (n,) -> out (n_rows, n) */
    void (*rmsnorm)(float *out, const float *x, const float *weight, size_t n_rows,
                    size_t n, float eps);
    /* x (n_rows, n), weight (n,), bias (n,) -> out (n_rows, n) */
    void (*layernorm)(float *out, const float *x, const float *weight, const float *bias,
                      size_t n_rows, size_t n, float eps);

    /* ---- elementwise (out may equal x) ---- */

    void (*gelu_tanh)(float *out, const float *x, size_t n);  /* x (n) -> out (n) */
    void (*gelu_erf)(float *out, const float *x, size_t n);   /* x (n) -> out (n) */
    void (*silu)(float *out, const float *x, size_t n);       /* x (n) -> out (n) */
    /* gate (n), up (n) -> out (n) = silu(gate) * up */
    void (*silu_mul)(float *out, const float *gate, const float *up, size_t n);
    void (*add)(float *out, const float *x, size_t n);        /* out (n) += x (n) */
    void (*softmax)(float *x, size_t n);                      /* x (n) in place */

    /* ---- position and attention (see ref/ops.h for the contracts) ---- */

    void (*rope)(float *x, size_t n_rows, size_t n_heads, size_t head_dim, size_t pos0,
                 float theta);
    void (*attention)(float *out, float *scores, const float *q, const float *k,
                      const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                      size_t n_kv_heads, size_t head_dim, size_t q_pos0, bool causal,
                      float scale);
    /* linear-scaled RoPE and attention with a position mask (sliding window,
     * ring-buffer keys, blocks, softcap): vlmi_ref_rope_scaled and
     * vlmi_ref_attention_masked state the contracts */
    void (*rope_scaled)(float *x, size_t n_rows, size_t n_heads, size_t head_dim,
                        size_t pos0, float theta, float freq_scale);
    void (*attention_masked)(float *out, float *scores, const float *q, const float *k,
                             const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                             size_t n_kv_heads, size_t head_dim,
                             const vlmi_attention_mask *mask, float scale);
    /* One share of attention_masked's work, for vlmi_attention_masked's
     * threads: the query heads of key/value head kv_head (heads kv_head *
     * n_heads/n_kv_heads onwards) over query rows [i0, i1), writing only
     * those rows and heads of out, each exactly as attention_masked computes
     * it whatever the share. Needs no scratch. NULL in a tier without one
     * (vlmi_attention_masked then splits query rows over attention_masked).
     * q, out (n_q, n_heads*head_dim), k, v (rows of n_kv_heads*head_dim) */
    void (*attention_share)(float *out, const float *q, const float *k, const float *v,
                            size_t n_kv, size_t n_heads, size_t n_kv_heads,
                            size_t head_dim, const vlmi_attention_mask *mask, float scale,
                            size_t kv_head, size_t i0, size_t i1);
    /* attention_masked and attention_share over keys and values stored as
     * IEEE f16 (the decoder's f16 KV cache; queries and outputs f32): the
     * same results as the f32 entries of the same tier on the keys and values
     * converted to f32 (exact), bit for bit (vlmi_ref_attention_masked_f16).
     * attention_masked_f16 is in every table; attention_share_f16 exactly
     * when attention_share is.
     * q, out (n_q, n_heads*head_dim), k, v f16 (rows of n_kv_heads*head_dim) */
    void (*attention_masked_f16)(float *out, float *scores, const float *q,
                                 const uint16_t *k, const uint16_t *v, size_t n_q,
                                 size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                 size_t head_dim, const vlmi_attention_mask *mask,
                                 float scale);
    void (*attention_share_f16)(float *out, const float *q, const uint16_t *k,
                                const uint16_t *v, size_t n_kv, size_t n_heads,
                                size_t n_kv_heads, size_t head_dim,
                                const vlmi_attention_mask *mask, float scale,
                                size_t kv_head, size_t i0, size_t i1);

    /* Decode attention (few query rows: vlmi_attention_is_decode), split by
     * key position into the segments of vlmi_attention_decode_segment so
     * that threads can share one key/value head. A part is the unnormalised
     * attention of every pair (query row i < n_q, query head of kv_head),
     * i-major, over the keys of positions [p0, p1) the pair sees: per pair
     * o (head_dim), the max score m and the sum l of e^(score - m), in
     * VLMI_DECODE_PART_FLOATS floats. reduce merges n_parts parts in order
     * (the online-softmax rescaling) and writes kv_head's rows of out. A tier
     * with these entries computes its attention_masked(_f16) of decode calls
     * as parts over every segment in order, then reduce, so a threaded call
     * that computes the parts in parallel gives the same bits. NULL in a
     * tier without them. kv_dtype: k, v f32, IEEE f16, or Q8_0 (each row
     * n_kv_heads heads of head_dim / 32 blocks; head_dim a multiple of 32),
     * which a part computes as the f32 bits of the converted values. */
    void (*attention_decode_part)(float *part, const float *q, const void *k, const void *v,
                                  vlm_dtype kv_dtype, size_t n_q, size_t n_kv,
                                  size_t n_heads, size_t n_kv_heads, size_t head_dim,
                                  const vlmi_attention_mask *mask, float scale,
                                  size_t kv_head, size_t p0, size_t p1);
    void (*attention_decode_reduce)(float *out, const float *parts, size_t n_parts,
                                    size_t n_q, size_t n_heads, size_t n_kv_heads,
                                    size_t head_dim, size_t kv_head);
} vlmi_kernel_table;

/* ---- decode attention: which calls, and the key segments ---- */

/* At most this many (query row, head) pairs per key/value head take the
 * decode path. */
#define VLMI_DECODE_MAX_PAIRS 16
/* Key positions per decode segment (segments start at multiples of it). */
#define VLMI_DECODE_SEGMENT 256
/* Floats of one decode part. */
#define VLMI_DECODE_PART_FLOATS(n_q, n_heads, n_kv_heads, head_dim) \
    ((n_q) * ((n_heads) / (n_kv_heads)) * ((head_dim) + 2))

/* True for the attention calls a tier with decode entries computes by
 * segments: one query row, or a few that would fill under 8 vector lanes,
 * of at most VLMI_DECODE_MAX_PAIRS pairs per key/value head, head_dim a
 * multiple of 8 up to 256. Decided per call, never per thread share. */
static inline bool vlmi_attention_is_decode(size_t n_q, size_t n_heads, size_t n_kv_heads,
                                            size_t head_dim) {
    size_t pairs = n_q * (n_heads / n_kv_heads);
    return n_q >= 1 && head_dim >= 8 && head_dim <= 256 && head_dim % 8 == 0 &&
           pairs <= VLMI_DECODE_MAX_PAIRS && (n_q == 1 || pairs < 8);
}

/* The segments holding the n_kv key positions of mask: s0, s0 + 1, ...,
 * s0 + n_seg - 1 (none when n_kv is 0). */
static inline void vlmi_attention_decode_segments(const vlmi_attention_mask *mask,
                                                  size_t n_kv, size_t *s0, size_t *n_seg) {
    *s0 = mask->kv_pos0 / VLMI_DECODE_SEGMENT;
    *n_seg = n_kv == 0 ? 0 : (mask->kv_pos0 + n_kv - 1) / VLMI_DECODE_SEGMENT - *s0 + 1;
}

/* The key positions [p0, p1) of segment seg among the n_kv of mask. */
static inline void vlmi_attention_decode_segment(const vlmi_attention_mask *mask, size_t n_kv,
                                                 size_t seg, size_t *p0, size_t *p1) {
    size_t a = seg * VLMI_DECODE_SEGMENT, b = a + VLMI_DECODE_SEGMENT;
    *p0 = a > mask->kv_pos0 ? a : mask->kv_pos0;
    *p1 = b < mask->kv_pos0 + n_kv ? b : mask->kv_pos0 + n_kv;
}

/* The table in use: chosen on the first call (thread-safe), then fixed. */
const vlmi_kernel_table *vlmi_kernels(void);

/* The name of the tier in use ("ref", "avx2", "neon"), for vlm_build_info. */
const char *vlmi_kernels_name(void);

/* The table of one tier, or NULL if this build or this CPU cannot run it.
 * For tests and benchmarks, which compare every tier against ref. */
const vlmi_kernel_table *vlmi_kernels_tier(vlmi_kernel_tier tier);

/* True if the matmul kernels read weights of this dtype
 * (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K). */
bool vlmi_kernels_weight_dtype_supported(vlm_dtype dtype);

/* Bytes of one weight row of n elements of dtype (n % 32 == 0 for Q8_0 and
 * Q4_0, n % 256 == 0 for Q4_K and Q6_K); 0 for a dtype the kernels do not
 * read. */
size_t vlmi_kernels_row_bytes(vlm_dtype dtype, size_t n);

/* ---- what the blocks call ---- */

/* The matmul of the chosen tier, its weight rows split in bands over the
 * pool's threads (bands start at multiples of 16 rows, so every output is
 * computed by the same code whatever the thread count: results are
 * identical for 1, 2, 3 ... threads). Products with many rows go to BLAS
 * where that measured faster (f32 weights from 32 rows, other dtypes from
 * 256, dequantized exactly to f32 chunk by chunk in the pool's scratch), one
 * sgemm per chunk of 512 weight rows at fixed positions, so also identical
 * for 1, 2, 3 ... threads; without a pool the non-f32 ones take the tier's
 * kernels (no scratch), which round differently. Quantized weights in a
 * tier that quantizes activations, otherwise: x is quantized once (Q8_0, or
 * Q8_K for k-quants), in the pool's scratch. pool may be NULL (one thread).
 * x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n) */
void vlmi_matmul(vlmi_threadpool *pool, float *out, const float *x, const void *w,
                 vlm_dtype w_dtype, const float *bias, size_t m, size_t k, size_t n);

/* The attention of the chosen tier with its work split over the pool's
 * threads: (key/value head, block of query rows) shares taken in turn by
 * whichever thread is free, or, in a tier without attention_share, blocks
 * of query rows. Every output row is computed by one thread with the same
 * arithmetic as the tier's single-threaded attention / attention_masked, so
 * results are identical for 1, 2, 3 ... threads. Small problems run on the
 * calling thread. scores is scratch for n_kv floats, used when the work is
 * not split (the other threads' scratch is the pool's). pool may be NULL.
 * Contracts otherwise as the table entries (ref/ops.h). */
void vlmi_attention(vlmi_threadpool *pool, float *out, float *scores, const float *q,
                    const float *k, const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                    size_t n_kv_heads, size_t head_dim, size_t q_pos0, bool causal,
                    float scale);
void vlmi_attention_masked(vlmi_threadpool *pool, float *out, float *scores, const float *q,
                           const float *k, const float *v, size_t n_q, size_t n_kv,
                           size_t n_heads, size_t n_kv_heads, size_t head_dim,
                           const vlmi_attention_mask *mask, float scale);
/* The same over keys and values stored as IEEE f16 (the table's _f16
 * entries, split over the threads the same way: identical results for 1, 2,
 * 3 ... threads). k, v f16 with the layouts above. */
void vlmi_attention_f16(vlmi_threadpool *pool, float *out, float *scores, const float *q,
                        const uint16_t *k, const uint16_t *v, size_t n_q, size_t n_kv,
                        size_t n_heads, size_t n_kv_heads, size_t head_dim, size_t q_pos0,
                        bool causal, float scale);
void vlmi_attention_masked_f16(vlmi_threadpool *pool, float *out, float *scores,
                               const float *q, const uint16_t *k, const uint16_t *v,
                               size_t n_q, size_t n_kv, size_t n_heads, size_t n_kv_heads,
                               size_t head_dim, const vlmi_attention_mask *mask, float scale);

/* The same over keys and values stored as a cache stores them: kv_dtype
 * VLM_DTYPE_F16, or VLM_DTYPE_Q8_0 (each row n_kv_heads heads of head_dim /
 * 32 blocks; head_dim a multiple of 32): the attention of their f32 values.
 * Decode calls in a tier with the decode entries read them in place (the
 * f32 bits of the converted values). Other calls convert the stored rows
 * (mask->kv_ring of them for a ring, else n_kv) into staging, 2 * rows *
 * n_kv_heads * head_dim floats, and run vlmi_attention_masked on them, so
 * that many rows go through BLAS -- except f16 calls BLAS would not take,
 * which run vlmi_attention_masked_f16 (no conversion). */
void vlmi_attention_masked_stored(vlmi_threadpool *pool, float *out, float *scores,
                                  const float *q, const void *k, const void *v,
                                  vlm_dtype kv_dtype, float *staging, size_t n_q, size_t n_kv,
                                  size_t n_heads, size_t n_kv_heads, size_t head_dim,
                                  const vlmi_attention_mask *mask, float scale);

/* ---- BLAS (kernels/blas.c) ---- */

/* True if this build links a BLAS (OpenBLAS, Accelerate). */
bool vlmi_blas_available(void);
/* cblas_sgemm on the calling thread (OpenBLAS is set to one thread, once,
 * process-wide: our pool splits the work); without a BLAS, the chosen
 * tier's matmul. f32 weights only, w 4-byte aligned.
 * x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n) strided */
void vlmi_blas_matmul(float *out, size_t out_stride, const float *x, const float *w,
                      const float *bias, size_t m, size_t k, size_t n);

/* cblas_sgemm on the calling thread: C (m,n) = alpha A (m,k) B + beta C,
 * B (k,n), or B^T with B (n,k) when trans_b; row-major with leading
 * dimensions. Without a BLAS, plain loops (callers check
 * vlmi_blas_available first). */
void vlmi_blas_gemm(bool trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);

/* ---- attention through BLAS (kernels/attention_blas.c) ---- */

/* Query rows per share of the BLAS attention: where every row sees every
 * key (ViT encoders), larger shares pack each head's keys for more rows
 * (vlm-bench "attn 2t 1024x12x64": 64 -> 256 rows, +10-15%); under causal
 * or windowed masks a share computes the scores of its whole key range, so
 * small shares waste less of the masked triangle. Then the least rows and
 * keys for which the BLAS path is used. */
#define VLMI_ATTENTION_BLAS_ROWS 64
#define VLMI_ATTENTION_BLAS_ROWS_FULL 256
#define VLMI_ATTENTION_BLAS_MIN_ROWS 16
#define VLMI_ATTENTION_BLAS_MIN_KEYS 64
/* True if vlmi_attention_masked takes the BLAS path for this call: f32
 * keys in position order (no ring), a BLAS, a tier other than ref, and at
 * least the rows and keys above. */
bool vlmi_attention_blas_takes(const vlmi_attention_mask *mask, bool f16, size_t n_q,
                               size_t n_kv);
/* The query heads of kv_head, rows [i0, i1) as vlmi_ref_attention_masked
 * (another summation order); scores is scratch for (i1 - i0) x n_kv floats. */
void vlmi_attention_blas_share(float *out, float *scores, const float *q, const float *k,
                               const float *v, size_t n_kv, size_t n_heads, size_t n_kv_heads,
                               size_t head_dim, const vlmi_attention_mask *mask, float scale,
                               size_t kv_head, size_t i0, size_t i1);

#endif
