/* A GGUF v3 writer for vlm-quantize: metadata and tensor infos are collected
 * first, then written with the tensors' data streamed in the same order.
 *
 * Layout written: "GGUF", u32 3, u64 n_tensors, u64 n_kv; the key/values;
 * the tensor infos (name, u32 n_dims, u64 ne[] innermost first, u32 ggml
 * type, u64 offset); zero padding to GGUF_WRITER_ALIGNMENT; each tensor's
 * bytes padded to the alignment. Little-endian, as GGUF is. */
#ifndef VLM_QUANTIZE_GGUF_WRITER_H
#define VLM_QUANTIZE_GGUF_WRITER_H

#include "vlm.h"

#include <stdint.h>
#include <stdio.h>

#define GGUF_WRITER_ALIGNMENT 32u

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_create(void);  /* NULL when out of memory */
void gguf_writer_free(gguf_writer *w);

/* Metadata, written in the order added. Strings are copied. */
vlm_status gguf_writer_add_string(gguf_writer *w, const char *key, const char *value, size_t len);
vlm_status gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t value);
/* An ARRAY of INT64 (n values, copied). */
vlm_status gguf_writer_add_i64_array(gguf_writer *w, const char *key, const int64_t *values,
                                     size_t n);

/* A tensor of ggml_type with shape outermost first (as safetensors), n_bytes
 * of data to come. Its data offset follows the previous tensor's. */
vlm_status gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t ggml_type,
                                  uint32_t n_dims, const int64_t *shape, uint64_t n_bytes);

/* Writes everything before the data section to f. */
vlm_status gguf_writer_write_header(gguf_writer *w, FILE *f);
/* Pads f after a tensor's n_bytes to the alignment. */
vlm_status gguf_writer_pad(FILE *f, uint64_t n_bytes);

#endif
