/* Reference weight reading and matmul (see ops.h). */
#include "ref/ops.h"

#include "kernels.h"

#include <string.h>

/* ---- element conversion ---- */

/* Element i of a weight of the given dtype; unaligned-safe. */
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

bool vlmi_ref_weight_dtype_supported(vlm_dtype dtype) {
    return dtype == VLM_DTYPE_F32 || dtype == VLM_DTYPE_F16 || dtype == VLM_DTYPE_BF16;
}

// W (n_rows, n)[row] -> out (n,)
void vlmi_ref_weight_row(float *out, const void *w, vlm_dtype dtype,
                         size_t row, size_t n) {
    for (size_t j = 0; j < n; j++) out[j] = weight_at(w, dtype, row * n + j);
}

// ---- matmul ----

// x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n)
void vlmi_ref_matmul(float *out, const float *x, const void *w, vlm_dtype w_dtype,
                     const float *bias, size_t m, size_t k, size_t n) {
    for (size_t i = 0; i < m; i++) {
        const float *x_row = x + i * k;
        for (size_t j = 0; j < n; j++) {
            float sum = 0.0f;
            for (size_t l = 0; l < k; l++) sum += weight_at(w, w_dtype, j * k + l) * x_row[l];
            out[i * n + j] = bias ? sum + bias[j] : sum;
        }
    }
}
