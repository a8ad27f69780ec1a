/* vlm-quantize: a Hugging Face hub directory -> one GGUF file libvlm loads
 * as it loads the directory (lib/model_gguf_hub.c reads it back).
 *
 *   vlm-quantize MODEL_DIR OUT.gguf [--type f16|q8_0|q4_0|q4_k]
 *                [--vision-type f16|q8_0|q4_0|q4_k] [--name NAME] [--json]
 *
 * What goes in the file:
 *   - every tensor of the checkpoint under its Hugging Face name, shape as
 *     safetensors gives it (GGUF's ne[] is that shape reversed). Matrices
 *     (2-D "*.weight") of the text model get --type, those of the vision
 *     tower and projector --vision-type (default: --type for f16 and q8_0,
 *     f16 for the 4-bit types, whose error the vision tower shows most).
 *     1-D tensors (norms, biases) are stored F32; convolution kernels
 *     (3-D and up), position embeddings and other 2-D tensors F16, as
 *     llama.cpp keeps them; integer tensors as they are. A matrix whose row
 *     length is not a multiple of its type's block falls back as
 *     llama-quantize does (tensor_type_fallback): q4_k (256) to Q5_0 (32),
 *     then any type to F16; the summary lists each fallback. SmolVLM's
 *     width 576 is one such: its q4_k attention matrices are Q5_0.
 *   - GGUF holds 1 to 4 dimensions: a tensor with more is stored with its
 *     outer dimensions merged (same bytes), a scalar as [1], and the real
 *     shape goes in libvlm.shape.<name> (INT64 array, outermost first).
 *   - the hub's configuration files, verbatim, as string metadata
 *     libvlm.file.<file name> (config.json, tokenizer.json, ...: see
 *     embedded_files below); config.json is required.
 *   - general.architecture "libvlm" (the key that tells libvlm's loader to
 *     read the file as a hub directory), general.name, general.file_type
 *     (llama.cpp's numbering for --type: 1 F16, 7 Q8_0, 2 Q4_0, 14 Q4_K_S),
 *     general.quantization_version 2 and libvlm.format_version 1.
 *
 * The file is written beside OUT as OUT.part and renamed when complete, so a
 * failed run leaves no partial OUT. The summary (one line per tensor, or
 * --json) goes to stdout; errors name the status, as vlm-cli's do. */
#include "gguf_writer.h"

#include "io/dtype.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "kernels.h"
#include "ref/quantize.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FORMAT_VERSION 1
/* The largest configuration file copied in (tokenizer.json is a few MB). */
#define EMBEDDED_FILE_MAX (64u << 20)
#define GGUF_MAX_DIMS 4
#define TYPE_NAMES "f16, q8_0, q4_0, q4_k"

/* The hub files libvlm reads besides the weights (lib/model/hub_config.c,
 * tokenizer.json). */
static const char *const embedded_files[] = {
    "config.json", "preprocessor_config.json", "processor_config.json",
    "video_preprocessor_config.json", "generation_config.json", "tokenizer.json",
    "tokenizer_config.json", "chat_template.json", "chat_template.jinja",
};

static void usage(FILE *out) {
    fprintf(out,
            "usage: vlm-quantize MODEL_DIR OUT.gguf [--type f16|q8_0|q4_0|q4_k]\n"
            "                    [--vision-type f16|q8_0|q4_0|q4_k] [--name NAME] [--json]\n"
            "  --type         the text model's matrices (default q8_0)\n"
            "  --vision-type  the vision tower's and projector's matrices (default: --type for\n"
            "                 f16 and q8_0, f16 for the 4-bit types)\n"
            "  --name         general.name (default: MODEL_DIR's last component)\n"
            "  --json         the summary as JSON (tensors, types, sizes)\n");
}

static int report(const char *what, vlm_status status) {
    fprintf(stderr, "vlm-quantize: %s: %s: %s\n", what, vlm_status_string(status),
            vlm_last_error()[0] ? vlm_last_error() : "failed");
    return 1;
}

// ---- types ----

typedef struct quant_type {
    const char *name;     /* as --type spells it */
    vlm_dtype dtype;
    uint32_t file_type;   /* llama.cpp's general.file_type (llama_ftype) */
} quant_type;

static const quant_type quant_types[] = {
    {"f16", VLM_DTYPE_F16, 1},
    {"q8_0", VLM_DTYPE_Q8_0, 7},
    {"q4_0", VLM_DTYPE_Q4_0, 2},
    {"q4_k", VLM_DTYPE_Q4_K, 14},
};

static const quant_type *quant_type_named(const char *name) {
    for (size_t i = 0; i < sizeof quant_types / sizeof quant_types[0]; i++)
        if (strcasecmp(name, quant_types[i].name) == 0) return &quant_types[i];
    return NULL;
}

/* ggml type ids of the dtypes written (ggml.h enum ggml_type). */
static bool ggml_type_of(vlm_dtype dtype, uint32_t *out) {
    static const struct { vlm_dtype dtype; uint32_t ggml; } table[] = {
        {VLM_DTYPE_F32, 0},  {VLM_DTYPE_F16, 1},  {VLM_DTYPE_Q4_0, 2}, {VLM_DTYPE_Q5_0, 6},
        {VLM_DTYPE_Q8_0, 8},
        {VLM_DTYPE_Q4_K, 12}, {VLM_DTYPE_I8, 24}, {VLM_DTYPE_I16, 25}, {VLM_DTYPE_I32, 26},
        {VLM_DTYPE_I64, 27}, {VLM_DTYPE_F64, 28}, {VLM_DTYPE_BF16, 30},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].dtype == dtype) { *out = table[i].ggml; return true; }
    return false;
}

static bool is_float_source(vlm_dtype d) {
    return d == VLM_DTYPE_F32 || d == VLM_DTYPE_F16 || d == VLM_DTYPE_BF16;
}

// ---- the plan: each tensor's stored type and why ----

typedef struct tensor_plan {
    const vlmi_tensor_info *src;
    vlm_dtype dtype;          /* as stored */
    const char *role;         /* "text matrix", "vision matrix", "norm/bias", ... */
    vlm_dtype wanted;         /* the type its role asked for */
    bool fallback;            /* stored in another type: its rows do not fill blocks */
    uint64_t n_bytes;
} tensor_plan;

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The vision tower and the projector into the text model, by the names the
 * three families use (Idefics3, Gemma 3, Qwen2.5-VL; "model." prefixed or
 * not). */
static bool is_vision(const char *name) {
    static const char *const parts[] = {"vision_model.", "vision_tower.", "visual.",
                                        "connector.", "multi_modal_projector."};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strstr(name, parts[i]) != NULL) return true;
    return false;
}

static vlm_status plan_tensor(tensor_plan *p, const vlmi_tensor_info *t, vlm_dtype text_type,
                              vlm_dtype vision_type) {
    memset(p, 0, sizeof *p);
    p->src = t;
    if (!is_float_source(t->dtype)) {
        uint32_t ggml;
        if (!ggml_type_of(t->dtype, &ggml))
            return vlmi_fail(VLM_ERR_UNSUPPORTED, "tensor %s: dtype %s has no GGUF type", t->name,
                             vlmi_dtype_name(t->dtype));
        p->dtype = t->dtype;
        p->role = "kept";
    } else if (t->n_dims <= 1) {
        p->dtype = VLM_DTYPE_F32;
        p->role = "norm/bias";
    } else if (t->n_dims > 2) {
        p->dtype = VLM_DTYPE_F16;
        p->role = "convolution";
    } else if (!ends_with(t->name, ".weight") || strstr(t->name, "position_embedding") != NULL ||
               strstr(t->name, "pos_embed") != NULL) {
        p->dtype = VLM_DTYPE_F16;
        p->role = "other 2-D";
    } else {
        bool vision = is_vision(t->name);
        p->dtype = p->wanted = vision ? vision_type : text_type;
        p->role = vision ? "vision matrix" : "text matrix";
        uint64_t row_bytes, row_len = (uint64_t)t->shape[t->n_dims - 1];
        if (p->dtype == VLM_DTYPE_Q4_K && !vlmi_dtype_row_bytes(p->dtype, row_len, &row_bytes))
            p->dtype = VLM_DTYPE_Q5_0;
        if (!vlmi_dtype_row_bytes(p->dtype, row_len, &row_bytes)) p->dtype = VLM_DTYPE_F16;
        p->fallback = p->dtype != p->wanted;
    }
    if (t->n_elements == 0) return VLM_OK;  /* an empty tensor: no bytes */
    uint64_t row_len = t->n_dims > 0 ? (uint64_t)t->shape[t->n_dims - 1] : 1;
    uint64_t n_rows = t->n_elements / row_len, row_bytes;
    if (!vlmi_dtype_row_bytes(p->dtype, row_len, &row_bytes))
        return vlmi_fail(VLM_ERR_INTERNAL, "tensor %s: no row size", t->name);
    p->n_bytes = n_rows * row_bytes;
    return VLM_OK;
}

// ---- writing ----

typedef struct options {
    const char *model_dir, *out_path, *name;
    const quant_type *type;
    const quant_type *vision_type;
    bool json;
} options;

static vlm_status add_metadata(gguf_writer *w, const options *o, const tensor_plan *plans,
                               size_t n) {
    vlm_status st = VLM_OK;
    const char *name = o->name;
    char *base = NULL;
    if (name == NULL) {
        size_t len = strlen(o->model_dir);
        while (len > 1 && o->model_dir[len - 1] == '/') len--;
        size_t start = len;
        while (start > 0 && o->model_dir[start - 1] != '/') start--;
        base = vlmi_strndup(o->model_dir + start, len - start);
        if (base == NULL) return VLM_ERR_OUT_OF_MEMORY;
        name = base;
    }
    if (st == VLM_OK) st = gguf_writer_add_string(w, "general.architecture", "libvlm", 6);
    if (st == VLM_OK) st = gguf_writer_add_string(w, "general.name", name, strlen(name));
    if (st == VLM_OK) st = gguf_writer_add_u32(w, "general.file_type", o->type->file_type);
    if (st == VLM_OK) st = gguf_writer_add_u32(w, "general.quantization_version", 2);
    if (st == VLM_OK) st = gguf_writer_add_u32(w, "libvlm.format_version", FORMAT_VERSION);
    free(base);

    bool have_config = false;
    for (size_t i = 0; st == VLM_OK && i < sizeof embedded_files / sizeof embedded_files[0]; i++) {
        char *path = vlmi_path_join(o->model_dir, embedded_files[i]);
        if (path == NULL) return VLM_ERR_OUT_OF_MEMORY;
        if (vlmi_is_regular_file(path)) {
            char *text, key[128];
            size_t size;
            st = vlmi_file_read(path, EMBEDDED_FILE_MAX, &text, &size);
            snprintf(key, sizeof key, "libvlm.file.%s", embedded_files[i]);
            if (st == VLM_OK) {
                st = gguf_writer_add_string(w, key, text, size);
                free(text);
            }
            have_config = have_config || i == 0;
        }
        free(path);
    }
    if (st == VLM_OK && !have_config)
        st = vlmi_fail(VLM_ERR_FORMAT, "%s: has no config.json", o->model_dir);

    for (size_t i = 0; st == VLM_OK && i < n; i++) {
        const vlmi_tensor_info *t = plans[i].src;
        if (t->n_dims >= 1 && t->n_dims <= GGUF_MAX_DIMS) continue;
        char key[512];
        if (snprintf(key, sizeof key, "libvlm.shape.%s", t->name) >= (int)sizeof key)
            return vlmi_fail(VLM_ERR_LIMIT, "tensor %s: name too long", t->name);
        st = gguf_writer_add_i64_array(w, key, t->shape, t->n_dims);
    }
    return st;
}

/* GGUF's shape of t: at most 4 dimensions, the outer ones merged. */
static uint32_t stored_shape(const vlmi_tensor_info *t, int64_t *shape) {
    if (t->n_dims == 0) { shape[0] = 1; return 1; }
    if (t->n_dims <= GGUF_MAX_DIMS) {
        memcpy(shape, t->shape, t->n_dims * sizeof *shape);
        return t->n_dims;
    }
    uint32_t merged = t->n_dims - (GGUF_MAX_DIMS - 1);
    shape[0] = 1;
    for (uint32_t d = 0; d < merged; d++) shape[0] *= t->shape[d];
    memcpy(shape + 1, t->shape + merged, (GGUF_MAX_DIMS - 1) * sizeof *shape);
    return GGUF_MAX_DIMS;
}

/* t's data, row by row through f32 into plan->dtype. */
static vlm_status write_tensor(FILE *f, const tensor_plan *p, float *row_f32, void *row_out) {
    const vlmi_tensor_info *t = p->src;
    bool ok = true;
    if (!is_float_source(t->dtype)) {
        ok = fwrite(t->data, 1, (size_t)t->n_bytes, f) == t->n_bytes;
    } else if (t->n_elements > 0) {
        uint64_t row_len = t->n_dims > 0 ? (uint64_t)t->shape[t->n_dims - 1] : 1;
        uint64_t n_rows = t->n_elements / row_len, in_row_bytes, out_row_bytes;
        vlmi_dtype_row_bytes(t->dtype, row_len, &in_row_bytes);
        vlmi_dtype_row_bytes(p->dtype, row_len, &out_row_bytes);
        vlmi_dequant_fn to_f32 = vlmi_dequant_fn_for(t->dtype);
        vlmi_quantize_fn quantize = vlmi_quantize_fn_for(p->dtype);
        /* the quantizers need finite values; F16 holds magnitudes to 65504 */
        float limit = p->dtype == VLM_DTYPE_F32 ? INFINITY : 65504.0f;
        for (uint64_t r = 0; ok && r < n_rows; r++) {
            to_f32(row_f32, (const uint8_t *)t->data + r * in_row_bytes, (size_t)row_len);
            for (uint64_t j = 0; j < row_len; j++)
                if (!(fabsf(row_f32[j]) <= limit))
                    return vlmi_fail(VLM_ERR_LIMIT, "tensor %s: element %llu is %g, which %s "
                                     "cannot hold", t->name,
                                     (unsigned long long)(r * row_len + j), row_f32[j],
                                     vlmi_dtype_name(p->dtype));
            quantize(row_out, row_f32, (size_t)row_len);
            ok = fwrite(row_out, 1, (size_t)out_row_bytes, f) == out_row_bytes;
        }
    }
    if (!ok) return vlmi_fail(VLM_ERR_IO, "writing tensor %s failed", t->name);
    return gguf_writer_pad(f, p->n_bytes);
}

static vlm_status write_file(const options *o, const tensor_plan *plans, size_t n,
                             gguf_writer *w, uint64_t *file_bytes) {
    uint64_t longest_row = 1;
    for (size_t i = 0; i < n; i++) {
        const vlmi_tensor_info *t = plans[i].src;
        if (t->n_dims > 0 && (uint64_t)t->shape[t->n_dims - 1] > longest_row)
            longest_row = (uint64_t)t->shape[t->n_dims - 1];
    }
    float *row_f32 = malloc((size_t)longest_row * sizeof *row_f32);
    void *row_out = malloc((size_t)longest_row * sizeof(float));
    size_t part_len = strlen(o->out_path) + sizeof ".part";
    char *part = malloc(part_len);
    FILE *f = NULL;
    vlm_status st = VLM_OK;
    if (row_f32 == NULL || row_out == NULL || part == NULL) st = VLM_ERR_OUT_OF_MEMORY;
    if (st == VLM_OK) {
        snprintf(part, part_len, "%s.part", o->out_path);
        if ((f = fopen(part, "wb")) == NULL) st = vlmi_fail(VLM_ERR_IO, "%s: cannot create", part);
    }
    if (st == VLM_OK && (st = gguf_writer_write_header(w, f)) != VLM_OK)
        st = vlmi_fail(VLM_ERR_IO, "%s: writing the header failed", part);
    for (size_t i = 0; st == VLM_OK && i < n; i++)
        st = write_tensor(f, &plans[i], row_f32, row_out);
    if (f != NULL) {
        long end = ftell(f);
        if (st == VLM_OK) *file_bytes = end > 0 ? (uint64_t)end : 0;
        if (fclose(f) != 0 && st == VLM_OK) st = vlmi_fail(VLM_ERR_IO, "%s: write failed", part);
        if (st == VLM_OK && rename(part, o->out_path) != 0)
            st = vlmi_fail(VLM_ERR_IO, "%s: cannot rename to %s", part, o->out_path);
        if (st != VLM_OK) remove(part);
    }
    free(part);
    free(row_f32);
    free(row_out);
    return st;
}

// ---- the summary ----

/* "[576, 1152]" */
static void format_shape(char *buf, size_t size, const vlmi_tensor_info *t) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (uint32_t d = 0; d < t->n_dims && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? ", " : "",
                                 (long long)t->shape[d]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

static void print_summary(const options *o, const tensor_plan *plans, size_t n,
                          uint64_t in_bytes, uint64_t file_bytes) {
    size_t n_fallback = 0;
    for (size_t i = 0; i < n; i++) n_fallback += plans[i].fallback;
    if (o->json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "input", o->model_dir);
        cJSON_AddStringToObject(root, "output", o->out_path);
        cJSON_AddStringToObject(root, "type", o->type->name);
        cJSON_AddStringToObject(root, "vision_type", o->vision_type->name);
        cJSON_AddNumberToObject(root, "input_tensor_bytes", (double)in_bytes);
        cJSON_AddNumberToObject(root, "file_bytes", (double)file_bytes);
        cJSON_AddNumberToObject(root, "n_tensors", (double)n);
        cJSON_AddNumberToObject(root, "n_fallback", (double)n_fallback);
        cJSON *tensors = cJSON_AddArrayToObject(root, "tensors");
        for (size_t i = 0; i < n; i++) {
            const vlmi_tensor_info *t = plans[i].src;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", t->name);
            cJSON *shape = cJSON_AddArrayToObject(e, "shape");
            for (uint32_t d = 0; d < t->n_dims; d++)
                cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
            cJSON_AddStringToObject(e, "from", vlmi_dtype_name(t->dtype));
            cJSON_AddStringToObject(e, "to", vlmi_dtype_name(plans[i].dtype));
            cJSON_AddStringToObject(e, "role", plans[i].role);
            cJSON_AddNumberToObject(e, "bytes", (double)plans[i].n_bytes);
            if (plans[i].fallback)
                cJSON_AddStringToObject(e, "fallback_from", vlmi_dtype_name(plans[i].wanted));
            cJSON_AddItemToArray(tensors, e);
        }
        char *text = cJSON_Print(root);
        if (text != NULL) printf("%s\n", text);
        free(text);
        cJSON_Delete(root);
        return;
    }
    /* the fallbacks by name, then the tensors and bytes of each stored type */
    for (size_t i = 0; i < n; i++) {
        if (!plans[i].fallback) continue;
        char shape[128];
        format_shape(shape, sizeof shape, plans[i].src);
        printf("%s %s: rows of %lld do not fill %s blocks: stored %s\n", plans[i].src->name,
               shape, (long long)plans[i].src->shape[plans[i].src->n_dims - 1],
               vlmi_dtype_name(plans[i].wanted), vlmi_dtype_name(plans[i].dtype));
    }
    static const vlm_dtype stored[] = {VLM_DTYPE_F32, VLM_DTYPE_F16, VLM_DTYPE_Q8_0,
                                       VLM_DTYPE_Q5_0, VLM_DTYPE_Q4_0, VLM_DTYPE_Q4_K};
    for (size_t k = 0; k < sizeof stored / sizeof stored[0]; k++) {
        size_t count = 0;
        uint64_t bytes = 0;
        for (size_t i = 0; i < n; i++)
            if (plans[i].dtype == stored[k]) { count++; bytes += plans[i].n_bytes; }
        if (count > 0)
            printf("%-5s %5zu tensors %10.2f MiB\n", vlmi_dtype_name(stored[k]), count,
                   (double)bytes / (1 << 20));
    }
    printf("%s: %zu tensors, %.1f MiB -> %.1f MiB (%s, vision %s), %zu in a fallback type as "
           "their rows do not fill blocks\n", o->out_path, n, (double)in_bytes / (1 << 20),
           (double)file_bytes / (1 << 20), o->type->name, o->vision_type->name, n_fallback);
}

// ---- main ----

static int parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->type = quant_type_named("q8_0");
    const char *vision = NULL;
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage(stdout); exit(0); }
        else if (strcmp(a, "--json") == 0) o->json = true;
        else if (strcmp(a, "--type") == 0 && has_value) {
            if ((o->type = quant_type_named(argv[++i])) == NULL) {
                fprintf(stderr, "vlm-quantize: --type %s: not one of %s\n", argv[i], TYPE_NAMES);
                return 2;
            }
        } else if (strcmp(a, "--vision-type") == 0 && has_value) vision = argv[++i];
        else if (strcmp(a, "--name") == 0 && has_value) o->name = argv[++i];
        else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "vlm-quantize: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 2;
        } else if (positional == 0) { o->model_dir = a; positional++; }
        else if (positional == 1) { o->out_path = a; positional++; }
        else { usage(stderr); return 2; }
    }
    if (positional != 2) { usage(stderr); return 2; }
    if (vision != NULL) {
        if ((o->vision_type = quant_type_named(vision)) == NULL) {
            fprintf(stderr, "vlm-quantize: --vision-type %s: not one of %s\n", vision, TYPE_NAMES);
            return 2;
        }
    } else {
        bool four_bit = o->type->dtype == VLM_DTYPE_Q4_0 || o->type->dtype == VLM_DTYPE_Q4_K;
        o->vision_type = four_bit ? quant_type_named("f16") : o->type;
    }
    return 0;
}

int main(int argc, char **argv) {
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0) return rc;
    if (!vlmi_is_directory(o.model_dir)) {
        fprintf(stderr, "vlm-quantize: %s: %s: not a model directory\n", o.model_dir,
                vlm_status_string(VLM_ERR_IO));
        return 1;
    }

    vlmi_safetensors_set *set = NULL;
    vlm_status st = vlmi_safetensors_set_open(o.model_dir, &set);
    if (st != VLM_OK) return report(o.model_dir, st);
    size_t n = vlmi_safetensors_set_n_tensors(set);
    tensor_plan *plans = calloc(n ? n : 1, sizeof *plans);
    gguf_writer *w = gguf_writer_create();
    if (plans == NULL || w == NULL) st = VLM_ERR_OUT_OF_MEMORY;
    uint64_t in_bytes = 0, file_bytes = 0;
    for (size_t i = 0; st == VLM_OK && i < n; i++) {
        const vlmi_tensor_info *t = vlmi_safetensors_set_tensor(set, i);
        in_bytes += t->n_bytes;
        st = plan_tensor(&plans[i], t, o.type->dtype, o.vision_type->dtype);
    }
    if (st == VLM_OK) st = add_metadata(w, &o, plans, n);
    for (size_t i = 0; st == VLM_OK && i < n; i++) {
        int64_t shape[GGUF_MAX_DIMS];
        uint32_t n_dims = stored_shape(plans[i].src, shape), ggml;
        if (!ggml_type_of(plans[i].dtype, &ggml)) st = VLM_ERR_INTERNAL;
        else st = gguf_writer_add_tensor(w, plans[i].src->name, ggml, n_dims, shape,
                                         plans[i].n_bytes);
    }
    if (st == VLM_OK) st = write_file(&o, plans, n, w, &file_bytes);
    if (st == VLM_OK) print_summary(&o, plans, n, in_bytes, file_bytes);
    rc = st == VLM_OK ? 0 : report(o.out_path, st);
    gguf_writer_free(w);
    free(plans);
    vlmi_safetensors_set_close(set);
    return rc;
}
