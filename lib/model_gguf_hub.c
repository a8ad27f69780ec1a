/* Reading a hub directory back from one GGUF file (see model_gguf_hub.h). */
#include "model_gguf_hub.h"

#include "text/tokenizer-impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_PREFIX "libvlm.file."
#define SHAPE_PREFIX "libvlm.shape."

bool vlmi_gguf_hub_detect(const char *path) {
    vlmi_gguf *g = NULL;
    if (vlmi_gguf_open(path, &g) != VLM_OK) {
        vlmi_clear_error();
        return false;
    }
    const vlmi_gguf_kv *kv = vlmi_gguf_find_kv(g, "general.architecture");
    const char *arch;
    size_t len;
    bool hub = kv != NULL && vlmi_gguf_value_string(&kv->value, &arch, &len) &&
               len == strlen(VLMI_GGUF_HUB_ARCHITECTURE) &&
               memcmp(arch, VLMI_GGUF_HUB_ARCHITECTURE, len) == 0;
    vlmi_gguf_close(g);
    return hub;
}

// ---- configuration ----

/* vlmi_hub_file_reader over the libvlm.file.* strings. */
static vlm_status read_embedded(void *ctx, const char *name, bool required, char **text,
                                size_t *size, char *display, size_t display_size) {
    const vlmi_gguf *g = ctx;
    char key[256];
    *text = NULL;
    snprintf(key, sizeof key, FILE_PREFIX "%s", name);
    snprintf(display, display_size, "%s:%s", vlmi_gguf_path(g), key);
    if (vlmi_gguf_find_kv(g, key) == NULL)
        return required ? vlmi_fail(VLM_ERR_FORMAT, "%s: missing", display) : VLM_OK;
    const char *s;
    size_t len;
    vlm_status st = vlmi_gguf_get_string(g, key, &s, &len);
    if (st != VLM_OK) return st;
    if ((*text = malloc(len + 1)) == NULL) return VLM_ERR_OUT_OF_MEMORY;
    memcpy(*text, s, len);  /* as a file's bytes: a NUL inside stays for the parser to refuse */
    (*text)[len] = '\0';
    *size = len;
    return VLM_OK;
}

vlm_status vlmi_gguf_hub_config(const vlmi_gguf *g, vlmi_hub_config *out) {
    memset(out, 0, sizeof *out);
    uint64_t version = 0;
    if (vlmi_gguf_find_kv(g, "libvlm.format_version") != NULL) {
        vlm_status st = vlmi_gguf_get_uint(g, "libvlm.format_version", &version);
        if (st != VLM_OK) return st;
    }
    if (version > VLMI_GGUF_HUB_FORMAT_VERSION)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: libvlm.format_version %llu is newer than "
                         "this library reads (%d)", vlmi_gguf_path(g), (unsigned long long)version,
                         VLMI_GGUF_HUB_FORMAT_VERSION);
    if (vlmi_gguf_find_kv(g, FILE_PREFIX "config.json") == NULL)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: " FILE_PREFIX "config.json missing (general."
                         "architecture is \"" VLMI_GGUF_HUB_ARCHITECTURE "\", a hub directory "
                         "written by vlm-quantize)", vlmi_gguf_path(g));
    return vlmi_hub_config_load_from(read_embedded, (void *)g, out);
}

// ---- tensors ----

/* t's real shape from libvlm.shape.<name>, when the writer merged its outer
 * dimensions; the bytes must be the same, so the element count and the row
 * length must agree with what the file stores. */
static vlm_status restore_shape(const vlmi_gguf *g, vlmi_tensor_info *t) {
    char key[512];
    if (snprintf(key, sizeof key, SHAPE_PREFIX "%s", t->name) >= (int)sizeof key) return VLM_OK;
    if (vlmi_gguf_find_kv(g, key) == NULL) return VLM_OK;
    const vlmi_gguf_value *dims;
    vlm_status st = vlmi_gguf_get_array(g, key, VLMI_GGUF_INT64, &dims);
    if (st != VLM_OK) return st;
    if (dims->n_elems > VLM_MAX_DIMS)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s has %llu dimensions", vlmi_gguf_path(g), key,
                         (unsigned long long)dims->n_elems);
    int64_t shape[VLM_MAX_DIMS];
    uint64_t product = 1;
    for (uint64_t i = 0; i < dims->n_elems; i++) {
        vlmi_gguf_value e;
        int64_t d;
        if (!vlmi_gguf_array_get(dims, i, &e) || !vlmi_gguf_value_int(&e, &d) || d < 0 ||
            __builtin_mul_overflow(product, (uint64_t)d, &product))
            return vlmi_fail(VLM_ERR_FORMAT, "%s: %s[%llu] is not a dimension", vlmi_gguf_path(g),
                             key, (unsigned long long)i);
        shape[i] = d;
    }
    /* the row length is the last dimension of both (a scalar's: 1) */
    int64_t row = t->n_dims > 0 ? t->shape[t->n_dims - 1] : 1;
    int64_t real_row = dims->n_elems > 0 ? shape[dims->n_elems - 1] : 1;
    if (product != t->n_elements || real_row != row)
        return vlmi_fail(VLM_ERR_SHAPE, "%s: %s does not describe the %llu elements (rows of "
                         "%lld) of tensor %s", vlmi_gguf_path(g), key,
                         (unsigned long long)t->n_elements, (long long)row, t->name);
    memset(t->shape, 0, sizeof t->shape);
    memcpy(t->shape, shape, dims->n_elems * sizeof *shape);
    t->n_dims = (uint32_t)dims->n_elems;
    return VLM_OK;
}

vlm_status vlmi_gguf_hub_weights(const vlmi_gguf *g, vlmi_safetensors_set **out) {
    *out = NULL;
    size_t n = vlmi_gguf_n_tensors(g);
    vlmi_tensor_info *infos = vlmi_calloc(n ? n : 1, sizeof *infos);
    if (infos == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = VLM_OK;
    for (size_t i = 0; st == VLM_OK && i < n; i++) {
        infos[i] = *vlmi_gguf_tensor(g, i);
        st = restore_shape(g, &infos[i]);
    }
    if (st == VLM_OK) st = vlmi_safetensors_set_view(infos, n, vlmi_gguf_path(g), out);
    free(infos);
    return st;
}

vlm_status vlmi_gguf_hub_tokenizer(const vlmi_gguf *g, vlm_tokenizer **out) {
    *out = NULL;
    char display[1024], *text;
    size_t size;
    vlm_status st = read_embedded((void *)g, "tokenizer.json", false, &text, &size, display,
                                  sizeof display);
    if (st != VLM_OK || text == NULL) return st;
    st = vlmi_tokenizer_load_memory(text, size, display, out);
    free(text);
    return st;
}
