/* AVX2 + FMA scaled dot-product attention (contracts: vlmi_ref_attention and
 * vlmi_ref_attention_masked in ref/ops.h; the share entry: dispatch.h).
 *
 * Blocked with an online (streaming) softmax, so no more than one block of
 * scores exists at a time. The query rows of one key/value head -- the pairs
 * (query row i, query head h) with h in the head's group, i-major -- are
 * taken eight at a time, one per vector lane: the queries are packed
 * transposed (head_dim x 8), scores are computed as QK^T tiles with one lane
 * per row, softmax statistics (running max, sum) are vectors over the rows,
 * and the output accumulates transposed (head_dim x 8) until the final
 * division. Keys are walked in blocks of KEY_BLOCK that start at multiples
 * of KEY_BLOCK in position space, and keys a row does not see contribute an
 * exact zero, so every output row gets the same arithmetic whichever rows
 * share its block: results do not depend on how a caller splits heads and
 * rows over threads.
 *
 * Differences from ref: fused multiply-adds in the dot products, the vector
 * exp of ops_avx2.c (about 1 ulp; e^x for x < -87.3 is 0 where expf gives a
 * denormal), normalisation by the sum at the end rather than before the
 * product with V, and the sum accumulated block by block.
 *
 * The _f16 entries read keys and values stored as IEEE f16: each key block is
 * converted (F16C, exact) into a stack slab of F16_SUB keys before its score
 * tiles, and each value block the same before its P V tiles, so they compute
 * bit for bit what the f32 entries compute on the converted keys and values.
 * The decode part also reads Q8_0 keys and values, converted the same way. */
#include "x86/x86.h"
#include "x86/reduce_avx2.h"
#include "kernels.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

#define ROWS 8          /* query rows per block: one per lane */
#define KEY_BLOCK 128    /* keys per online-softmax step */
#define MAX_HEAD_DIM 256 /* packed blocks on the stack; larger heads go scalar */
#define F16_SUB 32      /* f16 keys / values converted to f32 at a time; a
                           multiple of 8 that divides KEY_BLOCK */


/* e^x, Cephes' single-precision polynomial as in ops_avx2.c (about 1 ulp on
 * [-87, 88]), and exactly 0 below -87.3 (so -inf gives 0). */
static ALWAYS_INLINE __m256 exp8z(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3365478515625f);
    __m256 keep = _mm256_cmp_ps(x, lo, _CMP_GE_OQ);
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
    x = _mm256_max_ps(x, lo);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), keep);
}

typedef struct att_shape {
    size_t n_kv, hd, q_dim, kv_dim, hpk;
    const vlmi_attention_mask *mask;
    float scale;
} att_shape;

/* The key positions query row i sees: [*first, *end), as the ref kernel. */
static void visible_range(const att_shape *s, size_t i, size_t *first, size_t *end) {
    vlmi_attention_visible(s->mask, s->n_kv, i, first, end);
}

/* The row of K / V holding key position p. */
static ALWAYS_INLINE size_t key_row(const att_shape *s, size_t p) {
    return s->mask->kv_ring ? p % s->mask->kv_ring : p - s->mask->kv_pos0;
}

/* Element j of a key or value row: f32, or f16 converted exactly. */
static ALWAYS_INLINE float kv_load(const void *row, size_t j, bool f16) {
    return f16 ? vlmi_f16_to_f32(((const uint16_t *)row)[j]) : ((const float *)row)[j];
}

/* One (i, h) row the scalar way, online per key (heads wider than
 * MAX_HEAD_DIM; no model in use has them). kb, vb: f32, or f16 if f16. */
static void row_scalar(float *o, const float *qh, const void *kb, const void *vb, bool f16,
                       const att_shape *s, size_t first, size_t end) {
    size_t elem = f16 ? sizeof(uint16_t) : sizeof(float);
    float m = -INFINITY, l = 0.0f;
    for (size_t d = 0; d < s->hd; d++) o[d] = 0.0f;
    for (size_t p = first; p < end; p++) {
        size_t row = key_row(s, p);
        const void *kt = (const unsigned char *)kb + row * s->kv_dim * elem;
        const void *vt = (const unsigned char *)vb + row * s->kv_dim * elem;
        float dot = 0.0f;
        for (size_t d = 0; d < s->hd; d++) dot += qh[d] * kv_load(kt, d, f16);
        float score = dot * s->scale;
        if (s->mask->softcap > 0.0f) score = s->mask->softcap * tanhf(score / s->mask->softcap);
        if (score > m) {
            float a = expf(m - score);
            l *= a;
            for (size_t d = 0; d < s->hd; d++) o[d] *= a;
            m = score;
        }
        float e = expf(score - m);
        l += e;
        for (size_t d = 0; d < s->hd; d++) o[d] += e * kv_load(vt, d, f16);
    }
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (size_t d = 0; d < s->hd; d++) o[d] *= inv;
}

/* rows[j] (n rows of hd f16) -> dst (n, hd) f32, exactly; kp[j] = row j of dst */
static void convert_rows_f16(float *dst, const float **kp, const uint16_t *const *rows,
                             size_t n, size_t hd) {
    for (size_t j = 0; j < n; j++) {
        float *y = dst + j * hd;
        const uint16_t *x = rows[j];
        size_t d = 0;
        for (; d + 8 <= hd; d += 8) {
            __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(x + d));
            _mm256_storeu_ps(y + d, _mm256_cvtph_ps(h));
        }
        for (; d < hd; d++) y[d] = vlmi_f16_to_f32(x[d]);
        kp[j] = y;
    }
}

/* Scores of one tile of 8 keys for the 8 rows: st[j*8 + r] = q_r . k_j * scale
 * for j < nk. kp[0..7] point at the keys (repeats past nk). */
static ALWAYS_INLINE void score_tile8(float *st, const float *qt, const float *const *kp,
                                      size_t hd, size_t nk, __m256 scale) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,
           a6 = a0, a7 = a0;
    const float *k0 = kp[0], *k1 = kp[1], *k2 = kp[2], *k3 = kp[3], *k4 = kp[4],
                *k5 = kp[5], *k6 = kp[6], *k7 = kp[7];
    for (size_t d = 0; d < hd; d++) {
        __m256 qd = _mm256_load_ps(qt + d * ROWS);
        a0 = _mm256_fmadd_ps(qd, _mm256_broadcast_ss(k0 + d), a0);
        a1 = _mm256_fmadd_ps(qd, _mm256_broadcast_ss(k1 + d), a1);
        a2 = _mm256_fmadd_ps(qd, _mm256_broadcast_ss(k2 + d), a2);
        a3 = _mm256_fmadd_ps(qd, _mm256_broadcast_ss(k3 + d), a3);
        a4 = _mm256_fmadd_ps(qd, _mm256_broadcast_ss(k4 + d), a4);
        a5 = _mm256_fmadd_ps(qd, _mm256_broadcast_ss(k5 + d), a5);
        a6 = _mm256_fmadd_ps(qd, _mm256_broadcast_ss(k6 + d), a6);
        a7 = _mm256_fmadd_ps(qd, _mm256_broadcast_ss(k7 + d), a7);
    }
    __m256 acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
    for (size_t j = 0; j < nk; j++) _mm256_store_ps(st + j * ROWS, _mm256_mul_ps(acc[j], scale));
}

/* ot[d*8 + r] += sum_t p[t*8 + r] * v_t[d] for d in [d0, d0 + 12) */
static ALWAYS_INLINE void pv_tile12(float *ot, const float *pt, const float *const *vp,
                                    size_t nt, size_t d0) {
    float *o = ot + d0 * ROWS;
    __m256 a0 = _mm256_load_ps(o), a1 = _mm256_load_ps(o + 8), a2 = _mm256_load_ps(o + 16),
           a3 = _mm256_load_ps(o + 24), a4 = _mm256_load_ps(o + 32),
           a5 = _mm256_load_ps(o + 40), a6 = _mm256_load_ps(o + 48),
           a7 = _mm256_load_ps(o + 56), a8 = _mm256_load_ps(o + 64),
           a9 = _mm256_load_ps(o + 72), a10 = _mm256_load_ps(o + 80),
           a11 = _mm256_load_ps(o + 88);
    for (size_t t = 0; t < nt; t++) {
        __m256 p = _mm256_load_ps(pt + t * ROWS);
        const float *vt = vp[t] + d0;
        a0 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 0), a0);
        a1 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 1), a1);
        a2 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 2), a2);
        a3 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 3), a3);
        a4 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 4), a4);
        a5 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 5), a5);
        a6 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 6), a6);
        a7 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 7), a7);
        a8 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 8), a8);
        a9 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 9), a9);
        a10 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 10), a10);
        a11 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 11), a11);
    }
    _mm256_store_ps(o, a0);
    _mm256_store_ps(o + 8, a1);
    _mm256_store_ps(o + 16, a2);
    _mm256_store_ps(o + 24, a3);
    _mm256_store_ps(o + 32, a4);
    _mm256_store_ps(o + 40, a5);
    _mm256_store_ps(o + 48, a6);
    _mm256_store_ps(o + 56, a7);
    _mm256_store_ps(o + 64, a8);
    _mm256_store_ps(o + 72, a9);
    _mm256_store_ps(o + 80, a10);
    _mm256_store_ps(o + 88, a11);
}

/* the same for d in [d0, d0 + 4) */
static ALWAYS_INLINE void pv_tile4(float *ot, const float *pt, const float *const *vp,
                                   size_t nt, size_t d0) {
    float *o = ot + d0 * ROWS;
    __m256 a0 = _mm256_load_ps(o), a1 = _mm256_load_ps(o + 8), a2 = _mm256_load_ps(o + 16),
           a3 = _mm256_load_ps(o + 24);
    for (size_t t = 0; t < nt; t++) {
        __m256 p = _mm256_load_ps(pt + t * ROWS);
        const float *vt = vp[t] + d0;
        a0 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 0), a0);
        a1 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 1), a1);
        a2 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 2), a2);
        a3 = _mm256_fmadd_ps(p, _mm256_broadcast_ss(vt + 3), a3);
    }
    _mm256_store_ps(o, a0);
    _mm256_store_ps(o + 8, a1);
    _mm256_store_ps(o + 16, a2);
    _mm256_store_ps(o + 24, a3);
}

/* the same for d = d0 */
static ALWAYS_INLINE void pv_tile1(float *ot, const float *pt, const float *const *vp,
                                   size_t nt, size_t d0) {
    float *o = ot + d0 * ROWS;
    __m256 a0 = _mm256_load_ps(o);
    for (size_t t = 0; t < nt; t++)
        a0 = _mm256_fmadd_ps(_mm256_load_ps(pt + t * ROWS), _mm256_broadcast_ss(vp[t] + d0), a0);
    _mm256_store_ps(o, a0);
}

/* Rows (row_i[r], row_h[r]) for r < n_rows (<= 8) of one key/value head:
 * kb, vb point at that head's columns of K and V, f32, or f16 if f16. */
static ALWAYS_INLINE void attend_block_any(float *out, const float *q, const void *kb,
                                           const void *vb, bool f16, const att_shape *s,
                                           const size_t *row_i, const size_t *row_h,
                                           size_t n_rows) {
    _Alignas(32) float qt[MAX_HEAD_DIM * ROWS];
    _Alignas(32) float ot[MAX_HEAD_DIM * ROWS];
    _Alignas(32) float st[KEY_BLOCK * ROWS];
    _Alignas(32) int32_t first_rel[ROWS], end_rel[ROWS];
    const float *kp[KEY_BLOCK + 7], *vp[KEY_BLOCK];
    /* f16: the rows of the block, and F16_SUB of them converted at a time */
    const uint16_t *kh[KEY_BLOCK], *vh[KEY_BLOCK];
    float slab[F16_SUB * MAX_HEAD_DIM];
    const float *sp[F16_SUB + 7];
    size_t hd = s->hd;

    /* the key positions any row sees: [lo, hi) */
    size_t first[ROWS], end[ROWS], lo = SIZE_MAX, hi = 0;
    for (size_t r = 0; r < n_rows; r++) {
        visible_range(s, row_i[r], &first[r], &end[r]);
        if (first[r] < end[r]) {
            if (first[r] < lo) lo = first[r];
            if (end[r] > hi) hi = end[r];
        }
    }
    if (hi == 0) { /* no row sees a key: zeros, as ref */
        for (size_t r = 0; r < n_rows; r++) {
            float *o = out + row_i[r] * s->q_dim + row_h[r] * hd;
            for (size_t d = 0; d < hd; d++) o[d] = 0.0f;
        }
        return;
    }
    for (size_t r = 0; r < ROWS; r++) {
        /* relative to lo; padding rows see nothing */
        bool real = r < n_rows && first[r] < end[r];
        first_rel[r] = real ? (int32_t)(first[r] - lo) : 0;
        end_rel[r] = real ? (int32_t)(end[r] - lo) : 0;
    }

    /* pack Q transposed; zero the accumulators */
    for (size_t d = 0; d < hd; d++)
        for (size_t r = 0; r < ROWS; r++)
            qt[d * ROWS + r] = r < n_rows ? q[row_i[r] * s->q_dim + row_h[r] * hd + d] : 0.0f;
    for (size_t j = 0; j < hd * ROWS; j += 8) _mm256_store_ps(ot + j, _mm256_setzero_ps());

    const __m256 scale = _mm256_set1_ps(s->scale);
    const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
    const __m256i v_first = _mm256_load_si256((const __m256i *)(const void *)first_rel);
    const __m256i v_end = _mm256_load_si256((const __m256i *)(const void *)end_rel);
    const float softcap = s->mask->softcap;
    __m256 m = neg_inf, l = _mm256_setzero_ps();

    /* blocks aligned to multiples of KEY_BLOCK in position space */
    for (size_t b0 = lo / KEY_BLOCK * KEY_BLOCK; b0 < hi; b0 += KEY_BLOCK) {
        size_t t0 = b0 > lo ? b0 : lo;
        size_t t1 = b0 + KEY_BLOCK < hi ? b0 + KEY_BLOCK : hi;
        size_t nt = t1 - t0;
        for (size_t t = 0; t < nt; t++) {
            size_t row = key_row(s, t0 + t);
            if (f16) {
                kh[t] = (const uint16_t *)kb + row * s->kv_dim;
                vh[t] = (const uint16_t *)vb + row * s->kv_dim;
            } else {
                kp[t] = (const float *)kb + row * s->kv_dim;
                vp[t] = (const float *)vb + row * s->kv_dim;
            }
        }

        // scores st[t*8 + r] = q_r . k_t * scale
        if (f16) {
            /* the same tiles, from F16_SUB keys converted at a time */
            for (size_t t = 0; t < nt; t += F16_SUB) {
                size_t ns = nt - t < F16_SUB ? nt - t : F16_SUB;
                convert_rows_f16(slab, sp, kh + t, ns, hd);
                for (size_t j = ns; j < ns + 7; j++) sp[j] = sp[0];
                for (size_t u = 0; u < ns; u += 8)
                    score_tile8(st + (t + u) * ROWS, qt, sp + u, hd, ns - u < 8 ? ns - u : 8,
                                scale);
            }
        } else {
            for (size_t t = nt; t < nt + 7; t++) kp[t] = kp[0];
            for (size_t t = 0; t < nt; t += 8)
                score_tile8(st + t * ROWS, qt, kp + t, hd, nt - t < 8 ? nt - t : 8, scale);
        }

        // softcap, mask, block max
        __m256 bmax = neg_inf;
        for (size_t t = 0; t < nt; t++) {
            __m256 sv;
            if (softcap > 0.0f) {
                float *x = st + t * ROWS;
                for (size_t r = 0; r < ROWS; r++) x[r] = softcap * tanhf(x[r] / softcap);
            }
            sv = _mm256_load_ps(st + t * ROWS);
            __m256i pos = _mm256_set1_epi32((int32_t)(t0 + t - lo));
            __m256i seen = _mm256_andnot_si256(_mm256_cmpgt_epi32(v_first, pos),
                                               _mm256_cmpgt_epi32(v_end, pos));
            sv = _mm256_blendv_ps(neg_inf, sv, _mm256_castsi256_ps(seen));
            _mm256_store_ps(st + t * ROWS, sv);
            bmax = _mm256_max_ps(bmax, sv);
        }

        // online softmax: rescale what came before by e^(m - m_new)
        __m256 m_new = _mm256_max_ps(m, bmax);
        __m256 m_safe = _mm256_blendv_ps(m_new, _mm256_setzero_ps(),
                                         _mm256_cmp_ps(m_new, neg_inf, _CMP_EQ_OQ));
        __m256 alpha = exp8z(_mm256_sub_ps(m, m_safe));
        m = m_new;
        __m256 lsum = _mm256_setzero_ps();
        for (size_t t = 0; t < nt; t++) {
            __m256 p = exp8z(_mm256_sub_ps(_mm256_load_ps(st + t * ROWS), m_safe));
            _mm256_store_ps(st + t * ROWS, p);
            lsum = _mm256_add_ps(lsum, p);
        }
        l = _mm256_fmadd_ps(l, alpha, lsum);
        if (_mm256_movemask_ps(_mm256_cmp_ps(alpha, _mm256_set1_ps(1.0f), _CMP_NEQ_UQ)))
            for (size_t d = 0; d < hd; d++)
                _mm256_store_ps(ot + d * ROWS, _mm256_mul_ps(_mm256_load_ps(ot + d * ROWS), alpha));

        // ot += P V (f16: F16_SUB values converted at a time, each output
        // still summed over the keys in order)
        if (f16) {
            for (size_t t = 0; t < nt; t += F16_SUB) {
                size_t ns = nt - t < F16_SUB ? nt - t : F16_SUB;
                convert_rows_f16(slab, sp, vh + t, ns, hd);
                const float *pt = st + t * ROWS;
                size_t d = 0;
                for (; d + 12 <= hd; d += 12) pv_tile12(ot, pt, sp, ns, d);
                for (; d + 4 <= hd; d += 4) pv_tile4(ot, pt, sp, ns, d);
                for (; d < hd; d++) pv_tile1(ot, pt, sp, ns, d);
            }
        } else {
            size_t d = 0;
            for (; d + 12 <= hd; d += 12) pv_tile12(ot, st, vp, nt, d);
            for (; d + 4 <= hd; d += 4) pv_tile4(ot, st, vp, nt, d);
            for (; d < hd; d++) pv_tile1(ot, st, vp, nt, d);
        }
    }

    // out = ot / l, zeros for a row that saw no key
    _Alignas(32) float inv[ROWS];
    __m256 has = _mm256_cmp_ps(l, _mm256_setzero_ps(), _CMP_GT_OQ);
    _mm256_store_ps(inv, _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(1.0f), l), has));
    for (size_t r = 0; r < n_rows; r++) {
        float *o = out + row_i[r] * s->q_dim + row_h[r] * hd;
        for (size_t d = 0; d < hd; d++) o[d] = ot[d * ROWS + r] * inv[r];
    }
}

static void attend_block(float *out, const float *q, const void *kb, const void *vb,
                         const att_shape *s, const size_t *row_i, const size_t *row_h,
                         size_t n_rows) {
    attend_block_any(out, q, kb, vb, false, s, row_i, row_h, n_rows);
}

static void attend_block_f16(float *out, const float *q, const void *kb, const void *vb,
                             const att_shape *s, const size_t *row_i, const size_t *row_h,
                             size_t n_rows) {
    attend_block_any(out, q, kb, vb, true, s, row_i, row_h, n_rows);
}

// ----------------------------------------------------------------------------
// decode: few (query row, head) pairs, vectorised along head_dim

/* Keys per online-softmax step of the decode path. */
#define DEC_BLOCK 64
/* Q8_0 value rows converted to f32 at a time (a 16 KB slab at 256 dims). */
#define DEC_Q8_VALUES 16

/* Eight dims of a key or value row from element d: f32, or f16 converted
 * exactly (so both entries compute the same bits). */
static ALWAYS_INLINE __m256 load8(const void *row, size_t d, bool f16) {
    if (f16)
        return _mm256_cvtph_ps(
            _mm_loadu_si128((const __m128i *)(const void *)((const uint16_t *)row + d)));
    return _mm256_loadu_ps((const float *)row + d);
}

/* dst (n) <- a row of n / 32 Q8_0 blocks, dequantized as vlmi_dequant_q8_0
 * does (scale times value, one rounding); dst 32-byte aligned. */
static ALWAYS_INLINE void q8_0_to_f32(float *dst, const unsigned char *row, size_t n) {
    for (size_t b = 0; b < n / VLMI_QK; b++, row += VLMI_Q8_0_BLOCK_BYTES, dst += VLMI_QK) {
        uint16_t bits;
        memcpy(&bits, row, sizeof bits);
        __m256 scale = _mm256_cvtph_ps(_mm_set1_epi16((short)bits));
        __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(row + 2));
        __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
        _mm256_store_ps(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), scale));
        _mm256_store_ps(dst + 8, _mm256_mul_ps(
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), scale));
        _mm256_store_ps(dst + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), scale));
        _mm256_store_ps(dst + 24, _mm256_mul_ps(
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), scale));
    }
}

/* The dot products of q (hd) with the 8 keys kp[0..7], lane j for key j:
 * each lane an FMA chain over 8-wide slices of d, summed by a fixed tree. */
static ALWAYS_INLINE __m256 dot8(const float *q, const void *const *kp, size_t hd, bool f16) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,
           a6 = a0, a7 = a0;
    for (size_t d = 0; d < hd; d += 8) {
        __m256 qd = _mm256_loadu_ps(q + d);
        a0 = _mm256_fmadd_ps(qd, load8(kp[0], d, f16), a0);
        a1 = _mm256_fmadd_ps(qd, load8(kp[1], d, f16), a1);
        a2 = _mm256_fmadd_ps(qd, load8(kp[2], d, f16), a2);
        a3 = _mm256_fmadd_ps(qd, load8(kp[3], d, f16), a3);
        a4 = _mm256_fmadd_ps(qd, load8(kp[4], d, f16), a4);
        a5 = _mm256_fmadd_ps(qd, load8(kp[5], d, f16), a5);
        a6 = _mm256_fmadd_ps(qd, load8(kp[6], d, f16), a6);
        a7 = _mm256_fmadd_ps(qd, load8(kp[7], d, f16), a7);
    }
    __m256 t0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    __m256 t1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
    return _mm256_add_ps(_mm256_permute2f128_ps(t0, t1, 0x20),
                         _mm256_permute2f128_ps(t0, t1, 0x31));
}



/* o[r] (16 dims from d) += sum_t p[r][t] v_t for the n_pairs (<= 4) pairs r */
static ALWAYS_INLINE void decode_pv16(float *const *o, const float *const *p,
                                      const void *const *vp, size_t nt, size_t d,
                                      size_t n_pairs, bool f16) {
    __m256 a00 = _mm256_loadu_ps(o[0] + d), a01 = _mm256_loadu_ps(o[0] + d + 8);
    __m256 a10 = a00, a11 = a01, a20 = a00, a21 = a01, a30 = a00, a31 = a01;
    if (n_pairs > 1) a10 = _mm256_loadu_ps(o[1] + d), a11 = _mm256_loadu_ps(o[1] + d + 8);
    if (n_pairs > 2) a20 = _mm256_loadu_ps(o[2] + d), a21 = _mm256_loadu_ps(o[2] + d + 8);
    if (n_pairs > 3) a30 = _mm256_loadu_ps(o[3] + d), a31 = _mm256_loadu_ps(o[3] + d + 8);
    for (size_t t = 0; t < nt; t++) {
        __m256 v0 = load8(vp[t], d, f16), v1 = load8(vp[t], d + 8, f16);
        __m256 b = _mm256_broadcast_ss(p[0] + t);
        a00 = _mm256_fmadd_ps(b, v0, a00);
        a01 = _mm256_fmadd_ps(b, v1, a01);
        if (n_pairs > 1) {
            b = _mm256_broadcast_ss(p[1] + t);
            a10 = _mm256_fmadd_ps(b, v0, a10);
            a11 = _mm256_fmadd_ps(b, v1, a11);
        }
        if (n_pairs > 2) {
            b = _mm256_broadcast_ss(p[2] + t);
            a20 = _mm256_fmadd_ps(b, v0, a20);
            a21 = _mm256_fmadd_ps(b, v1, a21);
        }
        if (n_pairs > 3) {
            b = _mm256_broadcast_ss(p[3] + t);
            a30 = _mm256_fmadd_ps(b, v0, a30);
            a31 = _mm256_fmadd_ps(b, v1, a31);
        }
    }
    _mm256_storeu_ps(o[0] + d, a00);
    _mm256_storeu_ps(o[0] + d + 8, a01);
    if (n_pairs > 1) _mm256_storeu_ps(o[1] + d, a10), _mm256_storeu_ps(o[1] + d + 8, a11);
    if (n_pairs > 2) _mm256_storeu_ps(o[2] + d, a20), _mm256_storeu_ps(o[2] + d + 8, a21);
    if (n_pairs > 3) _mm256_storeu_ps(o[3] + d, a30), _mm256_storeu_ps(o[3] + d + 8, a31);
}

/* the same for 8 dims from d */
static ALWAYS_INLINE void decode_pv8(float *const *o, const float *const *p,
                                     const void *const *vp, size_t nt, size_t d,
                                     size_t n_pairs, bool f16) {
    for (size_t r = 0; r < n_pairs; r++) {
        __m256 a = _mm256_loadu_ps(o[r] + d);
        for (size_t t = 0; t < nt; t++)
            a = _mm256_fmadd_ps(_mm256_broadcast_ss(p[r] + t), load8(vp[t], d, f16), a);
        _mm256_storeu_ps(o[r] + d, a);
    }
}

/* One decode part (dispatch.h: attention_decode_part): the pairs (query row
 * i < n_q, head of kv head kv_head), i-major, over the key positions
 * [p0, p1) they see: per pair o (hd, unnormalised), then max m and sum l.
 * Keys and values f32, f16 (f16) or Q8_0 (q8; hd a multiple of 32): f16 and
 * Q8_0 keys are converted 8 at a time into a slab, Q8_0 values a block at a
 * time, so all three compute the f32 bits of the converted values. */
static ALWAYS_INLINE void decode_part_any(float *part, const float *q, const void *k,
                                          const void *v, bool f16, bool q8, size_t n_q,
                                          size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                          size_t hd, const vlmi_attention_mask *mask,
                                          float scale, size_t kv_head, size_t p0, size_t p1) {
    att_shape s = {.n_kv = n_kv, .hd = hd, .q_dim = n_heads * hd,
                   .kv_dim = n_kv_heads * hd, .hpk = n_heads / n_kv_heads,
                   .mask = mask, .scale = scale};
    size_t head_bytes = q8 ? hd / VLMI_QK * VLMI_Q8_0_BLOCK_BYTES
                           : hd * (f16 ? sizeof(uint16_t) : sizeof(float));
    size_t row_bytes = head_bytes * n_kv_heads;
    const unsigned char *kb = (const unsigned char *)k + kv_head * head_bytes;
    const unsigned char *vb = (const unsigned char *)v + kv_head * head_bytes;
    size_t n_pairs = n_q * s.hpk, stride = hd + 2;
    const float *qr[VLMI_DECODE_MAX_PAIRS];
    float *o[VLMI_DECODE_MAX_PAIRS];
    const float *pr[VLMI_DECODE_MAX_PAIRS];
    size_t first[VLMI_DECODE_MAX_PAIRS], end[VLMI_DECODE_MAX_PAIRS];
    _Alignas(32) float st[VLMI_DECODE_MAX_PAIRS][DEC_BLOCK];
    _Alignas(32) float k_slab[8 * MAX_HEAD_DIM]; /* f16, Q8_0: 8 keys as f32 */
    _Alignas(32) float v_slab[DEC_Q8_VALUES * MAX_HEAD_DIM]; /* Q8_0 values as f32 */
    const void *vq[DEC_Q8_VALUES];
    const void *kp[DEC_BLOCK + 7], *vp[DEC_BLOCK];
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t r = 0; r < n_pairs; r++) {
        size_t i = r / s.hpk, h = kv_head * s.hpk + r % s.hpk;
        visible_range(&s, i, &first[r], &end[r]);
        if (first[r] < p0) first[r] = p0;
        if (end[r] > p1) end[r] = p1;
        if (end[r] < first[r]) end[r] = first[r];
        if (first[r] < end[r]) {
            if (first[r] < lo) lo = first[r];
            if (end[r] > hi) hi = end[r];
        }
        qr[r] = q + i * s.q_dim + h * hd;
        o[r] = part + r * stride;
        pr[r] = st[r];
        for (size_t d = 0; d < hd; d++) o[r][d] = 0.0f;
        o[r][hd] = -INFINITY;
        o[r][hd + 1] = 0.0f;
    }
    const __m256 neg_inf = _mm256_set1_ps(-INFINITY), vscale = _mm256_set1_ps(scale);
    const float softcap = mask->softcap;
    for (size_t b0 = lo; b0 < hi; b0 += DEC_BLOCK) {
        size_t nt = hi - b0 < DEC_BLOCK ? hi - b0 : DEC_BLOCK, nt8 = (nt + 7) & ~(size_t)7;
        for (size_t t = 0; t < nt; t++) {
            size_t row = key_row(&s, b0 + t);
            kp[t] = kb + row * row_bytes;
            vp[t] = vb + row * row_bytes;
        }
        for (size_t t = nt; t < nt + 7; t++) kp[t] = kp[0];
        /* the values come after the scores: ask for them now */
        for (size_t t = 0; t < nt; t++)
            for (size_t c = 0; c < head_bytes; c += 64)
                _mm_prefetch((const char *)vp[t] + c, _MM_HINT_T0);
        // scores of 8 keys at a time for every pair that sees keys here
        // (f16: the 8 keys converted once, exactly, for all the pairs)
        for (size_t t = 0; t < nt8; t += 8) {
            const void *k8[8];
            if (q8) {
                for (size_t j = 0; j < 8; j++) {
                    q8_0_to_f32(k_slab + j * hd, kp[t + j], hd);
                    k8[j] = k_slab + j * hd;
                }
            } else if (f16) {
                for (size_t j = 0; j < 8; j++) {
                    const uint16_t *src = kp[t + j];
                    for (size_t d = 0; d < hd; d += 8)
                        _mm256_store_ps(k_slab + j * hd + d, load8(src, d, true));
                    k8[j] = k_slab + j * hd;
                }
            } else {
                for (size_t j = 0; j < 8; j++) k8[j] = kp[t + j];
            }
            for (size_t r = 0; r < n_pairs; r++)
                if (first[r] < b0 + nt && end[r] > b0)
                    _mm256_store_ps(st[r] + t,
                                    _mm256_mul_ps(dot8(qr[r], k8, hd, false), vscale));
        }
        for (size_t r = 0; r < n_pairs; r++) {
            float *sr = st[r];
            if (first[r] >= b0 + nt || end[r] <= b0) { /* sees no key here */
                for (size_t t = 0; t < nt; t++) sr[t] = 0.0f;
                continue;
            }
            // softcap, -inf outside [first, end)
            __m256 bmax = neg_inf;
            for (size_t t = 0; t < nt8; t++) {
                size_t pos = b0 + t;
                if (t < nt && softcap > 0.0f) sr[t] = softcap * tanhf(sr[t] / softcap);
                if (t >= nt || pos < first[r] || pos >= end[r]) sr[t] = -INFINITY;
            }
            for (size_t t = 0; t < nt8; t += 8) bmax = _mm256_max_ps(bmax, _mm256_load_ps(sr + t));
            // online softmax: rescale what came before by e^(m - m_new)
            float m_old = o[r][hd], m_new = fmaxf(m_old, vlmi_avx2_hmax(bmax));
            __m256 vm = _mm256_set1_ps(m_new), lsum = _mm256_setzero_ps();
            for (size_t t = 0; t < nt8; t += 8) {
                __m256 pt = exp8z(_mm256_sub_ps(_mm256_load_ps(sr + t), vm));
                _mm256_store_ps(sr + t, pt);
                lsum = _mm256_add_ps(lsum, pt);
            }
            float alpha = _mm256_cvtss_f32(exp8z(_mm256_set1_ps(m_old - m_new)));
            o[r][hd] = m_new;
            o[r][hd + 1] = o[r][hd + 1] * alpha + vlmi_avx2_hsum(lsum);
            if (alpha != 1.0f) {
                __m256 va = _mm256_set1_ps(alpha);
                for (size_t d = 0; d < hd; d += 8)
                    _mm256_storeu_ps(o[r] + d, _mm256_mul_ps(_mm256_loadu_ps(o[r] + d), va));
            }
        }
        // o[r] += P V, four pairs at a time sharing the value loads; Q8_0
        // values converted DEC_Q8_VALUES rows at a time (the same sums: each
        // o[r][d] still accumulates over the keys in order)
        size_t run = q8 ? DEC_Q8_VALUES : nt;
        for (size_t c0 = 0; c0 < nt; c0 += run) {
            size_t nc = nt - c0 < run ? nt - c0 : run;
            const void *const *vc = vp + c0;
            const float *pc[VLMI_DECODE_MAX_PAIRS];
            for (size_t r = 0; r < n_pairs; r++) pc[r] = pr[r] + c0;
            if (q8) {
                for (size_t t = 0; t < nc; t++) {
                    q8_0_to_f32(v_slab + t * hd, vp[c0 + t], hd);
                    vq[t] = v_slab + t * hd;
                }
                vc = vq;
            }
            for (size_t r = 0; r < n_pairs; r += 4) {
                size_t np = n_pairs - r < 4 ? n_pairs - r : 4, d = 0;
                for (; d + 16 <= hd; d += 16) decode_pv16(o + r, pc + r, vc, nc, d, np, f16);
                for (; d < hd; d += 8) decode_pv8(o + r, pc + r, vc, nc, d, np, f16);
            }
        }
    }
}

/* state <- state merged with part (both as decode_part_any writes them); an
 * empty part (m = -inf) changes nothing, and an empty state takes part's
 * values exactly. */
static void decode_merge(float *state, const float *part, size_t n_pairs, size_t hd) {
    size_t stride = hd + 2;
    for (size_t r = 0; r < n_pairs; r++, state += stride, part += stride) {
        float m_a = state[hd], m_b = part[hd];
        if (m_b == -INFINITY) continue;
        float m = fmaxf(m_a, m_b), a = expf(m_a - m), b = expf(m_b - m);
        state[hd] = m;
        state[hd + 1] = state[hd + 1] * a + part[hd + 1] * b;
        __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
        for (size_t d = 0; d < hd; d += 8)
            _mm256_storeu_ps(state + d, _mm256_fmadd_ps(_mm256_loadu_ps(part + d), vb,
                                                        _mm256_mul_ps(_mm256_loadu_ps(state + d), va)));
    }
}

/* out rows of the pairs of kv_head <- state / l (zeros for a pair that saw no key) */
static void decode_finish(float *out, const float *state, size_t n_q, size_t n_heads,
                          size_t n_kv_heads, size_t hd, size_t kv_head) {
    size_t hpk = n_heads / n_kv_heads, stride = hd + 2;
    for (size_t r = 0; r < n_q * hpk; r++, state += stride) {
        float *o = out + (r / hpk) * n_heads * hd + (kv_head * hpk + r % hpk) * hd;
        __m256 inv = _mm256_set1_ps(state[hd + 1] > 0.0f ? 1.0f / state[hd + 1] : 0.0f);
        for (size_t d = 0; d < hd; d += 8)
            _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_loadu_ps(state + d), inv));
    }
}

static void decode_empty(float *state, size_t n_pairs, size_t hd) {
    for (size_t r = 0; r < n_pairs; r++, state += hd + 2) {
        for (size_t d = 0; d < hd; d++) state[d] = 0.0f;
        state[hd] = -INFINITY;
        state[hd + 1] = 0.0f;
    }
}

// One decode part; k, v of kv_dtype (F32, F16 or Q8_0).
void vlmi_avx2_attention_decode_part(float *part, const float *q, const void *k,
                                     const void *v, vlm_dtype kv_dtype, size_t n_q,
                                     size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                     size_t head_dim, const vlmi_attention_mask *mask,
                                     float scale, size_t kv_head, size_t p0, size_t p1) {
    if (kv_dtype == VLM_DTYPE_Q8_0)
        decode_part_any(part, q, k, v, false, true, n_q, n_kv, n_heads, n_kv_heads, head_dim,
                        mask, scale, kv_head, p0, p1);
    else if (kv_dtype == VLM_DTYPE_F16)
        decode_part_any(part, q, k, v, true, false, n_q, n_kv, n_heads, n_kv_heads, head_dim,
                        mask, scale, kv_head, p0, p1);
    else
        decode_part_any(part, q, k, v, false, false, n_q, n_kv, n_heads, n_kv_heads, head_dim,
                        mask, scale, kv_head, p0, p1);
}

// parts (n_parts, in key order) -> out rows of kv_head's pairs
void vlmi_avx2_attention_decode_reduce(float *out, const float *parts, size_t n_parts,
                                       size_t n_q, size_t n_heads, size_t n_kv_heads,
                                       size_t head_dim, size_t kv_head) {
    _Alignas(32) float state[VLMI_DECODE_MAX_PAIRS * (MAX_HEAD_DIM + 2)];
    size_t n_pairs = n_q * (n_heads / n_kv_heads), part_floats = n_pairs * (head_dim + 2);
    decode_empty(state, n_pairs, head_dim);
    for (size_t j = 0; j < n_parts; j++)
        decode_merge(state, parts + j * part_floats, n_pairs, head_dim);
    decode_finish(out, state, n_q, n_heads, n_kv_heads, head_dim, kv_head);
}

/* The whole decode call on one thread: each key/value head's segments in
 * order, merged as they come (the same bits as parts + reduce). */
static void decode_all(float *out, const float *q, const void *k, const void *v, bool f16,
                       size_t n_q, size_t n_kv, size_t n_heads, size_t n_kv_heads,
                       size_t head_dim, const vlmi_attention_mask *mask, float scale) {
    _Alignas(32) float state[VLMI_DECODE_MAX_PAIRS * (MAX_HEAD_DIM + 2)];
    _Alignas(32) float part[VLMI_DECODE_MAX_PAIRS * (MAX_HEAD_DIM + 2)];
    size_t n_pairs = n_q * (n_heads / n_kv_heads);
    size_t s0, n_seg;
    vlmi_attention_decode_segments(mask, n_kv, &s0, &n_seg);
    for (size_t g = 0; g < n_kv_heads; g++) {
        decode_empty(state, n_pairs, head_dim);
        for (size_t j = 0; j < n_seg; j++) {
            size_t p0, p1;
            vlmi_attention_decode_segment(mask, n_kv, s0 + j, &p0, &p1);
            vlmi_avx2_attention_decode_part(part, q, k, v, f16 ? VLM_DTYPE_F16 : VLM_DTYPE_F32,
                                            n_q, n_kv, n_heads,
                                            n_kv_heads, head_dim, mask, scale, g, p0, p1);
            decode_merge(state, part, n_pairs, head_dim);
        }
        decode_finish(out, state, n_q, n_heads, n_kv_heads, head_dim, g);
    }
}

/* One share over f32 or f16 keys and values (see vlmi_avx2_attention_share). */
static ALWAYS_INLINE void share_any(float *out, const float *q, const void *k, const void *v,
                                    bool f16, size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                    size_t head_dim, const vlmi_attention_mask *mask,
                                    float scale, size_t kv_head, size_t i0, size_t i1) {
    att_shape s = {.n_kv = n_kv, .hd = head_dim, .q_dim = n_heads * head_dim,
                   .kv_dim = n_kv_heads * head_dim, .hpk = n_heads / n_kv_heads,
                   .mask = mask, .scale = scale};
    size_t elem = f16 ? sizeof(uint16_t) : sizeof(float);
    const void *kb = (const unsigned char *)k + kv_head * head_dim * elem;
    const void *vb = (const unsigned char *)v + kv_head * head_dim * elem;
    size_t h0 = kv_head * s.hpk;
    if (head_dim > MAX_HEAD_DIM || head_dim == 0) {
        for (size_t i = i0; i < i1; i++)
            for (size_t hh = 0; hh < s.hpk; hh++) {
                size_t first, end;
                visible_range(&s, i, &first, &end);
                size_t off = i * s.q_dim + (h0 + hh) * head_dim;
                row_scalar(out + off, q + off, kb, vb, f16, &s, first, end);
            }
        return;
    }
    /* rows (i, h) i-major, eight per block */
    size_t row_i[ROWS], row_h[ROWS], n = 0;
    for (size_t i = i0; i < i1; i++)
        for (size_t hh = 0; hh < s.hpk; hh++) {
            row_i[n] = i;
            row_h[n] = h0 + hh;
            if (++n == ROWS) {
                if (f16) attend_block_f16(out, q, kb, vb, &s, row_i, row_h, n);
                else attend_block(out, q, kb, vb, &s, row_i, row_h, n);
                n = 0;
            }
        }
    if (n > 0) {
        if (f16) attend_block_f16(out, q, kb, vb, &s, row_i, row_h, n);
        else attend_block(out, q, kb, vb, &s, row_i, row_h, n);
    }
}

// One share: the query heads of key/value head kv_head, query rows [i0, i1).
// q (n_q, n_heads*head_dim), k, v (rows of n_kv_heads*head_dim) -> out rows
void vlmi_avx2_attention_share(float *out, const float *q, const float *k, const float *v,
                               size_t n_kv, size_t n_heads, size_t n_kv_heads,
                               size_t head_dim, const vlmi_attention_mask *mask,
                               float scale, size_t kv_head, size_t i0, size_t i1) {
    share_any(out, q, k, v, false, n_kv, n_heads, n_kv_heads, head_dim, mask, scale, kv_head,
              i0, i1);
}

// The same over f16 k, v.
void vlmi_avx2_attention_share_f16(float *out, const float *q, const uint16_t *k,
                                   const uint16_t *v, size_t n_kv, size_t n_heads,
                                   size_t n_kv_heads, size_t head_dim,
                                   const vlmi_attention_mask *mask, float scale,
                                   size_t kv_head, size_t i0, size_t i1) {
    share_any(out, q, k, v, true, n_kv, n_heads, n_kv_heads, head_dim, mask, scale, kv_head,
              i0, i1);
}

// q (n_q, n_heads*head_dim), k, v (rows of n_kv_heads*head_dim, see mask->kv_ring)
//   -> out (n_q, n_heads*head_dim)
void vlmi_avx2_attention_masked(float *out, float *scores, const float *q, const float *k,
                                const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                                size_t n_kv_heads, size_t head_dim,
                                const vlmi_attention_mask *mask, float scale) {
    (void)scores;
    if (vlmi_attention_is_decode(n_q, n_heads, n_kv_heads, head_dim)) {
        decode_all(out, q, k, v, false, n_q, n_kv, n_heads, n_kv_heads, head_dim, mask, scale);
        return;
    }
    for (size_t g = 0; g < n_kv_heads; g++)
        vlmi_avx2_attention_share(out, q, k, v, n_kv, n_heads, n_kv_heads, head_dim, mask,
                                  scale, g, 0, n_q);
}

// The same over f16 k, v.
void vlmi_avx2_attention_masked_f16(float *out, float *scores, const float *q,
                                    const uint16_t *k, const uint16_t *v, size_t n_q,
                                    size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                    size_t head_dim, const vlmi_attention_mask *mask,
                                    float scale) {
    (void)scores;
    if (vlmi_attention_is_decode(n_q, n_heads, n_kv_heads, head_dim)) {
        decode_all(out, q, k, v, true, n_q, n_kv, n_heads, n_kv_heads, head_dim, mask, scale);
        return;
    }
    for (size_t g = 0; g < n_kv_heads; g++)
        vlmi_avx2_attention_share_f16(out, q, k, v, n_kv, n_heads, n_kv_heads, head_dim,
                                      mask, scale, g, 0, n_q);
}

// q (n_q, n_heads*head_dim), k, v (n_kv, n_kv_heads*head_dim)
//   -> out (n_q, n_heads*head_dim)
void vlmi_avx2_attention(float *out, float *scores, const float *q, const float *k,
                         const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                         size_t n_kv_heads, size_t head_dim, size_t q_pos0, bool causal,
                         float scale) {
    /* bidirectional: every row at a position >= n_kv - 1 sees all n_kv keys */
    vlmi_attention_mask mask = {.q_pos0 = causal ? q_pos0 : n_kv};
    vlmi_avx2_attention_masked(out, scores, q, k, v, n_q, n_kv, n_heads, n_kv_heads,
                               head_dim, &mask, scale);
}
