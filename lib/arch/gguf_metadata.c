/* GGUF metadata for the binders (see gguf_metadata.h). */
#include "arch/gguf_metadata.h"

#include <math.h>
#include <string.h>

vlm_status vlmi_gguf_meta_int32(const vlmi_gguf *g, const char *key, bool required, int64_t lo,
                                int64_t hi, int32_t def, int32_t *out) {
    *out = def;
    if (!required && vlmi_gguf_find_kv(g, key) == NULL) return VLM_OK;
    int64_t v;
    vlm_status st = vlmi_gguf_get_int(g, key, &v);
    if (st == VLM_OK && (v < lo || v > hi || v < INT32_MIN || v > INT32_MAX))
        st = vlmi_fail(VLM_ERR_FORMAT, "%s: %s is %lld (%lld .. %lld)", vlmi_gguf_path(g), key,
                       (long long)v, (long long)lo, (long long)hi);
    if (st == VLM_OK) *out = (int32_t)v;
    return st;
}

vlm_status vlmi_gguf_meta_positive(const vlmi_gguf *g, const char *key, bool required,
                                   double max, double def, double *out) {
    *out = def;
    if (!required && vlmi_gguf_find_kv(g, key) == NULL) return VLM_OK;
    vlm_status st = vlmi_gguf_get_float(g, key, out);
    if (st == VLM_OK && !(*out > 0.0 && *out <= max))
        st = vlmi_fail(VLM_ERR_FORMAT, "%s: %s is %g (must be in (0, %g])", vlmi_gguf_path(g),
                       key, *out, max);
    return st;
}

vlm_status vlmi_gguf_meta_token_id(const vlmi_gguf *g, const char *key, int64_t n_vocab,
                                   int64_t *out) {
    *out = -1;
    if (vlmi_gguf_find_kv(g, key) == NULL) return VLM_OK;
    vlm_status st = vlmi_gguf_get_int(g, key, out);
    if (st == VLM_OK && (*out < 0 || *out >= n_vocab))
        st = vlmi_fail(VLM_ERR_FORMAT, "%s: %s is %lld, outside the %lld-token vocabulary",
                       vlmi_gguf_path(g), key, (long long)*out, (long long)n_vocab);
    return st;
}

int64_t vlmi_gguf_meta_vocab_id(const vlmi_gguf *g, const char *text) {
    const vlmi_gguf_kv *tokens = vlmi_gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (tokens == NULL || tokens->value.type != VLMI_GGUF_ARRAY ||
        tokens->value.elem_type != VLMI_GGUF_STRING)
        return -1;
    size_t want = strlen(text);
    vlmi_gguf_cursor cursor = {0};
    vlmi_gguf_value e;
    for (uint64_t i = 0; vlmi_gguf_array_next(&tokens->value, &cursor, &e); i++) {
        const char *s;
        size_t len;
        if (vlmi_gguf_value_string(&e, &s, &len) && len == want && memcmp(s, text, len) == 0)
            return (int64_t)i;
    }
    return -1;
}

/* The vocabulary: the embedding's rows, which the tokenizer must match. */
vlm_status vlmi_gguf_meta_vocab_size(const vlmi_gguf *g, int32_t hidden, int32_t *out) {
    const char *file = vlmi_gguf_path(g);
    const vlmi_tensor_info *embd = vlmi_gguf_find_tensor(g, "token_embd.weight");
    if (embd == NULL)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tensor token_embd.weight: missing", file);
    if (embd->n_dims != 2 || embd->shape[0] < 1 || embd->shape[0] > INT32_MAX)
        return vlmi_fail(VLM_ERR_SHAPE, "%s: tensor token_embd.weight: %u dims, expected "
                         "(n_vocab, %d)", file, (unsigned)embd->n_dims, (int)hidden);
    *out = (int32_t)embd->shape[0];
    const vlmi_gguf_kv *tokens = vlmi_gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (tokens != NULL && tokens->value.type == VLMI_GGUF_ARRAY &&
        tokens->value.n_elems != (uint64_t)*out)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %llu tokens but "
                         "token_embd.weight has %d rows", file,
                         (unsigned long long)tokens->value.n_elems, (int)*out);
    return VLM_OK;
}

/* Three floats (image_mean / image_std); std must be positive. */
vlm_status vlmi_gguf_meta_triple(const vlmi_gguf *g, const char *key, bool positive, double *out) {
    const vlmi_gguf_kv *kv = vlmi_gguf_find_kv(g, key);
    if (kv == NULL)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s missing", vlmi_gguf_path(g), key);
    bool ok = kv->value.type == VLMI_GGUF_ARRAY && kv->value.n_elems == 3;
    vlmi_gguf_value e;
    for (uint64_t i = 0; ok && i < 3; i++)
        ok = vlmi_gguf_array_get(&kv->value, i, &e) && vlmi_gguf_value_float(&e, &out[i]) &&
             isfinite(out[i]) && (!positive || out[i] > 0.0);
    if (!ok)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s is not an array of 3 %snumbers",
                         vlmi_gguf_path(g), key, positive ? "positive " : "");
    return VLM_OK;
}
