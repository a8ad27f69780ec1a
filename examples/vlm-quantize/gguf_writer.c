/* GGUF v3 serialisation (see gguf_writer.h); the reader is lib/io/gguf.c. */
#include "gguf_writer.h"

#include <stdlib.h>
#include <string.h>

enum { GGUF_TYPE_UINT32 = 4, GGUF_TYPE_STRING = 8, GGUF_TYPE_ARRAY = 9, GGUF_TYPE_INT64 = 11 };

typedef struct kv_entry {
    char *key;
    uint32_t type;      /* GGUF_TYPE_UINT32, _STRING or _ARRAY (of INT64) */
    uint32_t u32;
    int64_t *i64;       /* (n_i64) for ARRAY */
    size_t n_i64;
    char *str;          /* (str_len) for STRING */
    size_t str_len;
} kv_entry;

typedef struct tensor_entry {
    char *name;
    uint32_t ggml_type;
    uint32_t n_dims;
    int64_t shape[VLM_MAX_DIMS];  /* outermost first */
    uint64_t offset;              /* in the data section */
} tensor_entry;

struct gguf_writer {
    kv_entry *kv;
    size_t n_kv, cap_kv;
    tensor_entry *tensors;
    size_t n_tensors, cap_tensors;
    uint64_t data_size;           /* the data section so far, padded */
};

static uint64_t align_up(uint64_t n) {
    return (n + GGUF_WRITER_ALIGNMENT - 1) / GGUF_WRITER_ALIGNMENT * GGUF_WRITER_ALIGNMENT;
}

gguf_writer *gguf_writer_create(void) { return calloc(1, sizeof(gguf_writer)); }

void gguf_writer_free(gguf_writer *w) {
    if (w == NULL) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].str);
        free(w->kv[i].i64);
    }
    for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->kv);
    free(w->tensors);
    free(w);
}

/* Room for one more element of an array grown by doubling. */
static bool reserve(void **items, size_t *cap, size_t n, size_t item_size) {
    if (n < *cap) return true;
    size_t new_cap = *cap ? *cap * 2 : 16;
    void *grown = realloc(*items, new_cap * item_size);
    if (grown == NULL) return false;
    *items = grown;
    *cap = new_cap;
    return true;
}

static kv_entry *add_kv(gguf_writer *w, const char *key, uint32_t type) {
    if (!reserve((void **)&w->kv, &w->cap_kv, w->n_kv, sizeof *w->kv)) return NULL;
    kv_entry *e = &w->kv[w->n_kv];
    memset(e, 0, sizeof *e);
    if ((e->key = strdup(key)) == NULL) return NULL;
    e->type = type;
    w->n_kv++;
    return e;
}

vlm_status gguf_writer_add_string(gguf_writer *w, const char *key, const char *value, size_t len) {
    kv_entry *e = add_kv(w, key, GGUF_TYPE_STRING);
    if (e == NULL || (e->str = malloc(len + 1)) == NULL) return VLM_ERR_OUT_OF_MEMORY;
    memcpy(e->str, value, len);
    e->str[len] = '\0';
    e->str_len = len;
    return VLM_OK;
}

vlm_status gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t value) {
    kv_entry *e = add_kv(w, key, GGUF_TYPE_UINT32);
    if (e == NULL) return VLM_ERR_OUT_OF_MEMORY;
    e->u32 = value;
    return VLM_OK;
}

vlm_status gguf_writer_add_i64_array(gguf_writer *w, const char *key, const int64_t *values,
                                     size_t n) {
    kv_entry *e = add_kv(w, key, GGUF_TYPE_ARRAY);
    if (e == NULL || (e->i64 = malloc((n ? n : 1) * sizeof *values)) == NULL)
        return VLM_ERR_OUT_OF_MEMORY;
    memcpy(e->i64, values, n * sizeof *values);
    e->n_i64 = n;
    return VLM_OK;
}

vlm_status gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t ggml_type,
                                  uint32_t n_dims, const int64_t *shape, uint64_t n_bytes) {
    if (n_dims > VLM_MAX_DIMS) return VLM_ERR_UNSUPPORTED;
    if (!reserve((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof *w->tensors))
        return VLM_ERR_OUT_OF_MEMORY;
    tensor_entry *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    if ((t->name = strdup(name)) == NULL) return VLM_ERR_OUT_OF_MEMORY;
    t->ggml_type = ggml_type;
    t->n_dims = n_dims;
    memcpy(t->shape, shape, n_dims * sizeof *shape);
    t->offset = w->data_size;
    w->data_size += align_up(n_bytes);
    w->n_tensors++;
    return VLM_OK;
}

// ---- serialisation ----

static bool put(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n; }

static bool put_le(FILE *f, uint64_t v, unsigned n) {
    uint8_t b[8];
    for (unsigned i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
    return put(f, b, n);
}

static bool put_string(FILE *f, const char *s, size_t len) {
    return put_le(f, len, 8) && put(f, s, len);
}

vlm_status gguf_writer_write_header(gguf_writer *w, FILE *f) {
    bool ok = put(f, "GGUF", 4) && put_le(f, 3, 4) && put_le(f, w->n_tensors, 8) &&
              put_le(f, w->n_kv, 8);
    uint64_t written = 24;
    for (size_t i = 0; ok && i < w->n_kv; i++) {
        const kv_entry *e = &w->kv[i];
        ok = put_string(f, e->key, strlen(e->key)) && put_le(f, e->type, 4);
        written += 8 + strlen(e->key) + 4;
        if (ok && e->type == GGUF_TYPE_STRING) {
            ok = put_string(f, e->str, e->str_len);
            written += 8 + e->str_len;
        } else if (ok && e->type == GGUF_TYPE_ARRAY) {
            ok = put_le(f, GGUF_TYPE_INT64, 4) && put_le(f, e->n_i64, 8);
            for (size_t j = 0; ok && j < e->n_i64; j++) ok = put_le(f, (uint64_t)e->i64[j], 8);
            written += 4 + 8 + 8 * (uint64_t)e->n_i64;
        } else if (ok) {
            ok = put_le(f, e->u32, 4);
            written += 4;
        }
    }
    for (size_t i = 0; ok && i < w->n_tensors; i++) {
        const tensor_entry *t = &w->tensors[i];
        ok = put_string(f, t->name, strlen(t->name)) && put_le(f, t->n_dims, 4);
        /* ne[] innermost first: safetensors' shape reversed */
        for (uint32_t d = 0; ok && d < t->n_dims; d++)
            ok = put_le(f, (uint64_t)t->shape[t->n_dims - 1 - d], 8);
        ok = ok && put_le(f, t->ggml_type, 4) && put_le(f, t->offset, 8);
        written += 8 + strlen(t->name) + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
    }
    return ok ? gguf_writer_pad(f, written) : VLM_ERR_IO;
}

vlm_status gguf_writer_pad(FILE *f, uint64_t n_bytes) {
    static const uint8_t zeros[GGUF_WRITER_ALIGNMENT];
    size_t pad = (size_t)(align_up(n_bytes) - n_bytes);
    return put(f, zeros, pad) ? VLM_OK : VLM_ERR_IO;
}
