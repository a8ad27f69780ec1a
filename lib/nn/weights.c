/* Binding checkpoint tensors to blocks by name, with shape checks. */
#include "nn/weights.h"
#include "io/dtype.h"
#include "kernels.h"

#include <stdio.h>

/* Longest tensor name we build; real ones are under 100 bytes. */
#define WEIGHT_NAME_MAX 256

/* "[16, 3, 16, 16]" */
static void format_shape(char *buf, size_t size, size_t n_dims, const int64_t *dims64,
                         const size_t *dims) {
    size_t used = 0;
    used += (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < n_dims && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                 dims64 ? (long long)dims64[i] : (long long)dims[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

static vlm_status find_v(const vlmi_tensor_info **out, const vlmi_safetensors_set *set,
                         size_t n_dims, const size_t *shape, const char *name_fmt,
                         va_list ap) {
    *out = NULL;
    char name[WEIGHT_NAME_MAX];
    int len = vsnprintf(name, sizeof name, name_fmt, ap);
    if (len < 0 || (size_t)len >= sizeof name)
        return vlmi_fail(VLM_ERR_INTERNAL, "tensor name too long: %s", name);

    const vlmi_tensor_info *t = vlmi_safetensors_set_find(set, name);
    if (t == NULL) return vlmi_fail(VLM_ERR_FORMAT, "tensor %s: missing", name);

    bool same = t->n_dims == n_dims;
    for (size_t i = 0; same && i < n_dims; i++) same = t->shape[i] == (int64_t)shape[i];
    if (!same) {
        char have[128], want[128];
        format_shape(have, sizeof have, t->n_dims, t->shape, NULL);
        format_shape(want, sizeof want, n_dims, NULL, shape);
        return vlmi_fail(VLM_ERR_SHAPE, "tensor %s: shape %s, config expects %s", name,
                         have, want);
    }
    if (!vlmi_ref_weight_dtype_supported(t->dtype))
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "tensor %s: dtype %s is not supported yet",
                         name, vlmi_dtype_name(t->dtype));
    *out = t;
    return VLM_OK;
}

vlm_status vlmi_weights_find(const vlmi_tensor_info **out,
                             const vlmi_safetensors_set *set, size_t n_dims,
                             const size_t *shape, const char *name_fmt, ...) {
    va_list ap;
    va_start(ap, name_fmt);
    vlm_status st = find_v(out, set, n_dims, shape, name_fmt, ap);
    va_end(ap);
    return st;
}

static vlm_status matrix_v(vlmi_matrix *out, const vlmi_safetensors_set *set,
                           size_t n_dims, const size_t *shape, const char *name_fmt,
                           va_list ap) {
    const vlmi_tensor_info *t;
    vlm_status st = find_v(&t, set, n_dims, shape, name_fmt, ap);
    if (st != VLM_OK) return st;
    size_t cols = 1;
    for (size_t i = 1; i < n_dims; i++) cols *= shape[i]; /* the file's size bounds it */
    *out = (vlmi_matrix){.data = t->data, .dtype = t->dtype, .rows = shape[0], .cols = cols};
    return VLM_OK;
}

vlm_status vlmi_weights_matrix(vlmi_matrix *out, const vlmi_safetensors_set *set,
                               size_t rows, size_t cols, const char *name_fmt, ...) {
    const size_t shape[2] = {rows, cols};
    va_list ap;
    va_start(ap, name_fmt);
    vlm_status st = matrix_v(out, set, 2, shape, name_fmt, ap);
    va_end(ap);
    return st;
}

vlm_status vlmi_weights_matrix_nd(vlmi_matrix *out, const vlmi_safetensors_set *set,
                                  size_t n_dims, const size_t *shape,
                                  const char *name_fmt, ...) {
    if (n_dims == 0) return vlmi_fail(VLM_ERR_INTERNAL, "matrix of rank 0");
    va_list ap;
    va_start(ap, name_fmt);
    vlm_status st = matrix_v(out, set, n_dims, shape, name_fmt, ap);
    va_end(ap);
    return st;
}

vlm_status vlmi_weights_load_f32(float *dst, const vlmi_safetensors_set *set,
                                 size_t n_dims, const size_t *shape,
                                 const char *name_fmt, ...) {
    const vlmi_tensor_info *t;
    va_list ap;
    va_start(ap, name_fmt);
    vlm_status st = find_v(&t, set, n_dims, shape, name_fmt, ap);
    va_end(ap);
    if (st != VLM_OK) return st;
    vlmi_ref_weight_row(dst, t->data, t->dtype, 0, (size_t)t->n_elements);
    return VLM_OK;
}

// ---- GGUF ----

vlm_status vlmi_weights_gguf_find(const vlmi_tensor_info **out, const vlmi_gguf *g,
                                  const char *name, size_t n_dims, const size_t *shape) {
    const vlmi_tensor_info *t = vlmi_gguf_find_tensor(g, name);
    if (t == NULL)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor %s: missing", vlmi_gguf_path(g), name);
    bool same = t->n_dims == n_dims;
    for (size_t i = 0; same && i < n_dims; i++) same = t->shape[i] == (int64_t)shape[i];
    if (!same) {
        char have[128], want[128];
        format_shape(have, sizeof have, t->n_dims, t->shape, NULL);
        format_shape(want, sizeof want, n_dims, NULL, shape);
        return vlmi_fail(VLM_ERR_SHAPE, "%s: tensor %s: shape %s, the metadata expects %s",
                         vlmi_gguf_path(g), name, have, want);
    }
    if (vlmi_dequant_fn_for(t->dtype) == NULL)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: tensor %s: dtype %s is not supported",
                         vlmi_gguf_path(g), name, vlmi_dtype_name(t->dtype));
    *out = t;
    return VLM_OK;
}

vlm_status vlmi_weights_gguf_matrix(vlmi_matrix *out, const vlmi_gguf *g, size_t n_dims,
                                    const size_t *shape, const char *name) {
    const vlmi_tensor_info *t;
    vlm_status st = vlmi_weights_gguf_find(&t, g, name, n_dims, shape);
    size_t cols = 1;
    for (size_t i = 1; i < n_dims; i++) cols *= shape[i];
    if (st == VLM_OK)
        *out = (vlmi_matrix){.data = t->data, .dtype = t->dtype, .rows = shape[0], .cols = cols};
    return st;
}

vlm_status vlmi_weights_gguf_load_f32(float *dst, const vlmi_gguf *g, size_t n,
                                      const char *name) {
    const size_t shape[1] = {n};
    const vlmi_tensor_info *t;
    vlm_status st = vlmi_weights_gguf_find(&t, g, name, 1, shape);
    if (st != VLM_OK) return st;
    const vlmi_dtype_layout *layout = vlmi_dtype_layout_of(t->dtype);
    if (layout == NULL || n % layout->block_size != 0)
        return vlmi_fail(VLM_ERR_SHAPE, "%s: tensor %s: %zu elements do not fill %s blocks",
                         vlmi_gguf_path(g), name, n, vlmi_dtype_name(t->dtype));
    vlmi_dequant_fn_for(t->dtype)(dst, t->data, n);
    return VLM_OK;
}
