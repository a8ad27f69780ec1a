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

/* Bytes of one block of a block-quantized weight dtype (*elements per
 * block: 32, or 256 for the k-quants); 0 for plain dtypes. */
static size_t quant_block_bytes(vlm_dtype dtype, size_t *elements) {
    *elements = VLMI_QK_K;
    if (dtype == VLM_DTYPE_Q4_K) return VLMI_Q4_K_BLOCK_BYTES;
    if (dtype == VLM_DTYPE_Q6_K) return VLMI_Q6_K_BLOCK_BYTES;
    *elements = VLMI_QK;
    if (dtype == VLM_DTYPE_Q8_0) return VLMI_Q8_0_BLOCK_BYTES;
    if (dtype == VLM_DTYPE_Q4_0) return VLMI_Q4_0_BLOCK_BYTES;
    if (dtype == VLM_DTYPE_Q5_0) return VLMI_Q5_0_BLOCK_BYTES;
    return 0;
}

bool vlmi_ref_weight_dtype_supported(vlm_dtype dtype) {
    size_t elements;
    return dtype == VLM_DTYPE_F32 || dtype == VLM_DTYPE_F16 || dtype == VLM_DTYPE_BF16 ||
           quant_block_bytes(dtype, &elements) != 0;
}

// W (n_rows, n)[row] -> out (n,)
void vlmi_ref_weight_row(float *out, const void *w, vlm_dtype dtype,
                         size_t row, size_t n) {
    size_t elements, block_bytes = quant_block_bytes(dtype, &elements);
    if (block_bytes != 0) {
        const unsigned char *row_bytes = (const unsigned char *)w + row * (n / elements) * block_bytes;
        vlmi_dequant_fn_for(dtype)(out, row_bytes, n);
        return;
    }
    for (size_t j = 0; j < n; j++) out[j] = weight_at(w, dtype, row * n + j);
}

// ---- matmul ----

/* x (k) . W row j (k, block-quantized): each block dequantized exactly, then
 * summed in element order (the same order as the plain dtypes). */
static float dot_blocks(const float *x, const void *w, vlm_dtype dtype, size_t j, size_t k) {
    size_t elements, block_bytes = quant_block_bytes(dtype, &elements);
    const unsigned char *w_row = (const unsigned char *)w + j * (k / elements) * block_bytes;
    vlmi_dequant_fn dequant = vlmi_dequant_fn_for(dtype);
    float block[VLMI_QK_K];
    float sum = 0.0f;
    for (size_t b = 0; b < k / elements; b++) {
        dequant(block, w_row + b * block_bytes, elements);
        for (size_t l = 0; l < elements; l++) sum += block[l] * x[b * elements + l];
    }
    return sum;
}

// x (m,k) @ W (n,k)^T + bias (n,) -> out (m,n)
void vlmi_ref_matmul(float *out, const float *x, const void *w, vlm_dtype w_dtype,
                     const float *bias, size_t m, size_t k, size_t n) {
    size_t elements;
    bool blocks = quant_block_bytes(w_dtype, &elements) != 0;
    for (size_t i = 0; i < m; i++) {
        const float *x_row = x + i * k;
        for (size_t j = 0; j < n; j++) {
            float sum = 0.0f;
            if (blocks)
                sum = dot_blocks(x_row, w, w_dtype, j, k);
            else
                for (size_t l = 0; l < k; l++) sum += weight_at(w, w_dtype, j * k + l) * x_row[l];
            out[i * n + j] = bias ? sum + bias[j] : sum;
        }
    }
}
