/* Reference weight reading and matmul (see ops.h). */
#include "ref/ops.h"

#include "kernels.h"

#include <string.h>

/* ---- element conversion ---- */

/* Element i of a weight of a plain dtype (F32, F16, BF16); unaligned-safe. */
static float weight_at(const void *w, vlm_dtype dtype, size_t i) {
    const unsigned char *bytes = w;
    if (dtype == VLM_DTYPE_F32) {
        float f;
        memcpy(&f, bytes + i * 4, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, bytes + i * 2, 2);
    return dtype == VLM_DTYPE_BF16 ? vlmi_bf16_to_f32(h) : vlmi_f16_to_f32(h);
}

/* Bytes of one super-block of a k-quant weight dtype; 0 for plain dtypes. */
static size_t kquant_block_bytes(vlm_dtype dtype) {
    if (dtype == VLM_DTYPE_Q4_K) return VLMI_Q4_K_BLOCK_BYTES;
    if (dtype == VLM_DTYPE_Q6_K) return VLMI_Q6_K_BLOCK_BYTES;
    return 0;
}

bool vlmi_ref_weight_dtype_supported(vlm_dtype dtype) {
    return dtype == VLM_DTYPE_F32 || dtype == VLM_DTYPE_F16 || dtype == VLM_DTYPE_BF16 ||
           kquant_block_bytes(dtype) != 0;
}

// W (n_rows, n)[row] -> out (n,)
void vlmi_ref_weight_row(float *out, const void *w, vlm_dtype dtype,
                         size_t row, size_t n) {
    size_t block_bytes = kquant_block_bytes(dtype);
    if (block_bytes != 0) {
        const unsigned char *row_bytes = (const unsigned char *)w + row * (n / VLMI_QK_K) * block_bytes;
        vlmi_dequant_fn_for(dtype)(out, row_bytes, n);
        return;
    }
    for (size_t j = 0; j < n; j++) out[j] = weight_at(w, dtype, row * n + j);
}

// ---- matmul ----

/* x (k) . W row j (k, k-quant): each super-block dequantized exactly, then
 * summed in element order (the same order as the plain dtypes). */
static float dot_kquant(const float *x, const void *w, vlm_dtype dtype, size_t j, size_t k) {
    size_t block_bytes = kquant_block_bytes(dtype);
    const unsigned char *w_row = (const unsigned char *)w + j * (k / VLMI_QK_K) * block_bytes;
    vlmi_dequant_fn dequant = vlmi_dequant_fn_for(dtype);
    float block[VLMI_QK_K];
    float sum = 0.0f;
    for (size_t b = 0; b < k / VLMI_QK_K; b++) {
        dequant(block, w_row + b * block_bytes, VLMI_QK_K);
        for (size_t l = 0; l < VLMI_QK_K; l++) sum += block[l] * x[b * VLMI_QK_K + l];
    }
    return sum;
}

// x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n)
void vlmi_ref_matmul(float *out, const float *x, const void *w, vlm_dtype w_dtype,
                     const float *bias, size_t m, size_t k, size_t n) {
    bool kquant = kquant_block_bytes(w_dtype) != 0;
    for (size_t i = 0; i < m; i++) {
        const float *x_row = x + i * k;
        for (size_t j = 0; j < n; j++) {
            float sum = 0.0f;
            if (kquant)
                sum = dot_kquant(x_row, w, w_dtype, j, k);
            else
                for (size_t l = 0; l < k; l++) sum += weight_at(w, w_dtype, j * k + l) * x_row[l];
            out[i * n + j] = bias ? sum + bias[j] : sum;
        }
    }
}
