/* Element types of stored tensors: names, block layouts, the mapping from
 * safetensors dtype strings and ggml type ids to vlm_dtype, and the tensor
 * descriptor that both file readers (safetensors.h, gguf.h) fill. */
#ifndef VLM_IO_DTYPE_H
#define VLM_IO_DTYPE_H

#include "vlm-impl.h"

#include <stdbool.h>

/* ggml's Q8_1 (32 int8 + f16 scale + f16 sum) appears in GGUF files but has
 * no public vlm_dtype; it gets a value in the range reserved for non-public
 * entries (>= 1000) so the readers can still describe such a tensor. */
#define VLMI_DTYPE_Q8_1 ((vlm_dtype)1000)

typedef struct vlmi_dtype_layout {
    const char *name;     /* "Q4_K", "BF16": as ggml and safetensors spell it */
    uint32_t block_size;  /* elements per block; 1 for plain types */
    uint32_t block_bytes; /* bytes per block */
} vlmi_dtype_layout;

/* The layout of dtype, or NULL if dtype is not a value this build knows. */
const vlmi_dtype_layout *vlmi_dtype_layout_of(vlm_dtype dtype);
/* "Q4_K"; "?" for an unknown value. Static storage. */
const char *vlmi_dtype_name(vlm_dtype dtype);

/* Bytes taken by a row of n_cols elements. False if n_cols is not a multiple
 * of the block size, or on overflow. */
bool vlmi_dtype_row_bytes(vlm_dtype dtype, uint64_t n_cols, uint64_t *out);

/* safetensors header dtype string ("F32", "BOOL", ...) -> dtype. False for
 * strings we do not support (F8_E4M3, U16, ...) or that are not dtypes. */
bool vlmi_dtype_from_safetensors(const char *name, vlm_dtype *out);

/* ggml type id (the GGUF tensor-info value) -> dtype. False if unsupported. */
bool vlmi_dtype_from_ggml(uint32_t ggml_type, vlm_dtype *out);
/* The name ggml gives a type id ("IQ2_XXS"), for messages about types we do
 * not support; "unknown" for ids ggml never assigned. Static storage. */
const char *vlmi_ggml_type_name(uint32_t ggml_type);

/* One tensor as a reader found it in a mapped file. Both readers fill it the
 * same way, so callers need not care which format a tensor came from. */
typedef struct vlmi_tensor_info {
    const char *name;             /* NUL-terminated; borrowed from the reader */
    vlm_dtype dtype;
    uint32_t n_dims;              /* 0 (scalar) .. VLM_MAX_DIMS */
    int64_t shape[VLM_MAX_DIMS];  /* outermost first, as PyTorch and
                                     safetensors write it; entries past
                                     n_dims are 0 */
    uint64_t n_elements;          /* product of shape[0..n_dims) */
    const void *data;             /* (n_bytes) read-only mapped bytes; not
                                     necessarily aligned for safetensors */
    uint64_t n_bytes;
    uint64_t file_offset;         /* where data starts in its file */
} vlmi_tensor_info;

#endif
