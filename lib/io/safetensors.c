/* safetensors reader. Every number in the header is checked against the file
 * before anything points into the data section: a tensor's bytes must lie
 * inside the data section, match dtype x shape exactly, and overlap no other
 * tensor. */
#include "io/safetensors.h"

#include "io/file.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vlmi_safetensors {
    char *path;                  /* as opened, for messages */
    vlmi_mapped_file file;       /* empty when opened from memory */
    const uint8_t *bytes;        /* (size) the whole file */
    size_t size;
    vlmi_tensor_info *tensors;   /* (n_tensors) in data-section order */
    size_t n_tensors;
    const vlmi_tensor_info **by_name; /* (n_tensors) sorted by name */
    char **meta_keys;            /* (n_meta) "__metadata__" keys */
    char **meta_values;          /* (n_meta) and their values */
    size_t n_meta;
};

/* ---- header parsing ---- */

/* JSON numbers are doubles; offsets and dims must be exact non-negative
 * integers, so refuse anything beyond 2^53 where doubles skip integers. */
static bool json_to_u64(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return false;
    double d = item->valuedouble;
    if (!(d >= 0.0 && d <= 9007199254740992.0) || floor(d) != d) return false;
    *out = (uint64_t)d;
    return true;
}

static vlm_status parse_metadata(vlmi_safetensors *st, const cJSON *meta) {
    if (!cJSON_IsObject(meta))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: __metadata__ is not an object", st->path);
    size_t n = (size_t)cJSON_GetArraySize(meta);
    st->meta_keys = vlmi_calloc(n, sizeof *st->meta_keys);
    st->meta_values = vlmi_calloc(n, sizeof *st->meta_values);
    if (st->meta_keys == NULL || st->meta_values == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (const cJSON *item = meta->child; item != NULL; item = item->next) {
        if (!cJSON_IsString(item))
            return vlmi_fail(VLM_ERR_FORMAT, "%s: __metadata__ '%s' is not a string",
                             st->path, item->string);
        st->meta_keys[st->n_meta] = vlmi_strdup(item->string);
        st->meta_values[st->n_meta] = vlmi_strdup(item->valuestring);
        if (st->meta_keys[st->n_meta] == NULL || st->meta_values[st->n_meta] == NULL) {
            st->n_meta++;  /* so close frees whichever succeeded */
            return VLM_ERR_OUT_OF_MEMORY;
        }
        st->n_meta++;
    }
    return VLM_OK;
}

/* Fills t from one header entry; data_size is the data section's length. */
static vlm_status parse_tensor(vlmi_safetensors *st, const cJSON *entry,
                               const uint8_t *data_section, uint64_t data_size,
                               vlmi_tensor_info *t) {
    const char *path = st->path, *name = entry->string;
    if (!cJSON_IsObject(entry))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': entry is not an object", path, name);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(dtype))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': dtype missing or not a string",
                         path, name);
    if (!vlmi_dtype_from_safetensors(dtype->valuestring, &t->dtype))
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: tensor '%s': dtype '%s' is not supported",
                         path, name, dtype->valuestring);

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (!cJSON_IsArray(shape))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': shape missing or not an array",
                         path, name);
    int rank = cJSON_GetArraySize(shape);
    if (rank > VLM_MAX_DIMS)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: tensor '%s': %d dimensions, at most %d supported",
                         path, name, rank, VLM_MAX_DIMS);
    t->n_dims = (uint32_t)rank;
    uint64_t n_elements = 1;
    int dim = 0;
    for (const cJSON *item = shape->child; item != NULL; item = item->next, dim++) {
        uint64_t extent;
        if (!json_to_u64(item, &extent) || extent > INT64_MAX)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer",
                             path, name, dim);
        t->shape[dim] = (int64_t)extent;
        if (__builtin_mul_overflow(n_elements, extent, &n_elements))
            return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': element count overflows", path, name);
    }
    t->n_elements = n_elements;
    uint64_t n_bytes;
    if (!vlmi_dtype_row_bytes(t->dtype, n_elements, &n_bytes))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': byte size overflows", path, name);

    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    uint64_t begin, end;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !json_to_u64(offsets->child, &begin) || !json_to_u64(offsets->child->next, &end))
        return vlmi_fail(VLM_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets is not an array of two non-negative integers",
                         path, name);
    if (begin > end)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin",
                         path, name, (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return vlmi_fail(VLM_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] run past the %llu-byte data section",
                         path, name, (unsigned long long)begin, (unsigned long long)end,
                         (unsigned long long)data_size);
    if (end - begin != n_bytes)
        return vlmi_fail(VLM_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, but %s x %llu elements take %llu",
                         path, name, (unsigned long long)begin, (unsigned long long)end,
                         (unsigned long long)(end - begin), vlmi_dtype_name(t->dtype),
                         (unsigned long long)n_elements, (unsigned long long)n_bytes);
    t->data = data_section + begin;
    t->n_bytes = n_bytes;
    t->file_offset = (uint64_t)(data_section - st->bytes) + begin;
    t->name = vlmi_strdup(name);
    return t->name != NULL ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
}

static int compare_by_offset(const void *a, const void *b) {
    const vlmi_tensor_info *x = a, *y = b;
    if (x->file_offset != y->file_offset) return x->file_offset < y->file_offset ? -1 : 1;
    /* Empty tensors may share an offset; keep the order deterministic. */
    if (x->n_bytes != y->n_bytes) return x->n_bytes < y->n_bytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int compare_by_name(const void *a, const void *b) {
    const vlmi_tensor_info *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Sorts the tensors into file order and builds the name index, refusing
 * overlapping byte ranges and duplicate names. */
static vlm_status index_tensors(vlmi_safetensors *st) {
    qsort(st->tensors, st->n_tensors, sizeof *st->tensors, compare_by_offset);
    const vlmi_tensor_info *previous = NULL;  /* last non-empty tensor */
    for (size_t i = 0; i < st->n_tensors; i++) {
        const vlmi_tensor_info *t = &st->tensors[i];
        if (t->n_bytes == 0) continue;
        if (previous != NULL && t->file_offset < previous->file_offset + previous->n_bytes)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap in the data section",
                             st->path, previous->name, t->name);
        previous = t;
    }
    st->by_name = vlmi_calloc(st->n_tensors, sizeof *st->by_name);
    if (st->by_name == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < st->n_tensors; i++) st->by_name[i] = &st->tensors[i];
    qsort(st->by_name, st->n_tensors, sizeof *st->by_name, compare_by_name);
    for (size_t i = 1; i < st->n_tensors; i++) {
        if (strcmp(st->by_name[i - 1]->name, st->by_name[i]->name) == 0)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s' appears twice in the header",
                             st->path, st->by_name[i]->name);
    }
    return VLM_OK;
}

static bool is_json_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static vlm_status parse_file(vlmi_safetensors *st) {
    const char *path = st->path;
    if (st->size < 8)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %zu bytes, too short for the 8-byte header length",
                         path, st->size);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = header_len << 8 | st->bytes[i];
    if (header_len > VLMI_SAFETENSORS_MAX_HEADER)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: header length %llu exceeds the %u-byte limit",
                         path, (unsigned long long)header_len, VLMI_SAFETENSORS_MAX_HEADER);
    if (header_len > st->size - 8)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: header length %llu runs past the end of the %zu-byte file",
                         path, (unsigned long long)header_len, st->size);
    const char *header = (const char *)st->bytes + 8;
    if (header_len < 2 || header[0] != '{')
        return vlmi_fail(VLM_ERR_FORMAT, "%s: header is not a JSON object", path);

    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(header, (size_t)header_len, &parse_end, 0);
    if (root == NULL) {
        size_t at = parse_end != NULL ? (size_t)(parse_end - header) : 0;
        return vlmi_fail(VLM_ERR_FORMAT, "%s: header is not valid JSON (near byte %zu)", path,
                         at + 8);
    }
    /* The format allows the header to be padded with spaces, nothing else. */
    for (const char *p = parse_end; p < header + header_len; p++) {
        if (!is_json_space((uint8_t)*p)) {
            cJSON_Delete(root);
            return vlmi_fail(VLM_ERR_FORMAT, "%s: junk after the header's JSON object (byte %zu)",
                             path, (size_t)(p - header) + 8);
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return vlmi_fail(VLM_ERR_FORMAT, "%s: header is not a JSON object", path);
    }

    const uint8_t *data_section = st->bytes + 8 + header_len;
    uint64_t data_size = st->size - 8 - header_len;
    vlm_status status = VLM_OK;
    size_t n_entries = (size_t)cJSON_GetArraySize(root);
    st->tensors = vlmi_calloc(n_entries, sizeof *st->tensors);
    if (st->tensors == NULL) status = VLM_ERR_OUT_OF_MEMORY;
    bool seen_metadata = false;
    for (const cJSON *entry = root->child; entry != NULL && status == VLM_OK; entry = entry->next) {
        if (strcmp(entry->string, "__metadata__") == 0) {
            if (seen_metadata)
                status = vlmi_fail(VLM_ERR_FORMAT, "%s: __metadata__ appears twice", path);
            else
                status = parse_metadata(st, entry);
            seen_metadata = true;
            continue;
        }
        status = parse_tensor(st, entry, data_section, data_size, &st->tensors[st->n_tensors]);
        if (st->tensors[st->n_tensors].name != NULL) st->n_tensors++;
    }
    cJSON_Delete(root);
    if (status == VLM_OK) status = index_tensors(st);
    return status;
}

/* ---- opening and closing ---- */

static vlm_status open_bytes(vlmi_safetensors *st, vlmi_safetensors **out) {
    vlm_status status = parse_file(st);
    if (status != VLM_OK) {
        vlmi_safetensors_close(st);
        return status;
    }
    *out = st;
    return VLM_OK;
}

vlm_status vlmi_safetensors_open_memory(const void *data, size_t size,
                                        const char *display_name,
                                        vlmi_safetensors **out) {
    *out = NULL;
    vlmi_safetensors *st = vlmi_calloc(1, sizeof *st);
    if (st == NULL) return VLM_ERR_OUT_OF_MEMORY;
    st->path = vlmi_strdup(display_name);
    if (st->path == NULL) { free(st); return VLM_ERR_OUT_OF_MEMORY; }
    st->bytes = data;
    st->size = size;
    return open_bytes(st, out);
}

vlm_status vlmi_safetensors_open(const char *path, vlmi_safetensors **out) {
    *out = NULL;
    vlmi_safetensors *st = vlmi_calloc(1, sizeof *st);
    if (st == NULL) return VLM_ERR_OUT_OF_MEMORY;
    st->path = vlmi_strdup(path);
    if (st->path == NULL) { free(st); return VLM_ERR_OUT_OF_MEMORY; }
    vlm_status status = vlmi_file_map(path, &st->file);
    if (status != VLM_OK) {
        vlmi_safetensors_close(st);
        return status;
    }
    st->bytes = st->file.data;
    st->size = st->file.size;
    return open_bytes(st, out);
}

void vlmi_safetensors_close(vlmi_safetensors *st) {
    if (st == NULL) return;
    for (size_t i = 0; i < st->n_tensors; i++) free((char *)st->tensors[i].name);
    free(st->tensors);
    free(st->by_name);
    for (size_t i = 0; i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->meta_keys);
    free(st->meta_values);
    vlmi_file_unmap(&st->file);
    free(st->path);
    free(st);
}

/* ---- accessors ---- */

const char *vlmi_safetensors_path(const vlmi_safetensors *st) { return st->path; }

size_t vlmi_safetensors_n_tensors(const vlmi_safetensors *st) { return st->n_tensors; }

const vlmi_tensor_info *vlmi_safetensors_tensor(const vlmi_safetensors *st, size_t index) {
    return index < st->n_tensors ? &st->tensors[index] : NULL;
}

const vlmi_tensor_info *vlmi_safetensors_find(const vlmi_safetensors *st, const char *name) {
    size_t lo = 0, hi = st->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->by_name[mid]->name, name);
        if (c == 0) return st->by_name[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

size_t vlmi_safetensors_n_metadata(const vlmi_safetensors *st) { return st->n_meta; }

void vlmi_safetensors_metadata_at(const vlmi_safetensors *st, size_t index,
                                  const char **key, const char **value) {
    *key = index < st->n_meta ? st->meta_keys[index] : NULL;
    *value = index < st->n_meta ? st->meta_values[index] : NULL;
}

const char *vlmi_safetensors_metadata(const vlmi_safetensors *st, const char *key) {
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

/* ---- checkpoint sets: one file, or the shards of an index ---- */

#define INDEX_FILE_NAME "model.safetensors.index.json"
#define SINGLE_FILE_NAME "model.safetensors"
/* Index files list tensor names only; even huge checkpoints stay far below. */
#define INDEX_MAX_BYTES ((size_t)64 << 20)

struct vlmi_safetensors_set {
    vlmi_safetensors **files;          /* (n_files) shards, by file name */
    size_t n_files;
    const vlmi_tensor_info **tensors;  /* (n_tensors) shard by shard */
    const vlmi_tensor_info **by_name;  /* (n_tensors) sorted by name */
    size_t n_tensors;
    vlmi_tensor_info *view_infos;      /* (n_tensors) a view's copies; NULL otherwise */
};

void vlmi_safetensors_set_close(vlmi_safetensors_set *set) {
    if (set == NULL) return;
    for (size_t i = 0; i < set->n_files; i++) vlmi_safetensors_close(set->files[i]);
    free(set->files);
    free(set->tensors);
    free(set->by_name);
    free(set->view_infos);
    free(set);
}

/* Gathers every shard's tensors and refuses a name found in two shards. */
static vlm_status index_set(vlmi_safetensors_set *set) {
    size_t total = 0;
    for (size_t i = 0; i < set->n_files; i++) total += set->files[i]->n_tensors;
    set->tensors = vlmi_calloc(total, sizeof *set->tensors);
    set->by_name = vlmi_calloc(total, sizeof *set->by_name);
    if (set->tensors == NULL || set->by_name == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < set->n_files; i++)
        for (size_t j = 0; j < set->files[i]->n_tensors; j++)
            set->tensors[set->n_tensors++] = &set->files[i]->tensors[j];
    memcpy(set->by_name, set->tensors, total * sizeof *set->tensors);
    qsort(set->by_name, total, sizeof *set->by_name, compare_by_name);
    for (size_t i = 1; i < total; i++) {
        if (strcmp(set->by_name[i - 1]->name, set->by_name[i]->name) != 0) continue;
        const char *first = NULL, *second = NULL;
        for (size_t f = 0; f < set->n_files; f++) {
            if (vlmi_safetensors_find(set->files[f], set->by_name[i]->name) == NULL) continue;
            if (first == NULL) first = set->files[f]->path; else if (second == NULL) second = set->files[f]->path;
        }
        return vlmi_fail(VLM_ERR_FORMAT, "tensor '%s' is in both %s and %s",
                         set->by_name[i]->name, first, second);
    }
    return VLM_OK;
}

static vlm_status open_single(const char *file_path, vlmi_safetensors_set *set) {
    set->files = vlmi_calloc(1, sizeof *set->files);
    if (set->files == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status status = vlmi_safetensors_open(file_path, &set->files[0]);
    if (status != VLM_OK) return status;
    set->n_files = 1;
    return VLM_OK;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A shard must be a plain file name next to the index: no directories, so an
 * index cannot make us open files elsewhere. */
static bool is_plain_file_name(const char *name) {
    return name[0] != '\0' && strchr(name, '/') == NULL && strchr(name, '\\') == NULL &&
           strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* Opens each distinct shard of weight_map once, in file-name order. */
static vlm_status open_shards(const char *index_path, const char *dir, const cJSON *weight_map,
                              vlmi_safetensors_set *set) {
    size_t n_entries = (size_t)cJSON_GetArraySize(weight_map);
    const char **shard_names = vlmi_calloc(n_entries, sizeof *shard_names);
    if (shard_names == NULL) return VLM_ERR_OUT_OF_MEMORY;
    size_t n_names = 0;
    for (const cJSON *entry = weight_map->child; entry != NULL; entry = entry->next) {
        if (!cJSON_IsString(entry) || !is_plain_file_name(entry->valuestring)) {
            free(shard_names);
            return vlmi_fail(VLM_ERR_FORMAT,
                             "%s: weight_map: tensor '%s' does not name a shard file in the same directory",
                             index_path, entry->string);
        }
        shard_names[n_names++] = entry->valuestring;
    }
    qsort(shard_names, n_names, sizeof *shard_names, compare_strings);
    size_t n_unique = 0;
    for (size_t i = 0; i < n_names; i++)
        if (n_unique == 0 || strcmp(shard_names[n_unique - 1], shard_names[i]) != 0)
            shard_names[n_unique++] = shard_names[i];

    vlm_status status = VLM_OK;
    set->files = vlmi_calloc(n_unique, sizeof *set->files);
    if (set->files == NULL) status = VLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < n_unique && status == VLM_OK; i++) {
        char *shard_path = vlmi_path_join(dir, shard_names[i]);
        if (shard_path == NULL) { status = VLM_ERR_OUT_OF_MEMORY; break; }
        status = vlmi_safetensors_open(shard_path, &set->files[i]);
        free(shard_path);
        if (status == VLM_OK) {
            set->n_files++;
        } else {
            /* Name a tensor that wanted the shard, so the index entry is easy to find. */
            const char *wanted_by = "?";
            for (const cJSON *e = weight_map->child; e != NULL; e = e->next)
                if (strcmp(e->valuestring, shard_names[i]) == 0) { wanted_by = e->string; break; }
            char prefix[512];
            snprintf(prefix, sizeof prefix, "%s: weight_map: shard '%s' (of tensor '%s')",
                     index_path, shard_names[i], wanted_by);
            status = vlmi_fail_prefix(status, prefix);
        }
    }
    free(shard_names);
    return status;
}

static vlm_status open_index(const char *index_path, vlmi_safetensors_set *set) {
    char *text;
    size_t text_size;
    vlm_status status = vlmi_file_read(index_path, INDEX_MAX_BYTES, &text, &text_size);
    if (status != VLM_OK) return status;
    cJSON *root = cJSON_ParseWithLength(text, text_size);
    free(text);
    if (root == NULL) return vlmi_fail(VLM_ERR_FORMAT, "%s: not valid JSON", index_path);
    const cJSON *weight_map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(weight_map)) {
        cJSON_Delete(root);
        return vlmi_fail(VLM_ERR_FORMAT, "%s: weight_map missing or not an object", index_path);
    }
    if (weight_map->child == NULL) {
        cJSON_Delete(root);
        return vlmi_fail(VLM_ERR_FORMAT, "%s: weight_map is empty", index_path);
    }

    /* Shards live next to the index. */
    const char *slash = strrchr(index_path, '/');
    char *dir = slash != NULL ? vlmi_strndup(index_path, (size_t)(slash - index_path) + (slash == index_path))
                              : vlmi_strdup(".");
    if (dir == NULL) { cJSON_Delete(root); return VLM_ERR_OUT_OF_MEMORY; }
    status = open_shards(index_path, dir, weight_map, set);
    free(dir);

    for (const cJSON *e = weight_map->child; e != NULL && status == VLM_OK; e = e->next) {
        for (size_t i = 0; i < set->n_files; i++) {
            const char *shard_path = set->files[i]->path;
            const char *base = strrchr(shard_path, '/');
            base = base != NULL ? base + 1 : shard_path;
            if (strcmp(base, e->valuestring) != 0) continue;
            if (vlmi_safetensors_find(set->files[i], e->string) == NULL)
                status = vlmi_fail(VLM_ERR_FORMAT, "%s: weight_map: tensor '%s' is not in %s",
                                   index_path, e->string, shard_path);
            break;
        }
    }
    cJSON_Delete(root);
    return status;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

vlm_status vlmi_safetensors_set_open(const char *path, vlmi_safetensors_set **out) {
    *out = NULL;
    vlmi_safetensors_set *set = vlmi_calloc(1, sizeof *set);
    if (set == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status status;
    if (vlmi_is_directory(path)) {
        char *index_path = vlmi_path_join(path, INDEX_FILE_NAME);
        char *single_path = vlmi_path_join(path, SINGLE_FILE_NAME);
        if (index_path == NULL || single_path == NULL)
            status = VLM_ERR_OUT_OF_MEMORY;
        else if (vlmi_is_regular_file(index_path))
            status = open_index(index_path, set);
        else if (vlmi_is_regular_file(single_path))
            status = open_single(single_path, set);
        else
            status = vlmi_fail(VLM_ERR_IO, "%s: has neither %s nor %s", path, INDEX_FILE_NAME,
                               SINGLE_FILE_NAME);
        free(index_path);
        free(single_path);
    } else if (ends_with(path, ".json")) {
        status = open_index(path, set);
    } else {
        status = open_single(path, set);
    }
    if (status == VLM_OK) status = index_set(set);
    if (status != VLM_OK) {
        vlmi_safetensors_set_close(set);
        return status;
    }
    *out = set;
    return VLM_OK;
}

vlm_status vlmi_safetensors_set_view(const vlmi_tensor_info *tensors, size_t n,
                                     const char *display_name,
                                     vlmi_safetensors_set **out) {
    *out = NULL;
    vlmi_safetensors_set *set = vlmi_calloc(1, sizeof *set);
    if (set == NULL) return VLM_ERR_OUT_OF_MEMORY;
    set->tensors = vlmi_calloc(n, sizeof *set->tensors);
    set->by_name = vlmi_calloc(n, sizeof *set->by_name);
    set->view_infos = vlmi_calloc(n, sizeof *set->view_infos);
    if (set->tensors == NULL || set->by_name == NULL || set->view_infos == NULL) {
        vlmi_safetensors_set_close(set);
        return VLM_ERR_OUT_OF_MEMORY;
    }
    if (n > 0) memcpy(set->view_infos, tensors, n * sizeof *tensors);
    for (size_t i = 0; i < n; i++) set->tensors[i] = set->by_name[i] = &set->view_infos[i];
    set->n_tensors = n;
    qsort(set->by_name, n, sizeof *set->by_name, compare_by_name);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(set->by_name[i - 1]->name, set->by_name[i]->name) == 0) {
            vlm_status st = vlmi_fail(VLM_ERR_FORMAT, "%s: tensor '%s' appears twice",
                                      display_name, set->by_name[i]->name);
            vlmi_safetensors_set_close(set);
            return st;
        }
    }
    *out = set;
    return VLM_OK;
}

size_t vlmi_safetensors_set_n_files(const vlmi_safetensors_set *set) { return set->n_files; }

const vlmi_safetensors *vlmi_safetensors_set_file(const vlmi_safetensors_set *set, size_t index) {
    return index < set->n_files ? set->files[index] : NULL;
}

size_t vlmi_safetensors_set_n_tensors(const vlmi_safetensors_set *set) { return set->n_tensors; }

const vlmi_tensor_info *vlmi_safetensors_set_tensor(const vlmi_safetensors_set *set, size_t index) {
    return index < set->n_tensors ? set->tensors[index] : NULL;
}

const vlmi_tensor_info *vlmi_safetensors_set_find(const vlmi_safetensors_set *set,
                                                  const char *name) {
    size_t lo = 0, hi = set->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(set->by_name[mid]->name, name);
        if (c == 0) return set->by_name[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}
