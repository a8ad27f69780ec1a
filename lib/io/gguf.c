/* GGUF reader. Parsing walks the file once with a bounds-checked cursor;
 * every count is bounded by the bytes left before anything is allocated, and
 * every tensor's byte range is checked against the file, so later readers of
 * a vlmi_gguf never need to check again. */
#include "io/gguf.h"

#include "io/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vlmi_gguf {
    char *path;                      /* as opened, for messages */
    vlmi_mapped_file file;           /* empty when opened from memory */
    const uint8_t *bytes;            /* (size) the whole file */
    size_t size;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;            /* start of the data section */
    vlmi_gguf_kv *kvs;               /* (n_kv) in file order */
    const vlmi_gguf_kv **kv_by_key;  /* (n_kv) sorted by key */
    size_t n_kv;
    vlmi_tensor_info *tensors;       /* (n_tensors) in tensor-info order */
    size_t n_tensors;
    const vlmi_tensor_info **by_name; /* (n_tensors) sorted by name */
};

static const char GGUF_MAGIC[4] = {'G', 'G', 'U', 'F'};

/* Smallest encodings, used to bound counts by the bytes left: a key/value is
 * at least a length, a type and a 1-byte value; a tensor info at least a
 * length, n_dims (0), a type and an offset. */
#define MIN_KV_BYTES (8 + 4 + 1)
#define MIN_TENSOR_INFO_BYTES (8 + 4 + 4 + 8)

/* ---- value types ---- */

/* Bytes of a fixed-size value type; 0 for STRING, ARRAY and invalid types. */
static uint64_t fixed_size_of(uint32_t type) {
    switch (type) {
    case VLMI_GGUF_UINT8: case VLMI_GGUF_INT8: case VLMI_GGUF_BOOL: return 1;
    case VLMI_GGUF_UINT16: case VLMI_GGUF_INT16: return 2;
    case VLMI_GGUF_UINT32: case VLMI_GGUF_INT32: case VLMI_GGUF_FLOAT32: return 4;
    case VLMI_GGUF_UINT64: case VLMI_GGUF_INT64: case VLMI_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static bool is_valid_type(uint32_t type) { return type <= VLMI_GGUF_FLOAT64; }

const char *vlmi_gguf_type_name(vlmi_gguf_type type) {
    static const char *const names[] = {
        "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
        "bool", "string", "array", "uint64", "int64", "float64",
    };
    return (unsigned)type < sizeof names / sizeof names[0] ? names[type] : "?";
}

/* Little-endian loads from possibly unaligned bytes. */
static uint64_t load_le(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;) v = v << 8 | p[i];
    return v;
}

/* ---- the cursor ---- */

typedef struct reader {
    const uint8_t *bytes;  /* (size) */
    size_t size;
    size_t pos;
    const char *path;
} reader;

static bool take(reader *r, size_t n, const uint8_t **out) {
    if (n > r->size - r->pos) return false;
    *out = r->bytes + r->pos;
    r->pos += n;
    return true;
}

static bool read_u32(reader *r, uint32_t *out) {
    const uint8_t *p;
    if (!take(r, 4, &p)) return false;
    *out = (uint32_t)load_le(p, 4);
    return true;
}

static bool read_u64(reader *r, uint64_t *out) {
    const uint8_t *p;
    if (!take(r, 8, &p)) return false;
    *out = load_le(p, 8);
    return true;
}

static size_t remaining(const reader *r) { return r->size - r->pos; }

/* A length-prefixed string; its length is bounded by the bytes left. */
static bool read_string(reader *r, const char **data, uint64_t *len) {
    const uint8_t *p;
    if (!read_u64(r, len) || *len > remaining(r) || !take(r, (size_t)*len, &p)) return false;
    *data = (const char *)p;
    return true;
}

/* ---- metadata ---- */

/* Parses one value of type at the cursor into *value. `what` names the
 * key/value pair for messages. */
static vlm_status read_value(reader *r, uint32_t type, int depth, const char *what,
                             vlmi_gguf_value *value) {
    if (!is_valid_type(type))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: unknown value type %u", r->path, what, type);
    memset(value, 0, sizeof *value);
    value->type = (vlmi_gguf_type)type;
    uint64_t fixed = fixed_size_of(type);
    if (fixed != 0) {
        if (!take(r, (size_t)fixed, &value->data)) goto truncated;
        value->size = fixed;
        return VLM_OK;
    }
    if (type == VLMI_GGUF_STRING) {
        const char *chars;
        if (!read_string(r, &chars, &value->size)) goto truncated;
        value->data = (const uint8_t *)chars;
        return VLM_OK;
    }

    /* ARRAY: element type, count, elements. */
    uint32_t elem_type;
    if (!read_u32(r, &elem_type) || !read_u64(r, &value->n_elems)) goto truncated;
    if (!is_valid_type(elem_type))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: array of unknown value type %u", r->path, what,
                         elem_type);
    value->elem_type = (vlmi_gguf_type)elem_type;
    if (elem_type == VLMI_GGUF_ARRAY && depth >= VLMI_GGUF_MAX_ARRAY_DEPTH)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: arrays nested more than %d deep", r->path, what,
                         VLMI_GGUF_MAX_ARRAY_DEPTH);
    value->data = r->bytes + r->pos;
    uint64_t elem_fixed = fixed_size_of(elem_type);
    if (elem_fixed != 0) {
        uint64_t n_bytes;
        const uint8_t *unused;
        if (__builtin_mul_overflow(value->n_elems, elem_fixed, &n_bytes) ||
            n_bytes > remaining(r) || !take(r, (size_t)n_bytes, &unused))
            return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: array of %llu %s runs past the end of the file",
                             r->path, what, (unsigned long long)value->n_elems,
                             vlmi_gguf_type_name((vlmi_gguf_type)elem_type));
    } else {
        /* Strings take at least 8 bytes, arrays 12: refuse impossible counts
         * up front so a lying count costs nothing. */
        uint64_t min_elem = elem_type == VLMI_GGUF_STRING ? 8 : 12;
        if (value->n_elems > remaining(r) / min_elem)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: array of %llu %s runs past the end of the file",
                             r->path, what, (unsigned long long)value->n_elems,
                             vlmi_gguf_type_name((vlmi_gguf_type)elem_type));
        for (uint64_t i = 0; i < value->n_elems; i++) {
            vlmi_gguf_value elem;
            vlm_status status = read_value(r, elem_type, depth + 1, what, &elem);
            if (status != VLM_OK) return status;
        }
    }
    value->size = r->pos - (size_t)(value->data - r->bytes);
    return VLM_OK;

truncated:
    return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: %s value runs past the end of the file", r->path,
                     what, vlmi_gguf_type_name((vlmi_gguf_type)type));
}

/* A NUL-terminated copy of a GGUF string; refuses embedded NULs, which would
 * make the copy a different name. */
static vlm_status copy_name(reader *r, const char *chars, uint64_t len, const char *what,
                            uint64_t index, char **out) {
    *out = NULL;
    if (memchr(chars, '\0', (size_t)len) != NULL)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s %llu: name contains a NUL byte", r->path, what,
                         (unsigned long long)index);
    *out = vlmi_strndup(chars, (size_t)len);
    return *out != NULL ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
}

static vlm_status read_kvs(vlmi_gguf *g, reader *r, uint64_t n_kv) {
    for (uint64_t i = 0; i < n_kv; i++) {
        const char *chars;
        uint64_t len;
        uint32_t type;
        if (!read_string(r, &chars, &len))
            return vlmi_fail(VLM_ERR_FORMAT, "%s: key %llu of %llu runs past the end of the file",
                             g->path, (unsigned long long)i, (unsigned long long)n_kv);
        vlmi_gguf_kv *kv = &g->kvs[g->n_kv];
        char *key;
        vlm_status status = copy_name(r, chars, len, "key", i, &key);
        if (status != VLM_OK) return status;
        kv->key = key;
        g->n_kv++;
        char what[300];
        snprintf(what, sizeof what, "metadata '%.256s'", key);
        if (!read_u32(r, &type))
            return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: type runs past the end of the file", g->path,
                             what);
        status = read_value(r, type, 0, what, &kv->value);
        if (status != VLM_OK) return status;
    }
    return VLM_OK;
}

static int compare_kv_keys(const void *a, const void *b) {
    const vlmi_gguf_kv *const *x = a, *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

/* Sorts the keys for lookup; a sort rather than pairwise comparison, so
 * millions of tiny entries cannot make the check quadratic. */
static vlm_status index_kvs(vlmi_gguf *g) {
    g->kv_by_key = vlmi_calloc(g->n_kv, sizeof *g->kv_by_key);
    if (g->kv_by_key == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < g->n_kv; i++) g->kv_by_key[i] = &g->kvs[i];
    qsort(g->kv_by_key, g->n_kv, sizeof *g->kv_by_key, compare_kv_keys);
    for (size_t i = 1; i < g->n_kv; i++)
        if (strcmp(g->kv_by_key[i - 1]->key, g->kv_by_key[i]->key) == 0)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: metadata '%s' appears twice", g->path,
                             g->kv_by_key[i]->key);
    return VLM_OK;
}

/* ---- tensor infos ---- */

static vlm_status read_tensor_info(vlmi_gguf *g, reader *r, uint64_t index,
                                   uint64_t *offset) {
    vlmi_tensor_info *t = &g->tensors[index];
    const char *chars;
    uint64_t len;
    if (!read_string(r, &chars, &len))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor info %llu runs past the end of the file",
                         g->path, (unsigned long long)index);
    char *name;
    vlm_status status = copy_name(r, chars, len, "tensor", index, &name);
    if (status != VLM_OK) return status;
    t->name = name;
    g->n_tensors++;

    uint32_t n_dims, ggml_type;
    if (!read_u32(r, &n_dims))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': n_dims runs past the end of the file",
                         g->path, name);
    /* ggml accepts n_dims 0 (a scalar), and so do we. */
    if (n_dims > VLMI_GGUF_MAX_DIMS)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': n_dims %u, at most %d", g->path,
                         name, n_dims, VLMI_GGUF_MAX_DIMS);
    uint64_t ne[VLMI_GGUF_MAX_DIMS] = {1, 1, 1, 1};  /* innermost first */
    for (uint32_t d = 0; d < n_dims; d++) {
        if (!read_u64(r, &ne[d]))
            return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': ne[%u] runs past the end of the file",
                             g->path, name, d);
        if (ne[d] > INT64_MAX)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': ne[%u] = %llu is negative as int64",
                             g->path, name, d, (unsigned long long)ne[d]);
    }
    if (!read_u32(r, &ggml_type) || !read_u64(r, offset))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': type or offset runs past the end of the file",
                         g->path, name);
    if (!vlmi_dtype_from_ggml(ggml_type, &t->dtype))
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: tensor '%s': ggml type %u (%s) is not supported",
                         g->path, name, ggml_type, vlmi_ggml_type_name(ggml_type));

    /* GGUF lists ne innermost first; we describe shapes outermost first. */
    t->n_dims = n_dims;
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        t->shape[n_dims - 1 - d] = (int64_t)ne[d];
        if (__builtin_mul_overflow(n_elements, ne[d], &n_elements) || n_elements > INT64_MAX)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': element count overflows", g->path,
                             name);
    }
    t->n_elements = n_elements;

    /* Blocks run along rows (ne[0]); a tensor is n_elements / ne[0] rows. */
    const vlmi_dtype_layout *layout = vlmi_dtype_layout_of(t->dtype);
    uint64_t row_length = ne[0], row_bytes;
    if (row_length % layout->block_size != 0)
        return vlmi_fail(VLM_ERR_FORMAT,
                         "%s: tensor '%s': rows of %llu elements are not a multiple of the %s block size %u",
                         g->path, name, (unsigned long long)row_length, layout->name, layout->block_size);
    uint64_t n_rows = row_length != 0 ? n_elements / row_length : 0;
    if (!vlmi_dtype_row_bytes(t->dtype, row_length, &row_bytes) ||
        __builtin_mul_overflow(row_bytes, n_rows, &t->n_bytes))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': byte size overflows", g->path, name);
    return VLM_OK;
}

static int compare_by_offset(const void *a, const void *b) {
    const vlmi_tensor_info *const *x = a, *const *y = b;
    if ((*x)->file_offset != (*y)->file_offset) return (*x)->file_offset < (*y)->file_offset ? -1 : 1;
    if ((*x)->n_bytes != (*y)->n_bytes) return (*x)->n_bytes < (*y)->n_bytes ? -1 : 1;
    return strcmp((*x)->name, (*y)->name);
}

static int compare_by_name(const void *a, const void *b) {
    const vlmi_tensor_info *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Places every tensor in the data section and refuses misaligned, outside or
 * overlapping ones, and duplicate names. offsets are the raw tensor-info
 * offsets, relative to the data section. */
static vlm_status place_tensors(vlmi_gguf *g, const uint64_t *offsets) {
    for (size_t i = 0; i < g->n_tensors; i++) {
        vlmi_tensor_info *t = &g->tensors[i];
        if (offsets[i] % g->alignment != 0)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': offset %llu is not a multiple of the alignment %u",
                             g->path, t->name, (unsigned long long)offsets[i], g->alignment);
        uint64_t begin, end;
        if (__builtin_add_overflow(g->data_offset, offsets[i], &begin) ||
            __builtin_add_overflow(begin, t->n_bytes, &end) || end > g->size)
            return vlmi_fail(VLM_ERR_FORMAT,
                             "%s: tensor '%s': %llu bytes at offset %llu run past the end of the %zu-byte file",
                             g->path, t->name, (unsigned long long)t->n_bytes,
                             (unsigned long long)offsets[i], g->size);
        t->file_offset = begin;
        t->data = g->bytes + begin;
    }

    g->by_name = vlmi_calloc(g->n_tensors, sizeof *g->by_name);
    if (g->by_name == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < g->n_tensors; i++) g->by_name[i] = &g->tensors[i];
    qsort(g->by_name, g->n_tensors, sizeof *g->by_name, compare_by_offset);
    const vlmi_tensor_info *previous = NULL;  /* last non-empty tensor */
    for (size_t i = 0; i < g->n_tensors; i++) {
        const vlmi_tensor_info *t = g->by_name[i];
        if (t->n_bytes == 0) continue;
        if (previous != NULL && t->file_offset < previous->file_offset + previous->n_bytes)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap in the data section",
                             g->path, previous->name, t->name);
        previous = t;
    }
    qsort(g->by_name, g->n_tensors, sizeof *g->by_name, compare_by_name);
    for (size_t i = 1; i < g->n_tensors; i++)
        if (strcmp(g->by_name[i - 1]->name, g->by_name[i]->name) == 0)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s' appears twice", g->path,
                             g->by_name[i]->name);
    return VLM_OK;
}

/* ---- the whole file ---- */

static vlm_status read_alignment(vlmi_gguf *g) {
    g->alignment = VLMI_GGUF_DEFAULT_ALIGNMENT;
    const vlmi_gguf_kv *kv = vlmi_gguf_find_kv(g, "general.alignment");
    if (kv == NULL) return VLM_OK;
    if (kv->value.type != VLMI_GGUF_UINT32)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: general.alignment is %s, expected uint32", g->path,
                         vlmi_gguf_type_name(kv->value.type));
    uint32_t alignment = (uint32_t)load_le(kv->value.data, 4);
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: general.alignment %u is not a power of two", g->path,
                         alignment);
    g->alignment = alignment;
    return VLM_OK;
}

static vlm_status parse_file(vlmi_gguf *g) {
    reader r = {g->bytes, g->size, 0, g->path};
    const uint8_t *magic;
    if (!take(&r, 4, &magic) || memcmp(magic, GGUF_MAGIC, 4) != 0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: not a GGUF file (no \"GGUF\" magic)", g->path);
    if (!read_u32(&r, &g->version))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: version runs past the end of the file", g->path);
    if (g->version != 0 && (g->version & 0xffff) == 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: big-endian GGUF files are not supported", g->path);
    if (g->version != 2 && g->version != 3)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (2 and 3 are)",
                         g->path, g->version);
    uint64_t n_tensors, n_kv;
    if (!read_u64(&r, &n_tensors) || !read_u64(&r, &n_kv))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: header runs past the end of the file", g->path);
    if (n_kv > remaining(&r) / MIN_KV_BYTES)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %llu metadata entries cannot fit in the file", g->path,
                         (unsigned long long)n_kv);
    if (n_tensors > remaining(&r) / MIN_TENSOR_INFO_BYTES)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %llu tensor infos cannot fit in the file", g->path,
                         (unsigned long long)n_tensors);

    g->kvs = vlmi_calloc((size_t)n_kv, sizeof *g->kvs);
    g->tensors = vlmi_calloc((size_t)n_tensors, sizeof *g->tensors);
    uint64_t *offsets = vlmi_calloc((size_t)n_tensors, sizeof *offsets);
    if (g->kvs == NULL || g->tensors == NULL || offsets == NULL) {
        free(offsets);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    vlm_status status = read_kvs(g, &r, n_kv);
    if (status == VLM_OK) status = index_kvs(g);
    if (status == VLM_OK) status = read_alignment(g);
    for (uint64_t i = 0; i < n_tensors && status == VLM_OK; i++)
        status = read_tensor_info(g, &r, i, &offsets[i]);
    if (status == VLM_OK) {
        /* The data section starts at the next multiple of the alignment;
         * a file without tensors may end before it. */
        uint64_t padded = ((uint64_t)r.pos + g->alignment - 1) / g->alignment * g->alignment;
        if (padded > g->size && n_tensors > 0)
            status = vlmi_fail(VLM_ERR_FORMAT, "%s: data section at %llu starts past the end of the %zu-byte file",
                               g->path, (unsigned long long)padded, g->size);
        g->data_offset = padded;
    }
    if (status == VLM_OK) status = place_tensors(g, offsets);
    free(offsets);
    return status;
}

/* ---- opening and closing ---- */

static vlm_status open_bytes(vlmi_gguf *g, vlmi_gguf **out) {
    vlm_status status = parse_file(g);
    if (status != VLM_OK) {
        vlmi_gguf_close(g);
        return status;
    }
    *out = g;
    return VLM_OK;
}

vlm_status vlmi_gguf_open_memory(const void *data, size_t size, const char *display_name,
                                 vlmi_gguf **out) {
    *out = NULL;
    vlmi_gguf *g = vlmi_calloc(1, sizeof *g);
    if (g == NULL) return VLM_ERR_OUT_OF_MEMORY;
    g->path = vlmi_strdup(display_name);
    if (g->path == NULL) { free(g); return VLM_ERR_OUT_OF_MEMORY; }
    g->bytes = data;
    g->size = size;
    return open_bytes(g, out);
}

vlm_status vlmi_gguf_open(const char *path, vlmi_gguf **out) {
    *out = NULL;
    vlmi_gguf *g = vlmi_calloc(1, sizeof *g);
    if (g == NULL) return VLM_ERR_OUT_OF_MEMORY;
    g->path = vlmi_strdup(path);
    if (g->path == NULL) { free(g); return VLM_ERR_OUT_OF_MEMORY; }
    vlm_status status = vlmi_file_map(path, &g->file);
    if (status != VLM_OK) {
        vlmi_gguf_close(g);
        return status;
    }
    g->bytes = g->file.data;
    g->size = g->file.size;
    return open_bytes(g, out);
}

void vlmi_gguf_close(vlmi_gguf *g) {
    if (g == NULL) return;
    for (size_t i = 0; i < g->n_kv; i++) free((char *)g->kvs[i].key);
    for (size_t i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    free(g->kvs);
    free(g->kv_by_key);
    free(g->tensors);
    free(g->by_name);
    vlmi_file_unmap(&g->file);
    free(g->path);
    free(g);
}

/* ---- accessors ---- */

const char *vlmi_gguf_path(const vlmi_gguf *g) { return g->path; }
uint32_t vlmi_gguf_version(const vlmi_gguf *g) { return g->version; }
uint32_t vlmi_gguf_alignment(const vlmi_gguf *g) { return g->alignment; }
uint64_t vlmi_gguf_data_offset(const vlmi_gguf *g) { return g->data_offset; }

size_t vlmi_gguf_n_kv(const vlmi_gguf *g) { return g->n_kv; }

const vlmi_gguf_kv *vlmi_gguf_kv_at(const vlmi_gguf *g, size_t index) {
    return index < g->n_kv ? &g->kvs[index] : NULL;
}

const vlmi_gguf_kv *vlmi_gguf_find_kv(const vlmi_gguf *g, const char *key) {
    size_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->kv_by_key[mid]->key, key);
        if (c == 0) return g->kv_by_key[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

size_t vlmi_gguf_n_tensors(const vlmi_gguf *g) { return g->n_tensors; }

const vlmi_tensor_info *vlmi_gguf_tensor(const vlmi_gguf *g, size_t index) {
    return index < g->n_tensors ? &g->tensors[index] : NULL;
}

const vlmi_tensor_info *vlmi_gguf_find_tensor(const vlmi_gguf *g, const char *name) {
    size_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->by_name[mid]->name, name);
        if (c == 0) return g->by_name[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

/* ---- values ---- */

bool vlmi_gguf_value_int(const vlmi_gguf_value *v, int64_t *out) {
    switch (v->type) {
    case VLMI_GGUF_UINT8: case VLMI_GGUF_UINT16: case VLMI_GGUF_UINT32:
        *out = (int64_t)load_le(v->data, (unsigned)v->size);
        return true;
    case VLMI_GGUF_UINT64: {
        uint64_t u = load_le(v->data, 8);
        if (u > INT64_MAX) return false;
        *out = (int64_t)u;
        return true;
    }
    case VLMI_GGUF_INT8: *out = (int8_t)load_le(v->data, 1); return true;
    case VLMI_GGUF_INT16: *out = (int16_t)load_le(v->data, 2); return true;
    case VLMI_GGUF_INT32: *out = (int32_t)load_le(v->data, 4); return true;
    case VLMI_GGUF_INT64: *out = (int64_t)load_le(v->data, 8); return true;
    default: return false;
    }
}

bool vlmi_gguf_value_uint(const vlmi_gguf_value *v, uint64_t *out) {
    if (v->type == VLMI_GGUF_UINT64) {
        *out = load_le(v->data, 8);
        return true;
    }
    int64_t i;
    if (!vlmi_gguf_value_int(v, &i) || i < 0) return false;
    *out = (uint64_t)i;
    return true;
}

bool vlmi_gguf_value_float(const vlmi_gguf_value *v, double *out) {
    if (v->type == VLMI_GGUF_FLOAT32) {
        uint32_t bits = (uint32_t)load_le(v->data, 4);
        float f;
        memcpy(&f, &bits, 4);
        *out = f;
        return true;
    }
    if (v->type == VLMI_GGUF_FLOAT64) {
        uint64_t bits = load_le(v->data, 8);
        memcpy(out, &bits, 8);
        return true;
    }
    int64_t i;
    uint64_t u;
    if (vlmi_gguf_value_int(v, &i)) { *out = (double)i; return true; }
    if (vlmi_gguf_value_uint(v, &u)) { *out = (double)u; return true; }
    return false;
}

bool vlmi_gguf_value_bool(const vlmi_gguf_value *v, bool *out) {
    if (v->type != VLMI_GGUF_BOOL) return false;
    *out = v->data[0] != 0;
    return true;
}

bool vlmi_gguf_value_string(const vlmi_gguf_value *v, const char **data, size_t *len) {
    if (v->type != VLMI_GGUF_STRING) return false;
    *data = (const char *)v->data;
    *len = (size_t)v->size;
    return true;
}

/* Decodes the element at array->data + offset, which the open-time
 * validation walked already; the checks here only guard against misuse. */
static bool decode_elem(const vlmi_gguf_value *array, uint64_t offset, vlmi_gguf_value *elem) {
    reader r = {array->data, (size_t)array->size, (size_t)offset, ""};
    if (offset > array->size) return false;
    memset(elem, 0, sizeof *elem);
    elem->type = array->elem_type;
    uint64_t fixed = fixed_size_of(array->elem_type);
    if (fixed != 0) {
        elem->size = fixed;
        return take(&r, (size_t)fixed, &elem->data);
    }
    if (array->elem_type == VLMI_GGUF_STRING) {
        const char *chars;
        if (!read_string(&r, &chars, &elem->size)) return false;
        elem->data = (const uint8_t *)chars;
        return true;
    }
    /* A nested array: skip its elements to learn its size. */
    uint32_t elem_type;
    if (!read_u32(&r, &elem_type) || !read_u64(&r, &elem->n_elems) || !is_valid_type(elem_type))
        return false;
    elem->elem_type = (vlmi_gguf_type)elem_type;
    elem->data = r.bytes + r.pos;
    elem->size = r.size - r.pos;  /* provisional bound while walking */
    vlmi_gguf_cursor cursor = {0, 0};
    vlmi_gguf_value inner;
    while (vlmi_gguf_array_next(elem, &cursor, &inner)) {}
    if (cursor.index != elem->n_elems) return false;
    elem->size = cursor.offset;
    return true;
}

/* Bytes an element decoded by decode_elem occupies in its array. */
static uint64_t encoded_size(const vlmi_gguf_value *elem) {
    if (elem->type == VLMI_GGUF_STRING) return 8 + elem->size;
    if (elem->type == VLMI_GGUF_ARRAY) return 12 + elem->size;
    return elem->size;
}

bool vlmi_gguf_array_next(const vlmi_gguf_value *array, vlmi_gguf_cursor *cursor,
                          vlmi_gguf_value *elem) {
    if (array->type != VLMI_GGUF_ARRAY || cursor->index >= array->n_elems) return false;
    if (!decode_elem(array, cursor->offset, elem)) return false;
    cursor->offset += encoded_size(elem);
    cursor->index++;
    return true;
}

bool vlmi_gguf_array_get(const vlmi_gguf_value *array, uint64_t index, vlmi_gguf_value *elem) {
    if (array->type != VLMI_GGUF_ARRAY || index >= array->n_elems) return false;
    uint64_t fixed = fixed_size_of(array->elem_type);
    if (fixed != 0) return decode_elem(array, index * fixed, elem);
    vlmi_gguf_cursor cursor = {0, 0};
    while (vlmi_gguf_array_next(array, &cursor, elem))
        if (cursor.index == index + 1) return true;
    return false;
}

/* ---- typed lookups ---- */

static vlm_status find_typed(const vlmi_gguf *g, const char *key, const vlmi_gguf_kv **out) {
    *out = vlmi_gguf_find_kv(g, key);
    if (*out == NULL) return vlmi_fail(VLM_ERR_FORMAT, "%s: metadata '%s' missing", g->path, key);
    return VLM_OK;
}

static vlm_status wrong_type(const vlmi_gguf *g, const vlmi_gguf_kv *kv, const char *expected) {
    return vlmi_fail(VLM_ERR_FORMAT, "%s: metadata '%s' is %s, expected %s", g->path, kv->key,
                     vlmi_gguf_type_name(kv->value.type), expected);
}

vlm_status vlmi_gguf_get_int(const vlmi_gguf *g, const char *key, int64_t *out) {
    const vlmi_gguf_kv *kv;
    vlm_status status = find_typed(g, key, &kv);
    if (status != VLM_OK) return status;
    return vlmi_gguf_value_int(&kv->value, out) ? VLM_OK : wrong_type(g, kv, "an int64-range integer");
}

vlm_status vlmi_gguf_get_uint(const vlmi_gguf *g, const char *key, uint64_t *out) {
    const vlmi_gguf_kv *kv;
    vlm_status status = find_typed(g, key, &kv);
    if (status != VLM_OK) return status;
    return vlmi_gguf_value_uint(&kv->value, out) ? VLM_OK : wrong_type(g, kv, "a non-negative integer");
}

vlm_status vlmi_gguf_get_float(const vlmi_gguf *g, const char *key, double *out) {
    const vlmi_gguf_kv *kv;
    vlm_status status = find_typed(g, key, &kv);
    if (status != VLM_OK) return status;
    return vlmi_gguf_value_float(&kv->value, out) ? VLM_OK : wrong_type(g, kv, "a number");
}

vlm_status vlmi_gguf_get_bool(const vlmi_gguf *g, const char *key, bool *out) {
    const vlmi_gguf_kv *kv;
    vlm_status status = find_typed(g, key, &kv);
    if (status != VLM_OK) return status;
    return vlmi_gguf_value_bool(&kv->value, out) ? VLM_OK : wrong_type(g, kv, "bool");
}

vlm_status vlmi_gguf_get_string(const vlmi_gguf *g, const char *key, const char **data,
                                size_t *len) {
    const vlmi_gguf_kv *kv;
    vlm_status status = find_typed(g, key, &kv);
    if (status != VLM_OK) return status;
    return vlmi_gguf_value_string(&kv->value, data, len) ? VLM_OK : wrong_type(g, kv, "string");
}

vlm_status vlmi_gguf_get_array(const vlmi_gguf *g, const char *key, vlmi_gguf_type elem_type,
                               const vlmi_gguf_value **out) {
    const vlmi_gguf_kv *kv;
    vlm_status status = find_typed(g, key, &kv);
    if (status != VLM_OK) return status;
    if (kv->value.type != VLMI_GGUF_ARRAY || kv->value.elem_type != elem_type)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: metadata '%s' is %s%s%s, expected array of %s",
                         g->path, key, vlmi_gguf_type_name(kv->value.type),
                         kv->value.type == VLMI_GGUF_ARRAY ? " of " : "",
                         kv->value.type == VLMI_GGUF_ARRAY ? vlmi_gguf_type_name(kv->value.elem_type) : "",
                         vlmi_gguf_type_name(elem_type));
    *out = &kv->value;
    return VLM_OK;
}
