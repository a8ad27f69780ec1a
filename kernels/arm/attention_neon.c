/* NEON scaled dot-product attention (contracts: vlmi_ref_attention_masked in
 * ref/ops.h; the decode entries: dispatch.h).
 *
 * Every (query row, head) pair is computed on its own, vectorised along
 * head_dim: the keys in the 256-position segments of
 * vlmi_attention_decode_segment, each segment as 64-key blocks at multiples
 * of 64 in position space (scores, then an online softmax step, then P V),
 * the segments' partial (o, max, sum) merged in key order. A pair's
 * arithmetic depends only on the pair, so results do not depend on how the
 * rows are split over threads, and the decode entries (parts in parallel,
 * then reduce) give the same bits as attention_masked.
 *
 * Differences from ref: fused multiply-adds, dot products summed in four
 * lanes, the softmax normalised at the end. Heads of other sizes than
 * multiples of 8 up to 256 take the ref kernel (per call, so consistently).
 * f16 and Q8_0 keys and values are converted exactly where read (bit for
 * bit the f32 result on the converted values). */
#include "arm/arm.h"

#include "kernels.h"
#include "ref/ops.h"

#include <arm_neon.h>
#include <math.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

#define BLOCK 64           /* keys per online-softmax step */
#define MAX_HEAD_DIM 256
#define STATE_FLOATS (MAX_HEAD_DIM + 2)

/* True if this kernel takes the call (else ref's). */
static bool neon_takes(size_t head_dim) {
    return head_dim >= 8 && head_dim <= MAX_HEAD_DIM && head_dim % 8 == 0;
}

static ALWAYS_INLINE float32x4_t load4(const void *row, size_t d, bool f16) {
    if (f16) return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)row + d)));
    return vld1q_f32((const float *)row + d);
}

/* Four elements from element d (a multiple of 4) of a row of Q8_0 blocks,
 * dequantized as vlmi_dequant_q8_0 does (scale times value, one rounding). */
static ALWAYS_INLINE float32x4_t load4_q8_0(const unsigned char *row, size_t d) {
    const unsigned char *block = row + d / VLMI_QK * VLMI_Q8_0_BLOCK_BYTES;
    uint16_t bits;
    memcpy(&bits, block, sizeof bits);
    int32_t four; /* 4 bytes only: the last ones of a block may end the buffer */
    memcpy(&four, block + 2 + d % VLMI_QK, sizeof four);
    int8x8_t q = vreinterpret_s8_s32(vdup_n_s32(four));
    int32x4_t q32 = vmovl_s16(vget_low_s16(vmovl_s8(q)));
    return vmulq_n_f32(vcvtq_f32_s32(q32), vlmi_f16_to_f32(bits));
}

/* load4 of a key or value row: f32, f16 (f16) or Q8_0 (q8) */
static ALWAYS_INLINE float32x4_t load4_kv(const void *row, size_t d, bool f16, bool q8) {
    return q8 ? load4_q8_0(row, d) : load4(row, d, f16);
}

/* The key positions query row i sees: [*first, *end) (ref's rule). */
static void visible(const vlmi_attention_mask *m, size_t n_kv, size_t i, size_t *first,
                    size_t *end) {
    size_t pos = m->q_pos0 + i, f = m->kv_pos0;
    if (m->window > 0 && pos + 1 > m->window && pos + 1 - m->window > f)
        f = pos + 1 - m->window;
    size_t e = m->kv_end != NULL ? m->kv_end[i] : pos + 1;
    if (e > m->kv_pos0 + n_kv) e = m->kv_pos0 + n_kv;
    if (e < f) e = f;
    *first = f;
    *end = e;
}

static void state_empty(float *st, size_t hd) {
    for (size_t d = 0; d < hd; d++) st[d] = 0.0f;
    st[hd] = -INFINITY;
    st[hd + 1] = 0.0f;
}

/* One pair over key positions [a, b) (its visible ones within a segment):
 * st <- o (hd, unnormalised), max, sum. kb, vb: the pair's key/value head. */
static ALWAYS_INLINE void pair_part(float *st, const float *q, const unsigned char *kb,
                                    const unsigned char *vb, bool f16, bool q8,
                                    size_t kv_row_bytes,
                                    size_t hd, const vlmi_attention_mask *mask, float scale,
                                    size_t a, size_t b) {
    float s[BLOCK];
    state_empty(st, hd);
    for (size_t b0 = a / BLOCK * BLOCK; b0 < b; b0 += BLOCK) {
        size_t t0 = b0 > a ? b0 : a, t1 = b0 + BLOCK < b ? b0 + BLOCK : b;
        float bmax = -INFINITY;
        for (size_t p = t0; p < t1; p++) {
            size_t row = mask->kv_ring ? p % mask->kv_ring : p - mask->kv_pos0;
            const unsigned char *kt = kb + row * kv_row_bytes;
            float32x4_t acc = vdupq_n_f32(0.0f);
            for (size_t d = 0; d < hd; d += 4) acc = vfmaq_f32(acc, vld1q_f32(q + d), load4_kv(kt, d, f16, q8));
            float score = vaddvq_f32(acc) * scale;
            if (mask->softcap > 0.0f) score = mask->softcap * tanhf(score / mask->softcap);
            s[p - t0] = score;
            bmax = fmaxf(bmax, score);
        }
        // online softmax: rescale what came before by e^(m - m_new)
        float m_new = fmaxf(st[hd], bmax), alpha = expf(st[hd] - m_new), sum = 0.0f;
        for (size_t t = 0; t < t1 - t0; t++) {
            s[t] = expf(s[t] - m_new);
            sum += s[t];
        }
        st[hd] = m_new;
        st[hd + 1] = st[hd + 1] * alpha + sum;
        float32x4_t va = vdupq_n_f32(alpha);
        for (size_t d = 0; d < hd; d += 4) vst1q_f32(st + d, vmulq_f32(vld1q_f32(st + d), va));
        // o += P V
        for (size_t p = t0; p < t1; p++) {
            size_t row = mask->kv_ring ? p % mask->kv_ring : p - mask->kv_pos0;
            const unsigned char *vt = vb + row * kv_row_bytes;
            float32x4_t pv = vdupq_n_f32(s[p - t0]);
            for (size_t d = 0; d < hd; d += 4)
                vst1q_f32(st + d, vfmaq_f32(vld1q_f32(st + d), pv, load4_kv(vt, d, f16, q8)));
        }
    }
}

/* state <- state merged with part; an empty part changes nothing */
static void merge(float *state, const float *part, size_t hd) {
    float m_a = state[hd], m_b = part[hd];
    if (m_b == -INFINITY) return;
    float m = fmaxf(m_a, m_b), a = expf(m_a - m), b = expf(m_b - m);
    state[hd] = m;
    state[hd + 1] = state[hd + 1] * a + part[hd + 1] * b;
    float32x4_t va = vdupq_n_f32(a), vb = vdupq_n_f32(b);
    for (size_t d = 0; d < hd; d += 4)
        vst1q_f32(state + d, vfmaq_f32(vmulq_f32(vld1q_f32(state + d), va), vld1q_f32(part + d), vb));
}

/* o <- state / sum (zeros for a pair that saw no key) */
static void finish(float *o, const float *state, size_t hd) {
    float inv = state[hd + 1] > 0.0f ? 1.0f / state[hd + 1] : 0.0f;
    for (size_t d = 0; d < hd; d++) o[d] = state[d] * inv;
}

/* The part of pair (i, h) over the keys of [p0, p1) it sees. */
static ALWAYS_INLINE void pair_segment(float *st, const float *q, const void *k, const void *v,
                                       bool f16, bool q8, size_t n_kv, size_t n_heads,
                                       size_t n_kv_heads, size_t hd,
                                       const vlmi_attention_mask *mask, float scale, size_t i,
                                       size_t h, size_t p0, size_t p1) {
    size_t head_bytes = q8 ? hd / VLMI_QK * VLMI_Q8_0_BLOCK_BYTES : hd * (f16 ? 2 : 4);
    size_t kv_head = h / (n_heads / n_kv_heads);
    size_t first, end;
    visible(mask, n_kv, i, &first, &end);
    if (first < p0) first = p0;
    if (end > p1) end = p1;
    const unsigned char *kb = (const unsigned char *)k + kv_head * head_bytes;
    const unsigned char *vb = (const unsigned char *)v + kv_head * head_bytes;
    if (first >= end) {
        state_empty(st, hd);
        return;
    }
    pair_part(st, q + i * n_heads * hd + h * hd, kb, vb, f16, q8, n_kv_heads * head_bytes, hd,
              mask, scale, first, end);
}

// A decode part: the pairs of kv_head, i-major, over [p0, p1); k, v of
// kv_dtype (F32, F16 or Q8_0).
void vlmi_neon_attention_decode_part(float *part, const float *q, const void *k, const void *v,
                                     vlm_dtype kv_dtype, size_t n_q, size_t n_kv,
                                     size_t n_heads, size_t n_kv_heads, size_t head_dim,
                                     const vlmi_attention_mask *mask, float scale,
                                     size_t kv_head, size_t p0, size_t p1) {
    size_t hpk = n_heads / n_kv_heads;
    for (size_t r = 0; r < n_q * hpk; r++) {
        float *st = part + r * (head_dim + 2);
        size_t i = r / hpk, h = kv_head * hpk + r % hpk;
        if (kv_dtype == VLM_DTYPE_Q8_0)
            pair_segment(st, q, k, v, false, true, n_kv, n_heads, n_kv_heads, head_dim, mask,
                         scale, i, h, p0, p1);
        else if (kv_dtype == VLM_DTYPE_F16)
            pair_segment(st, q, k, v, true, false, n_kv, n_heads, n_kv_heads, head_dim, mask,
                         scale, i, h, p0, p1);
        else
            pair_segment(st, q, k, v, false, false, n_kv, n_heads, n_kv_heads, head_dim, mask,
                         scale, i, h, p0, p1);
    }
}

// parts (n_parts, in key order) -> out rows of kv_head's pairs
void vlmi_neon_attention_decode_reduce(float *out, const float *parts, size_t n_parts,
                                       size_t n_q, size_t n_heads, size_t n_kv_heads,
                                       size_t head_dim, size_t kv_head) {
    size_t hpk = n_heads / n_kv_heads, n_pairs = n_q * hpk, stride = head_dim + 2;
    float state[STATE_FLOATS];
    for (size_t r = 0; r < n_pairs; r++) {
        state_empty(state, head_dim);
        for (size_t j = 0; j < n_parts; j++)
            merge(state, parts + j * n_pairs * stride + r * stride, head_dim);
        finish(out + (r / hpk) * n_heads * head_dim + (kv_head * hpk + r % hpk) * head_dim,
               state, head_dim);
    }
}

/* Every pair of the call, segment by segment (the same bits as parts +
 * reduce, whatever the rows). */
static void attention_any(float *out, float *scores, const float *q, const void *k,
                          const void *v, bool f16, size_t n_q, size_t n_kv, size_t n_heads,
                          size_t n_kv_heads, size_t head_dim, const vlmi_attention_mask *mask,
                          float scale) {
    if (!neon_takes(head_dim)) {
        if (f16)
            vlmi_ref_attention_masked_f16(out, scores, q, k, v, n_q, n_kv, n_heads, n_kv_heads,
                                          head_dim, mask, scale);
        else
            vlmi_ref_attention_masked(out, scores, q, k, v, n_q, n_kv, n_heads, n_kv_heads,
                                      head_dim, mask, scale);
        return;
    }
    float state[STATE_FLOATS], part[STATE_FLOATS];
    size_t s0, n_seg;
    vlmi_attention_decode_segments(mask, n_kv, &s0, &n_seg);
    for (size_t i = 0; i < n_q; i++)
        for (size_t h = 0; h < n_heads; h++) {
            state_empty(state, head_dim);
            for (size_t j = 0; j < n_seg; j++) {
                size_t p0, p1;
                vlmi_attention_decode_segment(mask, n_kv, s0 + j, &p0, &p1);
                if (f16)
                    pair_segment(part, q, k, v, true, false, n_kv, n_heads, n_kv_heads,
                                 head_dim, mask, scale, i, h, p0, p1);
                else
                    pair_segment(part, q, k, v, false, false, n_kv, n_heads, n_kv_heads,
                                 head_dim, mask, scale, i, h, p0, p1);
                merge(state, part, head_dim);
            }
            finish(out + i * n_heads * head_dim + h * head_dim, state, head_dim);
        }
}

// q (n_q, n_heads*head_dim), k, v (rows of n_kv_heads*head_dim, see mask->kv_ring)
//   -> out (n_q, n_heads*head_dim)
void vlmi_neon_attention_masked(float *out, float *scores, const float *q, const float *k,
                                const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                                size_t n_kv_heads, size_t head_dim,
                                const vlmi_attention_mask *mask, float scale) {
    attention_any(out, scores, q, k, v, false, n_q, n_kv, n_heads, n_kv_heads, head_dim, mask,
                  scale);
}

// The same over f16 k, v.
void vlmi_neon_attention_masked_f16(float *out, float *scores, const float *q,
                                    const uint16_t *k, const uint16_t *v, size_t n_q,
                                    size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                    size_t head_dim, const vlmi_attention_mask *mask,
                                    float scale) {
    attention_any(out, scores, q, k, v, true, n_q, n_kv, n_heads, n_kv_heads, head_dim, mask,
                  scale);
}

// q (n_q, n_heads*head_dim), k, v (n_kv, n_kv_heads*head_dim) -> out
void vlmi_neon_attention(float *out, float *scores, const float *q, const float *k,
                         const float *v, size_t n_q, size_t n_kv, size_t n_heads,
                         size_t n_kv_heads, size_t head_dim, size_t q_pos0, bool causal,
                         float scale) {
    /* bidirectional: every row at a position >= n_kv - 1 sees all n_kv keys */
    vlmi_attention_mask mask = {.q_pos0 = causal ? q_pos0 : n_kv};
    vlmi_neon_attention_masked(out, scores, q, k, v, n_q, n_kv, n_heads, n_kv_heads, head_dim,
                               &mask, scale);
}
