/* Reference scaled dot-product attention (see ops.h). */
#include "ref/ops.h"
#include "kernels.h"

#include <math.h>

// q (n_q, n_heads*head_dim), k, v (n_kv, n_kv_heads*head_dim)
//   -> out (n_q, n_heads*head_dim)
void vlmi_ref_attention(float *out, float *scores, const float *q,
                        const float *k, const float *v, size_t n_q, size_t n_kv,
                        size_t n_heads, size_t n_kv_heads, size_t head_dim,
                        size_t q_pos0, bool causal, float scale) {
    size_t q_dim = n_heads * head_dim;
    size_t kv_dim = n_kv_heads * head_dim;
    size_t heads_per_kv = n_heads / n_kv_heads;
    for (size_t i = 0; i < n_q; i++) {
        /* keys this query may see: a prefix when causal */
        size_t n_visible = causal ? q_pos0 + i + 1 : n_kv;
        if (n_visible > n_kv) n_visible = n_kv;
        for (size_t h = 0; h < n_heads; h++) {
            const float *qh = q + i * q_dim + h * head_dim;
            size_t kv_offset = (h / heads_per_kv) * head_dim;
            // scores = q . k * scale over the visible keys
            for (size_t t = 0; t < n_visible; t++) {
                const float *kt = k + t * kv_dim + kv_offset;
                float dot = 0.0f;
                for (size_t d = 0; d < head_dim; d++) dot += qh[d] * kt[d];
                scores[t] = dot * scale;
            }
            vlmi_ref_softmax(scores, n_visible);
            // out = scores @ v
            float *oh = out + i * q_dim + h * head_dim;
            for (size_t d = 0; d < head_dim; d++) oh[d] = 0.0f;
            for (size_t t = 0; t < n_visible; t++) {
                const float *vt = v + t * kv_dim + kv_offset;
                for (size_t d = 0; d < head_dim; d++) oh[d] += scores[t] * vt[d];
            }
        }
    }
}

/* Element j of a key or value row: f32, or IEEE f16 converted exactly. */
static inline float kv_load(const void *row, size_t j, bool f16) {
    return f16 ? vlmi_f16_to_f32(((const uint16_t *)row)[j]) : ((const float *)row)[j];
}

/* attention_masked over f32 or f16 keys and values: the same arithmetic on
 * the values as f32 (the conversion is exact). */
static inline void attention_masked_any(float *out, float *scores, const float *q,
                                        const void *k, const void *v, bool f16, size_t n_q,
                                        size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                        size_t head_dim, const vlmi_attention_mask *mask,
                                        float scale) {
    size_t q_dim = n_heads * head_dim;
    size_t kv_dim = n_kv_heads * head_dim;
    size_t heads_per_kv = n_heads / n_kv_heads;
    size_t elem = f16 ? sizeof(uint16_t) : sizeof(float);
    const unsigned char *kb = k, *vb = v;
    for (size_t i = 0; i < n_q; i++) {
        size_t first, end;
        vlmi_attention_visible(mask, n_kv, i, &first, &end);
        size_t n_visible = end - first;
        for (size_t h = 0; h < n_heads; h++) {
            const float *qh = q + i * q_dim + h * head_dim;
            size_t kv_offset = (h / heads_per_kv) * head_dim;
            // scores = q . k * scale (softcapped) over the visible keys
            for (size_t t = 0; t < n_visible; t++) {
                size_t p = first + t;
                size_t row = mask->kv_ring ? p % mask->kv_ring : p - mask->kv_pos0;
                const void *kt = kb + (row * kv_dim + kv_offset) * elem;
                float dot = 0.0f;
                for (size_t d = 0; d < head_dim; d++) dot += qh[d] * kv_load(kt, d, f16);
                float score = dot * scale;
                if (mask->softcap > 0.0f) score = mask->softcap * tanhf(score / mask->softcap);
                scores[t] = score;
            }
            vlmi_ref_softmax(scores, n_visible);
            // out = scores @ v
            float *oh = out + i * q_dim + h * head_dim;
            for (size_t d = 0; d < head_dim; d++) oh[d] = 0.0f;
            for (size_t t = 0; t < n_visible; t++) {
                size_t p = first + t;
                size_t row = mask->kv_ring ? p % mask->kv_ring : p - mask->kv_pos0;
                const void *vt = vb + (row * kv_dim + kv_offset) * elem;
                for (size_t d = 0; d < head_dim; d++) oh[d] += scores[t] * kv_load(vt, d, f16);
            }
        }
    }
}

// q (n_q, n_heads*head_dim), k, v (rows of n_kv_heads*head_dim, see mask->kv_ring)
//   -> out (n_q, n_heads*head_dim)
void vlmi_ref_attention_masked(float *out, float *scores, const float *q,
                               const float *k, const float *v, size_t n_q, size_t n_kv,
                               size_t n_heads, size_t n_kv_heads, size_t head_dim,
                               const vlmi_attention_mask *mask, float scale) {
    attention_masked_any(out, scores, q, k, v, false, n_q, n_kv, n_heads, n_kv_heads,
                         head_dim, mask, scale);
}

// q (n_q, n_heads*head_dim), k, v f16 (rows of n_kv_heads*head_dim, see mask->kv_ring)
//   -> out (n_q, n_heads*head_dim)
void vlmi_ref_attention_masked_f16(float *out, float *scores, const float *q,
                                   const uint16_t *k, const uint16_t *v, size_t n_q,
                                   size_t n_kv, size_t n_heads, size_t n_kv_heads,
                                   size_t head_dim, const vlmi_attention_mask *mask,
                                   float scale) {
    attention_masked_any(out, scores, q, k, v, true, n_q, n_kv, n_heads, n_kv_heads,
                         head_dim, mask, scale);
}
