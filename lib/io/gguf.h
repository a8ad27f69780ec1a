/* GGUF reader (versions 2 and 3, little-endian): maps a file, validates the
 * header, metadata and tensor infos against the file, and exposes them
 * without copying the mapped data.
 *
 * Layout: "GGUF", u32 version, u64 n_tensors, u64 n_kv; n_kv key/value pairs
 * (string key, u32 type, value); n_tensors tensor infos (string name, u32
 * n_dims, u64 ne[n_dims] innermost first, u32 ggml type, u64 offset); padding
 * to general.alignment (default 32); the data section, where every tensor
 * offset (relative to the section) is a multiple of the alignment. Strings
 * are u64 length + bytes, not NUL-terminated. */
#ifndef VLM_IO_GGUF_H
#define VLM_IO_GGUF_H

#include "io/dtype.h"

#define VLMI_GGUF_DEFAULT_ALIGNMENT 32u
/* Nested arrays deeper than this are refused rather than recursed into. */
#define VLMI_GGUF_MAX_ARRAY_DEPTH 8
/* ggml's GGML_MAX_DIMS. */
#define VLMI_GGUF_MAX_DIMS 4

/* Metadata value types, numbered as in the GGUF specification. */
typedef enum vlmi_gguf_type {
    VLMI_GGUF_UINT8   = 0,
    VLMI_GGUF_INT8    = 1,
    VLMI_GGUF_UINT16  = 2,
    VLMI_GGUF_INT16   = 3,
    VLMI_GGUF_UINT32  = 4,
    VLMI_GGUF_INT32   = 5,
    VLMI_GGUF_FLOAT32 = 6,
    VLMI_GGUF_BOOL    = 7,
    VLMI_GGUF_STRING  = 8,
    VLMI_GGUF_ARRAY   = 9,
    VLMI_GGUF_UINT64  = 10,
    VLMI_GGUF_INT64   = 11,
    VLMI_GGUF_FLOAT64 = 12
} vlmi_gguf_type;

/* "uint8", "string", ...; "?" for other values. Static storage. */
const char *vlmi_gguf_type_name(vlmi_gguf_type type);

/* One metadata value, pointing into the mapping (validated at open). */
typedef struct vlmi_gguf_value {
    vlmi_gguf_type type;
    const uint8_t *data;       /* (size) little-endian value bytes; for
                                  STRING the characters (not NUL-terminated),
                                  for ARRAY the encoded elements */
    uint64_t size;             /* bytes at data (STRING: its length) */
    vlmi_gguf_type elem_type;  /* ARRAY only */
    uint64_t n_elems;          /* ARRAY only */
} vlmi_gguf_value;

typedef struct vlmi_gguf_kv {
    const char *key;           /* NUL-terminated copy */
    vlmi_gguf_value value;
} vlmi_gguf_kv;

typedef struct vlmi_gguf vlmi_gguf;

/* Maps and validates path. Caller owns *out (vlmi_gguf_close). VLM_ERR_IO if
 * the file cannot be opened, VLM_ERR_FORMAT if malformed,
 * VLM_ERR_UNSUPPORTED for a version or tensor type we do not handle;
 * messages start with path. */
vlm_status vlmi_gguf_open(const char *path, vlmi_gguf **out);
/* The same over size bytes in memory, which the caller keeps alive and
 * unchanged until close. display_name stands for the file in messages. */
vlm_status vlmi_gguf_open_memory(const void *data, size_t size,
                                 const char *display_name, vlmi_gguf **out);
void vlmi_gguf_close(vlmi_gguf *gguf);  /* NULL is fine */

const char *vlmi_gguf_path(const vlmi_gguf *gguf);  /* borrowed */
uint32_t vlmi_gguf_version(const vlmi_gguf *gguf);
uint32_t vlmi_gguf_alignment(const vlmi_gguf *gguf);
uint64_t vlmi_gguf_data_offset(const vlmi_gguf *gguf); /* data section start */

/* Metadata in file order. Borrowed from gguf. */
size_t vlmi_gguf_n_kv(const vlmi_gguf *gguf);
const vlmi_gguf_kv *vlmi_gguf_kv_at(const vlmi_gguf *gguf, size_t index);
const vlmi_gguf_kv *vlmi_gguf_find_kv(const vlmi_gguf *gguf, const char *key);

/* Tensors in tensor-info order, described like safetensors tensors: the
 * shape is outermost first, i.e. GGUF's ne[] reversed (ne[0], the row
 * length, becomes shape[n_dims - 1]). Borrowed from gguf. */
size_t vlmi_gguf_n_tensors(const vlmi_gguf *gguf);
const vlmi_tensor_info *vlmi_gguf_tensor(const vlmi_gguf *gguf, size_t index);
const vlmi_tensor_info *vlmi_gguf_find_tensor(const vlmi_gguf *gguf,
                                              const char *name);

/* ---- reading values (false if the value is not of a fitting type) ---- */

/* Any integer type whose value fits. */
bool vlmi_gguf_value_int(const vlmi_gguf_value *value, int64_t *out);
bool vlmi_gguf_value_uint(const vlmi_gguf_value *value, uint64_t *out);
/* FLOAT32 or FLOAT64 (exactly), or an integer type (rounded). */
bool vlmi_gguf_value_float(const vlmi_gguf_value *value, double *out);
bool vlmi_gguf_value_bool(const vlmi_gguf_value *value, bool *out);
/* The string's bytes (not NUL-terminated; borrowed from the mapping). */
bool vlmi_gguf_value_string(const vlmi_gguf_value *value, const char **data,
                            size_t *len);

/* Walks an ARRAY's elements in order. Start with a zeroed cursor; each call
 * fills *elem and returns true, then false after the last. */
typedef struct vlmi_gguf_cursor {
    uint64_t index;   /* elements already returned */
    uint64_t offset;  /* bytes of array->data already consumed */
} vlmi_gguf_cursor;
bool vlmi_gguf_array_next(const vlmi_gguf_value *array, vlmi_gguf_cursor *cursor,
                          vlmi_gguf_value *elem);
/* Element index: O(1) for fixed-size element types, O(index) for strings
 * and nested arrays. False if out of range. */
bool vlmi_gguf_array_get(const vlmi_gguf_value *array, uint64_t index,
                         vlmi_gguf_value *elem);

/* ---- typed lookups for loaders: VLM_ERR_FORMAT naming file and key if the
 * key is missing or of the wrong type ---- */

vlm_status vlmi_gguf_get_int(const vlmi_gguf *gguf, const char *key, int64_t *out);
vlm_status vlmi_gguf_get_uint(const vlmi_gguf *gguf, const char *key, uint64_t *out);
vlm_status vlmi_gguf_get_float(const vlmi_gguf *gguf, const char *key, double *out);
vlm_status vlmi_gguf_get_bool(const vlmi_gguf *gguf, const char *key, bool *out);
vlm_status vlmi_gguf_get_string(const vlmi_gguf *gguf, const char *key,
                                const char **data, size_t *len);
/* An ARRAY whose elements are of elem_type. */
vlm_status vlmi_gguf_get_array(const vlmi_gguf *gguf, const char *key,
                               vlmi_gguf_type elem_type,
                               const vlmi_gguf_value **out);

#endif
