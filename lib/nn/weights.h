/* Weights as the compute blocks see them, and binding them by name.
 *
 * A vlmi_matrix points into the mapped checkpoint (never copied) and keeps
 * the layout PyTorch's nn.Linear stores: (out_features, in_features),
 * row-major. Small vectors (norm weights, biases) are converted to f32 once
 * at bind time into buffers the block owns, so elementwise kernels read
 * plain floats whatever dtype the file stores. */
#ifndef VLM_NN_WEIGHTS_H
#define VLM_NN_WEIGHTS_H

#include "io/gguf.h"
#include "io/safetensors.h"
#include "ref/ops.h"
#include "vlm-impl.h"

typedef struct vlmi_matrix {
    const void *data;  /* (rows, cols) row-major, borrowed from the mapped file */
    vlm_dtype dtype;   /* one vlmi_ref_weight_dtype_supported accepts */
    size_t rows;       /* out_features */
    size_t cols;       /* in_features; for a conv weight, the product of the
                          trailing dims (in_channels * kh * kw) */
} vlmi_matrix;

/* A linear layer over m rows; bias (w->rows,) may be NULL.
 * x (m, w->cols) @ W^T + bias -> out (m, w->rows) */
static inline void vlmi_linear(float *out, const float *x, const vlmi_matrix *w,
                               const float *bias, size_t m) {
    vlmi_ref_matmul(out, x, w->data, w->dtype, bias, m, w->cols, w->rows);
}

/* The tensor named by the printf-style name, checked to have exactly shape
 * (n_dims entries). Failures name the tensor: VLM_ERR_FORMAT if it is
 * missing, VLM_ERR_SHAPE if its shape differs ("...: shape [8, 16], config
 * expects [16, 16]"), VLM_ERR_UNSUPPORTED if no kernel reads its dtype. */
vlm_status vlmi_weights_find(const vlmi_tensor_info **out,
                             const vlmi_safetensors_set *set, size_t n_dims,
                             const size_t *shape, const char *name_fmt, ...)
    VLMI_PRINTF(5, 6);

/* Binds a 2-D (rows, cols) weight without copying it. */
vlm_status vlmi_weights_matrix(vlmi_matrix *out, const vlmi_safetensors_set *set,
                               size_t rows, size_t cols, const char *name_fmt, ...)
    VLMI_PRINTF(5, 6);

/* Binds an n-D weight as a matrix (shape[0], product of the rest), e.g. a
 * conv kernel (out_ch, in_ch, kh, kw) as (out_ch, in_ch*kh*kw). */
vlm_status vlmi_weights_matrix_nd(vlmi_matrix *out, const vlmi_safetensors_set *set,
                                  size_t n_dims, const size_t *shape,
                                  const char *name_fmt, ...) VLMI_PRINTF(5, 6);

/* Converts a tensor of exactly shape (n_dims entries) to f32 into dst, which
 * holds the product of shape floats. */
vlm_status vlmi_weights_load_f32(float *dst, const vlmi_safetensors_set *set,
                                 size_t n_dims, const size_t *shape,
                                 const char *name_fmt, ...) VLMI_PRINTF(5, 6);

/* ---- GGUF files (llama.cpp's names, shapes outermost first) ----
 * Failures name the file and the tensor: VLM_ERR_FORMAT missing,
 * VLM_ERR_SHAPE another shape ("...: shape [24, 32], the metadata expects
 * [32, 32]"), VLM_ERR_UNSUPPORTED a dtype no dequantizer reads. */

/* The tensor name of g, checked to have exactly shape. */
vlm_status vlmi_weights_gguf_find(const vlmi_tensor_info **out, const vlmi_gguf *g,
                                  const char *name, size_t n_dims, const size_t *shape);

/* Binds it as a matrix (shape[0], product of the rest) without copying. */
vlm_status vlmi_weights_gguf_matrix(vlmi_matrix *out, const vlmi_gguf *g, size_t n_dims,
                                    const size_t *shape, const char *name);

/* Converts a vector of n elements (whole blocks of its dtype) to f32 as stored. */
vlm_status vlmi_weights_gguf_load_f32(float *dst, const vlmi_gguf *g, size_t n,
                                      const char *name);

#endif
