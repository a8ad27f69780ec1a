/* vlm_model: loading a hub directory or a GGUF file, and what can be asked of
 * a loaded model. Architecture-specific binding happens in lib/arch/. */
#include "model.h"
#include "io/file.h"
#include "model_gguf_hub.h"
#include "text/tokenizer-impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double vlmi_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void vlm_model_params_init(vlm_model_params *params, size_t struct_size) {
    vlm_model_params defaults = { .struct_size = sizeof defaults,
                                  .image_cache_bytes = (uint64_t)64 << 20 };
    vlmi_params_defaults(params, struct_size, &defaults, sizeof defaults);
}

void vlm_model_free(vlm_model *model) {
    if (model == NULL) return;
    vlmi_image_cache_free(model->image_cache);
    vlmi_idefics3_free(&model->idefics3);
    vlmi_gemma3_free(&model->gemma3);
    vlmi_qwen2_5_vl_free(&model->qwen2_5_vl);
    free(model->tensors);
    vlm_tokenizer_free(model->tokenizer);
    vlmi_gguf_close(model->mmproj);
    vlmi_gguf_close(model->gguf);
    vlmi_safetensors_set_close(model->weights);
    if (model->has_config) vlmi_hub_config_free(&model->config);
    free(model->architecture);
    free(model->path);
    free(model);
}

static vlm_status report_progress(const vlm_model_params *p, float progress) {
    if (p->progress != NULL && !p->progress(progress, p->progress_user_data))
        return vlmi_fail(VLM_ERR_CANCELLED, "vlm_model_load: cancelled by the progress callback");
    return VLM_OK;
}

/* A hub directory, or the same in one GGUF file (model_gguf_hub.h): the
 * configs, the weights as a safetensors set, the tokenizer.json. */
static vlm_status load_hub(vlm_model *m, const vlm_model_params *p, bool from_gguf) {
    vlm_status st;
    if (from_gguf) {
        if (p->mmproj_path != NULL)
            return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_model_load: mmproj_path is set but %s "
                             "holds a whole hub directory (vision tower included)", m->path);
        if ((st = vlmi_gguf_open(m->path, &m->gguf)) != VLM_OK ||
            (st = vlmi_gguf_hub_config(m->gguf, &m->config)) != VLM_OK)
            return st;
    } else if ((st = vlmi_hub_config_load(m->path, &m->config)) != VLM_OK) {
        return st;
    }
    m->has_config = true;
    const vlmi_model_config *c = &m->config.model;
    m->architecture = vlmi_strdup(c->architecture[0] ? c->architecture : c->model_type);
    if (m->architecture == NULL) return VLM_ERR_OUT_OF_MEMORY;
    /* an architecture no family implements fails before the weights are opened */
    if ((st = vlmi_arch_lookup(m->architecture, &m->family)) != VLM_OK)
        return vlmi_fail_prefix(st, m->path);
    if ((st = report_progress(p, 0.1f)) != VLM_OK) return st;

    st = from_gguf ? vlmi_gguf_hub_weights(m->gguf, &m->weights)
                   : vlmi_safetensors_set_open(m->path, &m->weights);
    if (st != VLM_OK) return st;
    m->n_tensors = vlmi_safetensors_set_n_tensors(m->weights);
    m->tensors = vlmi_calloc(m->n_tensors, sizeof *m->tensors);
    if (m->tensors == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < m->n_tensors; i++)
        m->tensors[i] = vlmi_safetensors_set_tensor(m->weights, i);
    if ((st = report_progress(p, 0.5f)) != VLM_OK) return st;

    /* binding checks every tensor's name and shape against the config */
    if (m->family == VLMI_FAMILY_IDEFICS3 &&
        (st = vlmi_idefics3_bind(&m->idefics3, c, m->weights)) != VLM_OK)
        return vlmi_fail_prefix(st, m->path);
    if (m->family == VLMI_FAMILY_GEMMA3 &&
        (st = vlmi_gemma3_bind(&m->gemma3, c, m->weights)) != VLM_OK)
        return vlmi_fail_prefix(st, m->path);
    if (m->family == VLMI_FAMILY_QWEN2_5_VL &&
        (st = vlmi_qwen2_5_vl_bind(&m->qwen2_5_vl, c, m->weights)) != VLM_OK)
        return vlmi_fail_prefix(st, m->path);
    if ((st = report_progress(p, 0.6f)) != VLM_OK) return st;

    if (from_gguf) return vlmi_gguf_hub_tokenizer(m->gguf, &m->tokenizer);
    char *tokenizer_path = vlmi_path_join(m->path, "tokenizer.json");
    if (tokenizer_path == NULL) return VLM_ERR_OUT_OF_MEMORY;
    if (vlmi_is_regular_file(tokenizer_path)) st = vlm_tokenizer_load(tokenizer_path, &m->tokenizer);
    free(tokenizer_path);
    return st;
}

/* A copy of the string value of key, or NULL when absent (*out NULL too). */
static vlm_status gguf_string_copy(const vlmi_gguf *g, const char *key, char **out) {
    *out = NULL;
    if (vlmi_gguf_find_kv(g, key) == NULL) return VLM_OK;
    const char *s;
    size_t len;
    vlm_status st = vlmi_gguf_get_string(g, key, &s, &len);
    if (st != VLM_OK) return st;
    if (memchr(s, '\0', len) != NULL || vlmi_utf8_invalid_offset(s, len) != SIZE_MAX)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s is not UTF-8 text", vlmi_gguf_path(g), key);
    return (*out = vlmi_strndup(s, len)) != NULL ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
}

/* The token string of the id stored at key (tokenizer.ggml.bos_token_id ...),
 * or NULL when either is absent. */
static vlm_status gguf_token_copy(const vlmi_gguf *g, const char *key, char **out) {
    *out = NULL;
    const vlmi_gguf_kv *tokens = vlmi_gguf_find_kv(g, "tokenizer.ggml.tokens");
    int64_t id;
    vlmi_gguf_value e;
    const char *s;
    size_t len;
    if (vlmi_gguf_find_kv(g, key) == NULL || tokens == NULL) return VLM_OK;
    vlm_status st = vlmi_gguf_get_int(g, key, &id);
    if (st != VLM_OK) return st;
    if (id < 0 || tokens->value.type != VLMI_GGUF_ARRAY ||
        !vlmi_gguf_array_get(&tokens->value, (uint64_t)id, &e) ||
        !vlmi_gguf_value_string(&e, &s, &len))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s is %lld, not a token of tokenizer.ggml.tokens",
                         vlmi_gguf_path(g), key, (long long)id);
    return (*out = vlmi_strndup(s, len)) != NULL ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
}

static vlm_status gguf_flag(const vlmi_gguf *g, const char *key, int *out) {
    bool b;
    if (vlmi_gguf_find_kv(g, key) == NULL) return VLM_OK;
    vlm_status st = vlmi_gguf_get_bool(g, key, &b);
    if (st == VLM_OK) *out = b;
    return st;
}

/* What a tokenizer_config.json would say, from the GGUF's tokenizer keys:
 * the special tokens' strings, add_bos/eos_token (a "llama" tokenizer adds
 * bos unless the file says otherwise, as llama.cpp and transformers do) and
 * the chat template (tokenizer.chat_template). */
static vlm_status gguf_tokenizer_config(vlmi_tokenizer_config *c, const vlmi_gguf *g) {
    const char *model;
    size_t len;
    c->model_max_length = INT64_MAX;
    if (vlmi_gguf_find_kv(g, "tokenizer.ggml.model") != NULL &&
        vlmi_gguf_get_string(g, "tokenizer.ggml.model", &model, &len) == VLM_OK && len == 5 &&
        memcmp(model, "llama", 5) == 0)
        c->add_bos_token = 1;
    vlm_status st;
    if ((st = gguf_token_copy(g, "tokenizer.ggml.bos_token_id", &c->bos_token)) != VLM_OK ||
        (st = gguf_token_copy(g, "tokenizer.ggml.eos_token_id", &c->eos_token)) != VLM_OK ||
        (st = gguf_token_copy(g, "tokenizer.ggml.padding_token_id", &c->pad_token)) != VLM_OK ||
        (st = gguf_token_copy(g, "tokenizer.ggml.unknown_token_id", &c->unk_token)) != VLM_OK ||
        (st = gguf_flag(g, "tokenizer.ggml.add_bos_token", &c->add_bos_token)) != VLM_OK ||
        (st = gguf_flag(g, "tokenizer.ggml.add_eos_token", &c->add_eos_token)) != VLM_OK ||
        (st = gguf_string_copy(g, "tokenizer.chat_template", &c->chat_template)) != VLM_OK)
        return st;
    if (c->chat_template != NULL)
        snprintf(c->chat_template_source, sizeof c->chat_template_source, "tokenizer.chat_template");
    return VLM_OK;
}

/* Qwen2.5-VL's "qwen2vl" text GGUF: config, tokenizer config, decoder. */
static vlm_status bind_qwen2_5_vl_gguf(vlm_model *m) {
    vlmi_hub_config_free(&m->config);
    m->has_config = true;
    vlm_status st = vlmi_qwen2_5_vl_gguf_config(&m->config.model, m->gguf);
    if (st == VLM_OK) st = gguf_tokenizer_config(&m->config.tokenizer, m->gguf);
    if (st != VLM_OK) return st;
    m->config.has_tokenizer = true;
    return vlmi_qwen2_5_vl_bind_gguf(&m->qwen2_5_vl, &m->config.model, m->gguf);
}

/* llama.cpp's multimodal projector GGUF beside a text GGUF (mtmd's
 * --mmproj): the vision tower and projector of the text model's family. */
static vlm_status load_mmproj(vlm_model *m, const char *path) {
    if (m->family == VLMI_FAMILY_QWEN2_5_VL) {
        vlm_status st = vlmi_gguf_open(path, &m->mmproj);
        return st == VLM_OK ? vlmi_qwen2_5_vl_bind_mmproj(&m->qwen2_5_vl, &m->config, m->mmproj,
                                                          m->gguf)
                            : st;
    }
    if (m->family != VLMI_FAMILY_GEMMA3)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "%s: a multimodal projector file (%s) goes with a "
                         "Gemma 3 or Qwen2.5-VL text model, not general.architecture '%s'",
                         m->path, path, m->architecture);
    vlm_status st = vlmi_gguf_open(path, &m->mmproj);
    if (st == VLM_OK) st = vlmi_gemma3_bind_mmproj(&m->gemma3, &m->config, m->mmproj, m->gguf);
    if (st == VLM_OK) {
        /* what a Gemma3ForConditionalGeneration hub directory declares */
        snprintf(m->config.model.architecture, sizeof m->config.model.architecture,
                 "Gemma3ForConditionalGeneration");
        snprintf(m->config.model.model_type, sizeof m->config.model.model_type, "gemma3");
    }
    return st;
}

/* A GGUF file: its metadata and tensors; the tokenizer when tokenizer.ggml.*
 * describes one; for a known architecture the config (into m->config, as a
 * hub directory's files would give it) and the bound weights. */
static vlm_status load_gguf(vlm_model *m, const vlm_model_params *p) {
    vlm_status st = vlmi_gguf_open(m->path, &m->gguf);
    if (st != VLM_OK) return st;
    const char *arch;
    size_t arch_len;
    if ((st = vlmi_gguf_get_string(m->gguf, "general.architecture", &arch, &arch_len)) != VLM_OK)
        return st;
    if ((m->architecture = vlmi_strndup(arch, arch_len)) == NULL) return VLM_ERR_OUT_OF_MEMORY;
    m->n_tensors = vlmi_gguf_n_tensors(m->gguf);
    m->tensors = vlmi_calloc(m->n_tensors, sizeof *m->tensors);
    if (m->tensors == NULL) return VLM_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < m->n_tensors; i++) m->tensors[i] = vlmi_gguf_tensor(m->gguf, i);
    m->family = vlmi_arch_from_gguf(m->architecture);
    if ((st = report_progress(p, 0.1f)) != VLM_OK) return st;

    if (m->family == VLMI_FAMILY_GEMMA3) {
        vlmi_hub_config_free(&m->config); /* the empty config's defaults */
        m->has_config = true;
        if ((st = vlmi_gemma3_gguf_config(&m->config.model, m->gguf)) != VLM_OK ||
            (st = gguf_tokenizer_config(&m->config.tokenizer, m->gguf)) != VLM_OK)
            return st;
        m->config.has_tokenizer = true;
        if ((st = vlmi_gemma3_bind_gguf(&m->gemma3, &m->config.model, m->gguf)) != VLM_OK)
            return st;
    }
    if (m->family == VLMI_FAMILY_QWEN2_5_VL && (st = bind_qwen2_5_vl_gguf(m)) != VLM_OK)
        return st;
    if ((st = report_progress(p, 0.5f)) != VLM_OK) return st;

    if (vlmi_gguf_find_kv(m->gguf, "tokenizer.ggml.model") != NULL &&
        (st = vlmi_tokenizer_load_gguf(m->gguf, &m->tokenizer)) != VLM_OK)
        return st;
    return p->mmproj_path != NULL ? load_mmproj(m, p->mmproj_path) : VLM_OK;
}

vlm_status vlm_model_load(const char *path, const vlm_model_params *params, vlm_model **out) {
    vlmi_clear_error();
    if (out != NULL) *out = NULL;
    if (path == NULL || out == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_model_load: %s is NULL",
                         path == NULL ? "path" : "out");
    if (params != NULL && params->struct_size < sizeof(size_t))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT,
                         "vlm_model_load: params->struct_size is %zu (call vlm_model_params_init)",
                         params->struct_size);
    vlm_model_params p;
    VLMI_READ_PARAMS(p, params, vlm_model_params_init);
    if (p.n_threads < 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_model_load: n_threads is %d", p.n_threads);

    if (p.mmproj_path != NULL && vlmi_is_directory(path))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_model_load: mmproj_path is set but %s is "
                         "a hub directory (the projector file goes with a GGUF model)", path);

    vlm_model *m = vlmi_calloc(1, sizeof *m);
    if (m == NULL) return VLM_ERR_OUT_OF_MEMORY;
    if ((m->path = vlmi_strdup(path)) == NULL) { free(m); return VLM_ERR_OUT_OF_MEMORY; }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    m->n_threads = p.n_threads > 0 ? p.n_threads : cores > 0 ? (int32_t)cores : 1;

    double start_ms = vlmi_now_ms();
    vlm_status st = vlmi_image_cache_create(p.image_cache_bytes, &m->image_cache);
    if (st == VLM_OK) st = report_progress(&p, 0.0f);
    if (st == VLM_OK) {
        if (vlmi_is_directory(path)) st = load_hub(m, &p, false);
        else if (vlmi_is_regular_file(path) && vlmi_gguf_hub_detect(path)) st = load_hub(m, &p, true);
        else if (vlmi_is_regular_file(path)) st = load_gguf(m, &p);
        else st = vlmi_fail(VLM_ERR_IO, "%s: no such model directory or GGUF file", path);
    }
    if (st == VLM_OK) st = report_progress(&p, 1.0f);
    if (st != VLM_OK) { vlm_model_free(m); return st; }
    m->load_ms = vlmi_now_ms() - start_ms;
    *out = m;
    return VLM_OK;
}

const char *vlm_model_architecture(const vlm_model *model) {
    return model != NULL && model->architecture != NULL ? model->architecture : "";
}

const vlm_tokenizer *vlm_model_tokenizer(const vlm_model *model) {
    return model != NULL ? model->tokenizer : NULL;
}

size_t vlm_model_n_tensors(const vlm_model *model) {
    return model != NULL ? model->n_tensors : 0;
}

vlm_status vlm_model_tensor_info(const vlm_model *model, size_t index, vlm_tensor_info *info) {
    vlmi_clear_error();
    if (model == NULL || info == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_model_tensor_info: %s is NULL",
                         model == NULL ? "model" : "info");
    if (index >= model->n_tensors)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_model_tensor_info: index %zu >= %zu tensors",
                         index, model->n_tensors);
    const vlmi_tensor_info *t = model->tensors[index];
    vlm_tensor_info ours = {
        .struct_size = sizeof ours, .name = t->name, .dtype = t->dtype, .n_dims = t->n_dims,
        .n_bytes = t->n_bytes,
    };
    memcpy(ours.shape, t->shape, sizeof ours.shape);
    if (!vlmi_write_out_struct(info, &ours, sizeof ours))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_model_tensor_info: info->struct_size is %zu",
                         info->struct_size);
    return VLM_OK;
}
