/* Attention of many query rows through BLAS (ViT encoders, long prefills):
 * for each query head of a share, the scores of a block of query rows over
 * the keys they see, S = scale Q K^T, one sgemm; each row's softmax within
 * its own visible range (the rest of the row zero); then O = P V, a second
 * sgemm. With 64 rows over 1024 keys the score block is 256 KB, within L2,
 * and OpenBLAS's packed kernels do the two products at several times the
 * rate of the streaming kernels' broadcasts (vlm-bench "attn"). */
#include "dispatch.h"
#include "kernels.h"
#include "ref/ops.h"

#include <math.h>
#include <string.h>

bool vlmi_attention_blas_takes(const vlmi_attention_mask *mask, bool f16, size_t n_q,
                               size_t n_kv) {
    const vlmi_kernel_table *table = vlmi_kernels();
    return !f16 && mask->kv_ring == 0 && table->tier != VLMI_KERNELS_REF &&
           vlmi_blas_available() && n_q >= VLMI_ATTENTION_BLAS_MIN_ROWS &&
           n_kv >= VLMI_ATTENTION_BLAS_MIN_KEYS;
}

// One share: the query heads of kv_head, rows [i0, i1); scores: (i1 - i0) x n_kv floats.
void vlmi_attention_blas_share(float *out, float *scores, const float *q, const float *k,
                               const float *v, size_t n_kv, size_t n_heads, size_t n_kv_heads,
                               size_t head_dim, const vlmi_attention_mask *mask, float scale,
                               size_t kv_head, size_t i0, size_t i1) {
    const vlmi_kernel_table *table = vlmi_kernels();
    size_t q_dim = n_heads * head_dim, kv_dim = n_kv_heads * head_dim;
    size_t heads_per_kv = n_heads / n_kv_heads, n_rows = i1 - i0;
    /* the key positions any row sees: [lo, hi) */
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = i0; i < i1; i++) {
        size_t first, end;
        vlmi_attention_visible(mask, n_kv, i, &first, &end);
        if (first < end && first < lo) lo = first;
        if (first < end && end > hi) hi = end;
    }
    for (size_t hh = 0; hh < heads_per_kv; hh++) {
        size_t h = kv_head * heads_per_kv + hh;
        float *o = out + i0 * q_dim + h * head_dim;
        if (hi == 0) { /* no row sees a key: zeros, as ref */
            for (size_t r = 0; r < n_rows; r++) memset(o + r * q_dim, 0, head_dim * sizeof *o);
            continue;
        }
        size_t n_keys = hi - lo;
        const float *kh = k + (lo - mask->kv_pos0) * kv_dim + kv_head * head_dim;
        const float *vh = v + (lo - mask->kv_pos0) * kv_dim + kv_head * head_dim;
        vlmi_blas_gemm(true, n_rows, n_keys, head_dim, scale, q + i0 * q_dim + h * head_dim,
                       q_dim, kh, kv_dim, 0.0f, scores, n_keys);
        for (size_t r = 0; r < n_rows; r++) {
            float *row = scores + r * n_keys;
            size_t first, end;
            vlmi_attention_visible(mask, n_kv, i0 + r, &first, &end);
            if (first >= end) {
                memset(row, 0, n_keys * sizeof *row);
                continue;
            }
            size_t a = first - lo, b = end - lo;
            memset(row, 0, a * sizeof *row);
            memset(row + b, 0, (n_keys - b) * sizeof *row);
            if (mask->softcap > 0.0f)
                for (size_t t = a; t < b; t++)
                    row[t] = mask->softcap * tanhf(row[t] / mask->softcap);
            table->softmax(row + a, b - a);
        }
        vlmi_blas_gemm(false, n_rows, head_dim, n_keys, 1.0f, scores, n_keys, vh, kv_dim, 0.0f,
                       o, q_dim);
    }
}
