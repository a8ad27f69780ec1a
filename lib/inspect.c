/* vlm_inspect: describes as JSON what a path holds, detected by content (not
 * by file extension): a model directory, a safetensors or GGUF file, or an
 * image. It is how a user checks a download and how anyone can probe the
 * parsers from outside. */
#include "vlm-impl.h"
#include "io/file.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/config.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building blocks ---- */

static cJSON *tensor_json(const vlmi_tensor_info *t, const char *file) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "dtype", vlmi_dtype_name(t->dtype));
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    for (uint32_t d = 0; d < t->n_dims; d++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
    cJSON *range = cJSON_AddArrayToObject(o, "byte_range");
    cJSON_AddItemToArray(range, cJSON_CreateNumber((double)t->file_offset));
    cJSON_AddItemToArray(range, cJSON_CreateNumber((double)(t->file_offset + t->n_bytes)));
    if (file != NULL) cJSON_AddStringToObject(o, "file", file);
    return o;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* ---- safetensors ---- */

static vlm_status describe_safetensors_set(const char *path, cJSON *root) {
    vlmi_safetensors_set *set = NULL;
    vlm_status st = vlmi_safetensors_set_open(path, &set);
    if (st != VLM_OK) return st;
    size_t n_files = vlmi_safetensors_set_n_files(set);
    cJSON *files = cJSON_AddArrayToObject(root, "files");
    cJSON *tensors = cJSON_AddArrayToObject(root, "tensors");
    uint64_t total = 0;
    for (size_t f = 0; f < n_files; f++) {
        const vlmi_safetensors *file = vlmi_safetensors_set_file(set, f);
        const char *name = base_name(vlmi_safetensors_path(file));
        cJSON *fo = cJSON_CreateObject();
        cJSON_AddStringToObject(fo, "name", name);
        size_t n_meta = vlmi_safetensors_n_metadata(file);
        if (n_meta > 0) {
            cJSON *meta = cJSON_AddObjectToObject(fo, "metadata");
            for (size_t i = 0; i < n_meta; i++) {
                const char *k, *v;
                vlmi_safetensors_metadata_at(file, i, &k, &v);
                cJSON_AddStringToObject(meta, k, v);
            }
        }
        cJSON_AddItemToArray(files, fo);
        for (size_t i = 0; i < vlmi_safetensors_n_tensors(file); i++) {
            const vlmi_tensor_info *t = vlmi_safetensors_tensor(file, i);
            cJSON_AddItemToArray(tensors, tensor_json(t, n_files > 1 ? name : NULL));
            total += t->n_bytes;
        }
    }
    cJSON_AddNumberToObject(root, "n_tensors", (double)vlmi_safetensors_set_n_tensors(set));
    cJSON_AddNumberToObject(root, "tensor_bytes", (double)total);
    vlmi_safetensors_set_close(set);
    return VLM_OK;
}

/* ---- GGUF ---- */

/* Arrays longer than this (a 262k-entry vocabulary) are summarised by their
 * length and first elements, so the description stays readable. */
#define INSPECT_MAX_ARRAY 64
#define INSPECT_ARRAY_HEAD 8

static cJSON *gguf_value_json(const vlmi_gguf_value *v) {
    int64_t i;
    uint64_t u;
    double d;
    bool b;
    const char *s;
    size_t len;
    char digits[24];
    switch (v->type) {
    case VLMI_GGUF_STRING:
        if (!vlmi_gguf_value_string(v, &s, &len)) return cJSON_CreateNull();
        char *copy = vlmi_strndup(s, len);
        cJSON *str = copy ? cJSON_CreateString(copy) : cJSON_CreateNull();
        free(copy);
        return str;
    case VLMI_GGUF_BOOL:
        return vlmi_gguf_value_bool(v, &b) ? cJSON_CreateBool(b) : cJSON_CreateNull();
    case VLMI_GGUF_FLOAT32:
    case VLMI_GGUF_FLOAT64:
        return vlmi_gguf_value_float(v, &d) ? cJSON_CreateNumber(d) : cJSON_CreateNull();
    case VLMI_GGUF_UINT64:
        if (!vlmi_gguf_value_uint(v, &u)) return cJSON_CreateNull();
        /* printed as the integer itself: a double would round above 2^53 */
        snprintf(digits, sizeof digits, "%llu", (unsigned long long)u);
        return cJSON_CreateRaw(digits);
    case VLMI_GGUF_ARRAY: {
        bool summarise = v->n_elems > INSPECT_MAX_ARRAY;
        cJSON *items = cJSON_CreateArray();
        vlmi_gguf_cursor cursor = {0, 0};
        vlmi_gguf_value elem;
        while ((!summarise || cursor.index < INSPECT_ARRAY_HEAD) &&
               vlmi_gguf_array_next(v, &cursor, &elem))
            cJSON_AddItemToArray(items, gguf_value_json(&elem));
        if (!summarise) return items;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "array_of", vlmi_gguf_type_name(v->elem_type));
        cJSON_AddNumberToObject(o, "length", (double)v->n_elems);
        cJSON_AddItemToObject(o, "head", items);
        return o;
    }
    default:
        if (!vlmi_gguf_value_int(v, &i)) return cJSON_CreateNull();
        snprintf(digits, sizeof digits, "%lld", (long long)i);
        return cJSON_CreateRaw(digits);
    }
}

static vlm_status describe_gguf(const char *path, cJSON *root) {
    vlmi_gguf *g = NULL;
    vlm_status st = vlmi_gguf_open(path, &g);
    if (st != VLM_OK) return st;
    cJSON_AddStringToObject(root, "format", "gguf");
    cJSON_AddNumberToObject(root, "version", vlmi_gguf_version(g));
    cJSON_AddNumberToObject(root, "alignment", (double)vlmi_gguf_alignment(g));
    cJSON *meta = cJSON_AddObjectToObject(root, "metadata");
    for (size_t i = 0; i < vlmi_gguf_n_kv(g); i++) {
        const vlmi_gguf_kv *kv = vlmi_gguf_kv_at(g, i);
        cJSON_AddItemToObject(meta, kv->key, gguf_value_json(&kv->value));
    }
    cJSON *tensors = cJSON_AddArrayToObject(root, "tensors");
    for (size_t i = 0; i < vlmi_gguf_n_tensors(g); i++)
        cJSON_AddItemToArray(tensors, tensor_json(vlmi_gguf_tensor(g, i), NULL));
    cJSON_AddNumberToObject(root, "n_tensors", (double)vlmi_gguf_n_tensors(g));
    vlmi_gguf_close(g);
    return VLM_OK;
}

/* ---- images ---- */

static vlm_status describe_image(const char *path, cJSON *root) {
    vlm_image *image = NULL;
    vlm_status st = vlm_image_load_file(path, NULL, &image);
    if (st != VLM_OK) return st;
    cJSON_AddStringToObject(root, "format",
                            vlm_image_source_format(image) == VLM_IMAGE_FORMAT_PNG ? "png" : "jpeg");
    cJSON_AddNumberToObject(root, "width", vlm_image_width(image));
    cJSON_AddNumberToObject(root, "height", vlm_image_height(image));
    vlm_image_free(image);
    return VLM_OK;
}

/* ---- model directories ---- */

static cJSON *config_summary(const vlmi_model_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "architecture", c->architecture);
    cJSON_AddStringToObject(o, "model_type", c->model_type);
    if (c->dtype[0]) cJSON_AddStringToObject(o, "dtype", c->dtype);
    cJSON *t = cJSON_AddObjectToObject(o, "text");
    cJSON_AddStringToObject(t, "model_type", c->text.model_type);
    cJSON_AddNumberToObject(t, "vocab_size", c->text.vocab_size);
    cJSON_AddNumberToObject(t, "hidden_size", c->text.hidden_size);
    cJSON_AddNumberToObject(t, "intermediate_size", c->text.intermediate_size);
    cJSON_AddNumberToObject(t, "num_hidden_layers", c->text.num_hidden_layers);
    cJSON_AddNumberToObject(t, "num_attention_heads", c->text.num_attention_heads);
    cJSON_AddNumberToObject(t, "num_key_value_heads", c->text.num_key_value_heads);
    cJSON_AddNumberToObject(t, "head_dim", c->text.head_dim);
    cJSON_AddNumberToObject(t, "max_position_embeddings", c->text.max_position_embeddings);
    cJSON_AddNumberToObject(t, "rope_theta", c->text.rope.theta);
    if (c->vision.present) {
        cJSON *v = cJSON_AddObjectToObject(o, "vision");
        cJSON_AddNumberToObject(v, "hidden_size", c->vision.hidden_size);
        cJSON_AddNumberToObject(v, "num_hidden_layers", c->vision.num_hidden_layers);
        cJSON_AddNumberToObject(v, "num_attention_heads", c->vision.num_attention_heads);
        cJSON_AddNumberToObject(v, "image_size", c->vision.image_size);
        cJSON_AddNumberToObject(v, "patch_size", c->vision.patch_size);
    }
    if (c->image_token_id >= 0) cJSON_AddNumberToObject(o, "image_token_id", (double)c->image_token_id);
    return o;
}

static vlm_status describe_model_dir(const char *path, cJSON *root) {
    char *config_path = vlmi_path_join(path, "config.json");
    if (config_path == NULL) return VLM_ERR_OUT_OF_MEMORY;
    char *json = NULL;
    size_t size = 0;
    vlm_status st = vlmi_file_read(config_path, 16u << 20, &json, &size);
    free(config_path);
    if (st != VLM_OK) return st;
    vlmi_model_config config;
    st = vlmi_model_config_parse(json, size, "config.json", &config);
    free(json);
    if (st != VLM_OK) return vlmi_fail_prefix(st, path);
    cJSON_AddItemToObject(root, "config", config_summary(&config));
    vlmi_model_config_free(&config);
    static const char *const optional_files[] = {
        "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json",
        "processor_config.json", "generation_config.json", "chat_template.json",
        "chat_template.jinja"};
    cJSON *present = cJSON_AddArrayToObject(root, "hub_files");
    for (size_t i = 0; i < sizeof optional_files / sizeof optional_files[0]; i++) {
        char *p = vlmi_path_join(path, optional_files[i]);
        if (p == NULL) return VLM_ERR_OUT_OF_MEMORY;
        if (vlmi_is_regular_file(p)) cJSON_AddItemToArray(present, cJSON_CreateString(optional_files[i]));
        free(p);
    }
    return describe_safetensors_set(path, cJSON_AddObjectToObject(root, "weights"));
}

/* ---- dispatch ---- */

typedef enum { KIND_UNKNOWN, KIND_SAFETENSORS, KIND_GGUF, KIND_JPEG, KIND_PNG } file_kind;

static file_kind sniff(const char *path) {
    unsigned char head[9] = {0};
    FILE *f = fopen(path, "rb");
    if (f == NULL) return KIND_UNKNOWN;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n >= 4 && memcmp(head, "GGUF", 4) == 0) return KIND_GGUF;
    if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) return KIND_JPEG;
    if (n >= 8 && memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0) return KIND_PNG;
    if (n == 9 && head[8] == '{') return KIND_SAFETENSORS;
    return KIND_UNKNOWN;
}

vlm_status vlm_inspect(const char *path, char *buf, size_t buf_size, size_t *out_len) {
    vlmi_clear_error();
    if (path == NULL || out_len == NULL || (buf == NULL && buf_size > 0))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_inspect: %s is NULL",
                         path == NULL ? "path" : out_len == NULL ? "out_len" : "buf");
    *out_len = 0;
    cJSON *root = cJSON_CreateObject();
    if (root == NULL) return vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "vlm_inspect: out of memory");
    cJSON_AddStringToObject(root, "path", path);
    vlm_status st;
    if (vlmi_is_directory(path)) {
        cJSON_AddStringToObject(root, "kind", "model_directory");
        st = describe_model_dir(path, root);
    } else if (!vlmi_is_regular_file(path)) {
        st = vlmi_fail(VLM_ERR_IO, "%s: no such file or directory", path);
    } else {
        switch (sniff(path)) {
        case KIND_SAFETENSORS:
            cJSON_AddStringToObject(root, "kind", "safetensors");
            st = describe_safetensors_set(path, root);
            break;
        case KIND_GGUF:
            cJSON_AddStringToObject(root, "kind", "gguf");
            st = describe_gguf(path, root);
            break;
        case KIND_JPEG:
        case KIND_PNG:
            cJSON_AddStringToObject(root, "kind", "image");
            st = describe_image(path, root);
            break;
        default:
            st = vlmi_fail(VLM_ERR_UNSUPPORTED,
                           "%s: not a model directory, safetensors, GGUF, JPEG or PNG file", path);
        }
    }
    if (st != VLM_OK) { cJSON_Delete(root); return st; }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL) return vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "vlm_inspect: out of memory");
    size_t len = strlen(text);
    *out_len = len;
    if (buf_size <= len) {
        free(text);
        return buf == NULL && buf_size == 0
            ? VLM_ERR_BUFFER_TOO_SMALL
            : vlmi_fail(VLM_ERR_BUFFER_TOO_SMALL, "vlm_inspect: need %zu bytes", len + 1);
    }
    memcpy(buf, text, len + 1);
    free(text);
    return VLM_OK;
}
