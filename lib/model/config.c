/* config.json -> vlmi_model_config: lookup with the transformers class
 * defaults, then validation. */
#include "model/config.h"

#include "io/json_util.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

// ---- transformers class defaults ----

/* Defaults of a text configuration class, used for keys the file leaves out. */
typedef struct text_defaults {
    const char *model_type;
    int32_t vocab_size, hidden_size, intermediate_size, num_hidden_layers;
    int32_t num_attention_heads;
    int32_t num_key_value_heads;   /* 0: same as num_attention_heads */
    int32_t head_dim;              /* 0: hidden_size / num_attention_heads */
    double rms_norm_eps;
    int32_t max_position_embeddings;
    bool tie_word_embeddings;
    const char *hidden_act;
    double rope_theta;
    int32_t sliding_window;        /* 0: none */
    int32_t sliding_window_pattern; /* 0: n/a */
    double rope_local_base_freq;   /* 0: n/a */
    double query_pre_attn_scalar;  /* 0: n/a */
    bool use_sliding_window;       /* Qwen: sliding_window only counts when true */
    int32_t max_window_layers;     /* Qwen: layers from this index on slide */
} text_defaults;

static const text_defaults text_defaults_table[] = {
    /* transformers LlamaConfig.__init__ (the Idefics3/SmolVLM text model) */
    {"llama", 32000, 4096, 11008, 32, 32, 0, 0, 1e-6, 2048, false, "silu", 10000.0,
     0, 0, 0.0, 0.0, false, 0},
    /* transformers Gemma3TextConfig.__init__ (sliding_window_pattern from its
     * kwargs default, 6) */
    {"gemma3_text", 262208, 2304, 9216, 26, 8, 4, 256, 1e-6, 131072, true,
     "gelu_pytorch_tanh", 1000000.0, 4096, 6, 10000.0, 256.0, true, 0},
    /* transformers Qwen2_5_VLTextConfig.__init__ (rope_theta from its kwargs
     * default); older configs keep these at the top level of Qwen2_5_VLConfig */
    {"qwen2_5_vl_text", 152064, 8192, 29568, 80, 64, 8, 0, 1e-5, 32768, false, "silu",
     1000000.0, 4096, 0, 0.0, 0.0, false, 80},
};

/* Defaults of a vision configuration class. */
typedef struct vision_defaults {
    const char *model_type;
    int32_t hidden_size, intermediate_size, num_hidden_layers, num_attention_heads;
    int32_t num_channels, image_size, patch_size;
    double layer_norm_eps;
    const char *hidden_act;
    /* Qwen2.5-VL only (0 elsewhere) */
    int32_t spatial_merge_size, temporal_patch_size, window_size, out_hidden_size;
    int32_t tokens_per_second;
    int32_t n_fullatt;
    int32_t fullatt[4];
} vision_defaults;

static const vision_defaults vision_defaults_table[] = {
    /* transformers Idefics3VisionConfig.__init__ (SmolVLMVisionConfig has the
     * same values) */
    {"idefics3_vision", 1152, 3072, 12, 16, 3, 224, 32, 1e-6, "gelu_pytorch_tanh",
     0, 0, 0, 0, 0, 0, {0}},
    /* transformers SiglipVisionConfig.__init__ (the Gemma 3 vision tower) */
    {"siglip_vision_model", 768, 3072, 12, 12, 3, 224, 16, 1e-6, "gelu_pytorch_tanh",
     0, 0, 0, 0, 0, 0, {0}},
    /* transformers Qwen2_5_VLVisionConfig.__init__; layer_norm_eps is not a
     * key there: modeling_qwen2_5_vl hard-codes RMSNorm eps=1e-6 */
    {"qwen2_5_vl", 3584, 3420, 32, 16, 3, 0, 14, 1e-6, "silu", 2, 2, 112, 3584, 4, 4,
     {7, 15, 23, 31}},
};

/* Defaults of a top-level (multimodal) configuration class. */
typedef struct family_defaults {
    const char *model_type;
    const char *text_model_type;   /* text_config model_type when absent */
    const char *vision_model_type; /* row of vision_defaults_table */
    int64_t image_token_id, video_token_id, vision_start_token_id, vision_end_token_id;
    int64_t boi_token_id, eoi_token_id;
    int32_t scale_factor, mm_tokens_per_image;
    int64_t yes_token_id, no_token_id;
} family_defaults;

static const family_defaults family_defaults_table[] = {
    /* transformers Idefics3Config.__init__ */
    {"idefics3", "llama", "idefics3_vision", 128257, -1, -1, -1, -1, -1, 2, 0, -1, -1},
    /* transformers SmolVLMConfig.__init__ (generated from Idefics3's) */
    {"smolvlm", "llama", "idefics3_vision", 128257, -1, -1, -1, -1, -1, 2, 0, -1, -1},
    /* transformers Gemma3Config.__init__ */
    {"gemma3", "gemma3_text", "siglip_vision_model", 262144, -1, -1, -1, 255999, 256000, 0,
     256, -1, -1},
    /* transformers ShieldGemma2Config.__init__, and the Yes / No token ids
     * ShieldGemma2ForImageClassification falls back to */
    {"shieldgemma2", "gemma3_text", "siglip_vision_model", 262144, -1, -1, -1, 255999, 256000,
     0, 256, 10784, 3771},
    /* transformers Qwen2_5_VLConfig.__init__ */
    {"qwen2_5_vl", "qwen2_5_vl_text", "qwen2_5_vl", 151655, 151656, 151652, 151653, -1, -1,
     0, 0, -1, -1},
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static const family_defaults *find_family(const char *model_type) {
    for (size_t i = 0; i < COUNT_OF(family_defaults_table); i++)
        if (strcmp(family_defaults_table[i].model_type, model_type) == 0)
            return &family_defaults_table[i];
    return NULL;
}

static const text_defaults *find_text_defaults(const char *model_type) {
    /* "qwen2_5_vl" is the text model_type when the text fields sit at the top */
    if (strcmp(model_type, "qwen2_5_vl") == 0) model_type = "qwen2_5_vl_text";
    for (size_t i = 0; i < COUNT_OF(text_defaults_table); i++)
        if (strcmp(text_defaults_table[i].model_type, model_type) == 0)
            return &text_defaults_table[i];
    return NULL;
}

static const vision_defaults *find_vision_defaults(const char *model_type) {
    if (model_type == NULL) return NULL;
    for (size_t i = 0; i < COUNT_OF(vision_defaults_table); i++)
        if (strcmp(vision_defaults_table[i].model_type, model_type) == 0)
            return &vision_defaults_table[i];
    return NULL;
}

// ---- lookup across text_config and the top level ----

/* Where a group of fields is looked up: obj first, then fallback (the top
 * level, for text fields HF keeps there in older configs). */
typedef struct section {
    const char *file;
    const cJSON *obj;
    const char *prefix;
    const cJSON *fallback;
    const char *fallback_prefix;
} section;

/* The object holding key (and its prefix); the primary one when neither does,
 * so "missing" messages name the place the key belongs. */
static const cJSON *owner_of(const section *s, const char *key, const char **prefix) {
    if (vlmi_json_find(s->obj, key) != NULL || s->fallback == NULL ||
        vlmi_json_find(s->fallback, key) == NULL) {
        *prefix = s->prefix;
        return s->obj;
    }
    *prefix = s->fallback_prefix;
    return s->fallback;
}

static bool has_key(const section *s, const char *key) {
    return vlmi_json_find(s->obj, key) != NULL ||
           (s->fallback != NULL && vlmi_json_find(s->fallback, key) != NULL);
}

/* key, else alias (e.g. Qwen's "num_heads" for num_attention_heads). */
static const char *pick_key(const section *s, const char *key, const char *alias) {
    if (alias != NULL && !has_key(s, key) && has_key(s, alias)) return alias;
    return key;
}

static vlm_status get_i64(const section *s, const char *key, int64_t *out, bool required) {
    const char *prefix;
    const cJSON *owner = owner_of(s, key, &prefix);
    return vlmi_json_get_int(owner, key, s->file, prefix, out, required);
}

/* An int32 field; *out keeps its default when absent and not required. */
static vlm_status get_i32(const section *s, const char *key, int32_t *out, bool required) {
    const char *prefix;
    const cJSON *owner = owner_of(s, key, &prefix);
    int64_t v = *out;
    vlm_status st = vlmi_json_get_int(owner, key, s->file, prefix, &v, required);
    if (st != VLM_OK) return st;
    if (v < INT32_MIN || v > INT32_MAX) {
        char path[256];
        vlmi_json_path(path, sizeof path, prefix, key);
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s: %lld out of range", s->file, path,
                         (long long)v);
    }
    *out = (int32_t)v;
    return VLM_OK;
}

static vlm_status get_f64(const section *s, const char *key, double *out, bool required) {
    const char *prefix;
    const cJSON *owner = owner_of(s, key, &prefix);
    return vlmi_json_get_double(owner, key, s->file, prefix, out, required);
}

static vlm_status get_bool(const section *s, const char *key, bool *out, bool required) {
    const char *prefix;
    const cJSON *owner = owner_of(s, key, &prefix);
    return vlmi_json_get_bool(owner, key, s->file, prefix, out, required);
}

static vlm_status get_name(const section *s, const char *key, char *buf, bool required) {
    const char *prefix;
    const cJSON *owner = owner_of(s, key, &prefix);
    return vlmi_json_get_name(owner, key, s->file, prefix, buf, VLMI_CONFIG_NAME_MAX,
                              required);
}

static void set_name(char *buf, const char *value) {
    snprintf(buf, VLMI_CONFIG_NAME_MAX, "%s", value);
}

#define TRY(call)                                   \
    do {                                            \
        vlm_status st_ = (call);                    \
        if (st_ != VLM_OK) return st_;              \
    } while (0)

// ---- validation helpers ----

static vlm_status require_positive(const char *file, const char *prefix, const char *key,
                                   int64_t value) {
    if (value > 0) return VLM_OK;
    char path[256];
    vlmi_json_path(path, sizeof path, prefix, key);
    return vlmi_fail(VLM_ERR_FORMAT, "%s: %s must be positive, got %lld", file, path,
                     (long long)value);
}

static vlm_status require_positive_f(const char *file, const char *prefix, const char *key,
                                     double value) {
    if (value > 0.0) return VLM_OK;
    char path[256];
    vlmi_json_path(path, sizeof path, prefix, key);
    return vlmi_fail(VLM_ERR_FORMAT, "%s: %s must be positive, got %g", file, path, value);
}

static vlm_status require_divides(const char *file, const char *prefix, const char *key,
                                  int64_t divisor, const char *of_key, int64_t value) {
    if (divisor > 0 && value % divisor == 0) return VLM_OK;
    char path[256], of_path[256];
    vlmi_json_path(path, sizeof path, prefix, key);
    vlmi_json_path(of_path, sizeof of_path, prefix, of_key);
    return vlmi_fail(VLM_ERR_FORMAT, "%s: %s (%lld) does not divide %s (%lld)", file, path,
                     (long long)divisor, of_path, (long long)value);
}

/* A token id the config names must index the vocabulary (-1 = absent). */
static vlm_status require_token(const char *file, const char *key, int64_t id,
                                int32_t vocab_size) {
    if (id == -1 || (id >= 0 && id < vocab_size)) return VLM_OK;
    return vlmi_fail(VLM_ERR_FORMAT, "%s: %s %lld outside the vocabulary (vocab_size %d)", file,
                     key, (long long)id, vocab_size);
}

// ---- rope ----

/* rope_theta plus either rope_parameters (transformers 5; for Gemma 3 split
 * per layer type) or rope_scaling (transformers 4). */
static vlm_status parse_rope(const section *s, const text_defaults *defaults,
                             vlmi_text_config *text) {
    vlmi_rope_config *rope = &text->rope;
    rope->theta = defaults ? defaults->rope_theta : 0.0;
    set_name(rope->type, "default");
    rope->factor = 1.0;
    TRY(get_f64(s, "rope_theta", &rope->theta, defaults == NULL &&
                                                   !has_key(s, "rope_parameters")));

    const char *params_key = has_key(s, "rope_parameters") ? "rope_parameters" : "rope_scaling";
    const char *prefix;
    const cJSON *owner = owner_of(s, params_key, &prefix);
    const cJSON *params;
    TRY(vlmi_json_get_object(owner, params_key, s->file, prefix, &params, false));
    if (params == NULL) return VLM_OK;

    char params_prefix[128];
    vlmi_json_path(params_prefix, sizeof params_prefix, prefix, params_key);
    const cJSON *full = vlmi_json_find(params, "full_attention");
    if (full != NULL && cJSON_IsObject(full)) {
        const cJSON *sliding;
        char sliding_prefix[160];
        vlmi_json_path(sliding_prefix, sizeof sliding_prefix, params_prefix, "sliding_attention");
        TRY(vlmi_json_get_object(params, "sliding_attention", s->file, params_prefix, &sliding,
                                 false));
        TRY(vlmi_json_get_double(sliding, "rope_theta", s->file, sliding_prefix,
                                 &text->rope_local_base_freq, false));
        size_t n = strlen(params_prefix);
        snprintf(params_prefix + n, sizeof params_prefix - n, ".full_attention");
        params = full;
    }
    TRY(vlmi_json_get_double(params, "rope_theta", s->file, params_prefix, &rope->theta, false));
    const char *type_key = vlmi_json_find(params, "rope_type") ? "rope_type" : "type";
    TRY(vlmi_json_get_name(params, type_key, s->file, params_prefix, rope->type,
                           sizeof rope->type, false));
    TRY(vlmi_json_get_double(params, "factor", s->file, params_prefix, &rope->factor, false));
    TRY(vlmi_json_get_double(params, "low_freq_factor", s->file, params_prefix,
                             &rope->low_freq_factor, false));
    TRY(vlmi_json_get_double(params, "high_freq_factor", s->file, params_prefix,
                             &rope->high_freq_factor, false));
    int64_t original = 0;
    TRY(vlmi_json_get_int(params, "original_max_position_embeddings", s->file, params_prefix,
                          &original, false));
    if (original < 0 || original > INT32_MAX)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s.original_max_position_embeddings out of range",
                         s->file, params_prefix);
    rope->original_max_position_embeddings = (int32_t)original;

    int64_t section_values[VLMI_CONFIG_MAX_MROPE];
    size_t n_section = 0;
    TRY(vlmi_json_get_int_list(params, "mrope_section", s->file, params_prefix, section_values,
                               VLMI_CONFIG_MAX_MROPE, &n_section, false, false));
    for (size_t i = 0; i < n_section; i++) {
        if (section_values[i] <= 0 || section_values[i] > INT32_MAX)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: %s.mrope_section[%zu] must be positive",
                             s->file, params_prefix, i);
        rope->mrope_section[i] = (int32_t)section_values[i];
    }
    rope->n_mrope_section = (int32_t)n_section;
    if (!(rope->factor > 0.0))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s.factor must be positive, got %g", s->file,
                         params_prefix, rope->factor);
    return VLM_OK;
}

// ---- text model ----

/* Which decoder layers use a sliding window: layer_types when given, else the
 * family's rule (Gemma 3 every Nth layer global; Qwen from max_window_layers). */
static vlm_status parse_layer_types(const section *s, const text_defaults *defaults,
                                    const char *text_prefix, vlmi_text_config *text) {
    int32_t n = text->num_hidden_layers;
    text->layer_is_sliding = vlmi_calloc((size_t)n, 1);
    if (text->layer_is_sliding == NULL) return VLM_ERR_OUT_OF_MEMORY;

    const char *prefix;
    const cJSON *owner = owner_of(s, "layer_types", &prefix);
    const cJSON *types = vlmi_json_find(owner, "layer_types");
    if (types != NULL) {
        if (!cJSON_IsArray(types))
            return vlmi_json_fail_type(s->file, prefix, "layer_types", "a list of strings",
                                       types);
        int count = cJSON_GetArraySize(types);
        if (count != n)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: %s%slayer_types has %d entries, "
                             "num_hidden_layers is %d", s->file, prefix ? prefix : "",
                             prefix && prefix[0] ? "." : "", count, n);
        int i = 0;
        for (const cJSON *e = types->child; e != NULL; e = e->next, i++) {
            if (cJSON_IsString(e) && strcmp(e->valuestring, "sliding_attention") == 0)
                text->layer_is_sliding[i] = 1;
            else if (!cJSON_IsString(e) || strcmp(e->valuestring, "full_attention") != 0) {
                char key[64];
                snprintf(key, sizeof key, "layer_types[%d]", i);
                return vlmi_json_fail_type(s->file, prefix, key,
                                           "\"full_attention\" or \"sliding_attention\"", e);
            }
        }
        return VLM_OK;
    }

    if (defaults != NULL && defaults->sliding_window_pattern > 0) {
        int32_t pattern = defaults->sliding_window_pattern;
        TRY(get_i32(s, "sliding_window_pattern", &pattern, false));
        TRY(require_positive(s->file, text_prefix, "sliding_window_pattern", pattern));
        text->sliding_window_pattern = pattern;
        for (int32_t i = 0; i < n; i++) text->layer_is_sliding[i] = ((i + 1) % pattern) != 0;
    } else if (defaults != NULL && defaults->max_window_layers > 0) {
        int32_t max_window_layers = defaults->max_window_layers;
        TRY(get_i32(s, "max_window_layers", &max_window_layers, false));
        if (text->sliding_window > 0)
            for (int32_t i = 0; i < n; i++) text->layer_is_sliding[i] = i >= max_window_layers;
    }
    return VLM_OK;
}

static vlm_status parse_text(const section *s, const text_defaults *d, vlmi_text_config *text) {
    const char *prefix = s->prefix;
    const char *file = s->file;
    bool req = d == NULL;   /* no class defaults: the file must say */

    text->vocab_size = d ? d->vocab_size : 0;
    text->hidden_size = d ? d->hidden_size : 0;
    text->intermediate_size = d ? d->intermediate_size : 0;
    text->num_hidden_layers = d ? d->num_hidden_layers : 0;
    text->num_attention_heads = d ? d->num_attention_heads : 0;
    text->rms_norm_eps = d ? d->rms_norm_eps : 0.0;
    text->max_position_embeddings = d ? d->max_position_embeddings : 0;
    text->tie_word_embeddings = d ? d->tie_word_embeddings : false;
    set_name(text->hidden_act, d ? d->hidden_act : "");
    TRY(get_i32(s, "vocab_size", &text->vocab_size, req));
    TRY(get_i32(s, "hidden_size", &text->hidden_size, req));
    TRY(get_i32(s, "intermediate_size", &text->intermediate_size, req));
    TRY(get_i32(s, "num_hidden_layers", &text->num_hidden_layers, req));
    TRY(get_i32(s, "num_attention_heads", &text->num_attention_heads, req));
    text->num_key_value_heads = d && d->num_key_value_heads ? d->num_key_value_heads
                                                            : text->num_attention_heads;
    TRY(get_i32(s, "num_key_value_heads", &text->num_key_value_heads, false));
    TRY(get_f64(s, "rms_norm_eps", &text->rms_norm_eps, req));
    /* PretrainedConfig has no default here; 0 would mean "unknown", which a
     * KV cache cannot size from, so unknown families must state it */
    TRY(get_i32(s, "max_position_embeddings", &text->max_position_embeddings, req));
    TRY(get_bool(s, "tie_word_embeddings", &text->tie_word_embeddings, false));
    TRY(get_name(s, pick_key(s, "hidden_act", "hidden_activation"), text->hidden_act, false));

    /* validate sizes before deriving anything from them */
    TRY(require_positive(file, prefix, "vocab_size", text->vocab_size));
    TRY(require_positive(file, prefix, "hidden_size", text->hidden_size));
    TRY(require_positive(file, prefix, "intermediate_size", text->intermediate_size));
    TRY(require_positive(file, prefix, "num_hidden_layers", text->num_hidden_layers));
    if (text->num_hidden_layers > VLMI_CONFIG_MAX_LAYERS)
        return vlmi_fail(VLM_ERR_LIMIT, "%s: %s%snum_hidden_layers %d exceeds %d", file,
                         prefix, prefix[0] ? "." : "", text->num_hidden_layers,
                         VLMI_CONFIG_MAX_LAYERS);
    TRY(require_positive(file, prefix, "num_attention_heads", text->num_attention_heads));
    TRY(require_positive(file, prefix, "num_key_value_heads", text->num_key_value_heads));
    TRY(require_divides(file, prefix, "num_key_value_heads", text->num_key_value_heads,
                        "num_attention_heads", text->num_attention_heads));
    TRY(require_positive_f(file, prefix, "rms_norm_eps", text->rms_norm_eps));
    TRY(require_positive(file, prefix, "max_position_embeddings",
                         text->max_position_embeddings));

    /* head_dim: stated (Gemma's need not divide hidden_size), else derived */
    text->head_dim = d ? d->head_dim : 0;
    TRY(get_i32(s, "head_dim", &text->head_dim, false));
    if (text->head_dim == 0) {
        TRY(require_divides(file, prefix, "num_attention_heads", text->num_attention_heads,
                            "hidden_size", text->hidden_size));
        text->head_dim = text->hidden_size / text->num_attention_heads;
    }
    TRY(require_positive(file, prefix, "head_dim", text->head_dim));

    TRY(parse_rope(s, d, text));
    TRY(require_positive_f(file, prefix, "rope_theta", text->rope.theta));
    if (text->rope.n_mrope_section > 0) {
        int64_t sum = 0;
        for (int32_t i = 0; i < text->rope.n_mrope_section; i++) sum += text->rope.mrope_section[i];
        if (sum * 2 != text->head_dim)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: mrope_section sums to %lld pairs, "
                             "head_dim %d needs %d", file, (long long)sum, text->head_dim,
                             text->head_dim / 2);
    }

    /* sliding window */
    bool use_sliding = d ? d->use_sliding_window : true;
    TRY(get_bool(s, "use_sliding_window", &use_sliding, false));
    int32_t window = d ? d->sliding_window : 0;
    TRY(get_i32(s, "sliding_window", &window, false));
    text->sliding_window = use_sliding ? window : 0;
    if (text->sliding_window < 0)
        return require_positive(file, prefix, "sliding_window", text->sliding_window);
    TRY(parse_layer_types(s, d, prefix, text));
    for (int32_t i = 0; i < text->num_hidden_layers; i++)
        if (text->layer_is_sliding[i] && text->sliding_window <= 0)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: layer %d slides but %s%ssliding_window is "
                             "not set", file, i, prefix, prefix[0] ? "." : "");

    /* Gemma 3 */
    text->rope_local_base_freq = text->rope_local_base_freq > 0.0 ? text->rope_local_base_freq
                                 : d ? d->rope_local_base_freq : 0.0;
    TRY(get_f64(s, "rope_local_base_freq", &text->rope_local_base_freq, false));
    if (text->rope_local_base_freq < 0.0)
        return require_positive_f(file, prefix, "rope_local_base_freq",
                                  text->rope_local_base_freq);
    text->query_pre_attn_scalar = d ? d->query_pre_attn_scalar : 0.0;
    TRY(get_f64(s, "query_pre_attn_scalar", &text->query_pre_attn_scalar, false));
    if (text->query_pre_attn_scalar < 0.0)
        return require_positive_f(file, prefix, "query_pre_attn_scalar",
                                  text->query_pre_attn_scalar);
    TRY(get_f64(s, "final_logit_softcapping", &text->final_logit_softcapping, false));
    TRY(get_f64(s, "attn_logit_softcapping", &text->attn_logit_softcapping, false));
    if (text->final_logit_softcapping < 0.0 || text->attn_logit_softcapping < 0.0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: logit softcapping must not be negative", file);

    /* special tokens as stated (no class defaults: generation_config rules) */
    text->bos_token_id = -1;
    text->pad_token_id = -1;
    TRY(get_i64(s, "bos_token_id", &text->bos_token_id, false));
    TRY(get_i64(s, "pad_token_id", &text->pad_token_id, false));
    const char *eos_prefix;
    const cJSON *eos_owner = owner_of(s, "eos_token_id", &eos_prefix);
    size_t n_eos = 0;
    TRY(vlmi_json_get_int_list(eos_owner, "eos_token_id", file, eos_prefix, text->eos_token_ids,
                               VLMI_CONFIG_MAX_EOS, &n_eos, true, false));
    text->n_eos_token_ids = (int32_t)n_eos;
    TRY(require_token(file, "bos_token_id", text->bos_token_id, text->vocab_size));
    TRY(require_token(file, "pad_token_id", text->pad_token_id, text->vocab_size));
    for (size_t i = 0; i < n_eos; i++)
        TRY(require_token(file, "eos_token_id", text->eos_token_ids[i], text->vocab_size));
    return VLM_OK;
}

// ---- vision encoder ----

static vlm_status parse_vision(const char *file, const cJSON *obj, const vision_defaults *d,
                               vlmi_vision_config *vision) {
    const char *prefix = "vision_config";
    section s = {file, obj, prefix, NULL, NULL};
    bool req = d == NULL;
    vision->present = true;
    if (d != NULL) {
        set_name(vision->model_type, d->model_type);
        vision->hidden_size = d->hidden_size;
        vision->intermediate_size = d->intermediate_size;
        vision->num_hidden_layers = d->num_hidden_layers;
        vision->num_attention_heads = d->num_attention_heads;
        vision->num_channels = d->num_channels;
        vision->image_size = d->image_size;
        vision->patch_size = d->patch_size;
        vision->layer_norm_eps = d->layer_norm_eps;
        set_name(vision->hidden_act, d->hidden_act);
        vision->spatial_merge_size = d->spatial_merge_size;
        vision->temporal_patch_size = d->temporal_patch_size;
        vision->window_size = d->window_size;
        vision->out_hidden_size = d->out_hidden_size;
        vision->tokens_per_second = d->tokens_per_second;
        vision->n_fullatt_block_indexes = d->n_fullatt;
        for (int32_t i = 0; i < d->n_fullatt; i++) vision->fullatt_block_indexes[i] = d->fullatt[i];
    } else {
        vision->num_channels = 3;  /* RGB: what every processor here feeds */
    }
    TRY(get_name(&s, "model_type", vision->model_type, false));
    TRY(get_i32(&s, "hidden_size", &vision->hidden_size, req));
    TRY(get_i32(&s, "intermediate_size", &vision->intermediate_size, req));
    TRY(get_i32(&s, pick_key(&s, "num_hidden_layers", "depth"), &vision->num_hidden_layers, req));
    TRY(get_i32(&s, pick_key(&s, "num_attention_heads", "num_heads"),
                &vision->num_attention_heads, req));
    const char *channels_key = pick_key(&s, "num_channels", "in_channels");
    TRY(get_i32(&s, pick_key(&s, channels_key, "in_chans"), &vision->num_channels, false));
    TRY(get_i32(&s, "image_size", &vision->image_size, false));
    TRY(get_i32(&s, "patch_size", &vision->patch_size, req));
    TRY(get_f64(&s, "layer_norm_eps", &vision->layer_norm_eps, req));
    TRY(get_name(&s, "hidden_act", vision->hidden_act, false));
    TRY(get_i32(&s, "spatial_merge_size", &vision->spatial_merge_size, false));
    TRY(get_i32(&s, "temporal_patch_size", &vision->temporal_patch_size, false));
    TRY(get_i32(&s, "window_size", &vision->window_size, false));
    TRY(get_i32(&s, "out_hidden_size", &vision->out_hidden_size, false));
    TRY(get_i32(&s, "tokens_per_second", &vision->tokens_per_second, false));
    const cJSON *rope_params = NULL;
    char rope_prefix[64];
    vlmi_json_path(rope_prefix, sizeof rope_prefix, prefix, "rope_parameters");
    TRY(vlmi_json_get_object(obj, "rope_parameters", file, prefix, &rope_params, false));
    if (rope_params != NULL)
        TRY(vlmi_json_get_double(rope_params, "rope_theta", file, rope_prefix,
                                 &vision->rope_theta, false));
    if (vision->rope_theta < 0.0 || isinf(vision->rope_theta))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: %s.rope_theta must be positive", file,
                         rope_prefix);

    TRY(require_positive(file, prefix, "hidden_size", vision->hidden_size));
    TRY(require_positive(file, prefix, "intermediate_size", vision->intermediate_size));
    TRY(require_positive(file, prefix, "num_hidden_layers", vision->num_hidden_layers));
    if (vision->num_hidden_layers > VLMI_CONFIG_MAX_LAYERS)
        return vlmi_fail(VLM_ERR_LIMIT, "%s: vision_config.num_hidden_layers %d exceeds %d",
                         file, vision->num_hidden_layers, VLMI_CONFIG_MAX_LAYERS);
    TRY(require_positive(file, prefix, "num_attention_heads", vision->num_attention_heads));
    TRY(require_divides(file, prefix, "num_attention_heads", vision->num_attention_heads,
                        "hidden_size", vision->hidden_size));
    TRY(require_positive(file, prefix, "num_channels", vision->num_channels));
    TRY(require_positive(file, prefix, "patch_size", vision->patch_size));
    TRY(require_positive_f(file, prefix, "layer_norm_eps", vision->layer_norm_eps));
    if (vision->image_size != 0)
        TRY(require_divides(file, prefix, "patch_size", vision->patch_size, "image_size",
                            vision->image_size));
    if (vision->image_size < 0) return require_positive(file, prefix, "image_size", vision->image_size);
    if (vision->spatial_merge_size < 0 || vision->temporal_patch_size < 0 ||
        vision->window_size < 0 || vision->out_hidden_size < 0 || vision->tokens_per_second < 0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: vision_config: spatial_merge_size, "
                         "temporal_patch_size, window_size, out_hidden_size and "
                         "tokens_per_second must not be negative", file);

    const cJSON *blocks = vlmi_json_find(obj, "fullatt_block_indexes");
    if (blocks != NULL) {
        int64_t values[VLMI_CONFIG_MAX_FULLATT];
        size_t n = 0;
        TRY(vlmi_json_get_int_list(obj, "fullatt_block_indexes", file, prefix, values,
                                   VLMI_CONFIG_MAX_FULLATT, &n, false, false));
        for (size_t i = 0; i < n; i++) {
            if (values[i] < 0 || values[i] >= vision->num_hidden_layers)
                return vlmi_fail(VLM_ERR_FORMAT, "%s: vision_config.fullatt_block_indexes[%zu] "
                                 "= %lld is not a block (depth %d)", file, i,
                                 (long long)values[i], vision->num_hidden_layers);
            vision->fullatt_block_indexes[i] = (int32_t)values[i];
        }
        vision->n_fullatt_block_indexes = (int32_t)n;
    } else {
        for (int32_t i = 0; i < vision->n_fullatt_block_indexes; i++)
            if (vision->fullatt_block_indexes[i] >= vision->num_hidden_layers)
                return vlmi_fail(VLM_ERR_FORMAT, "%s: vision_config: default "
                                 "fullatt_block_indexes need depth > %d, depth is %d", file,
                                 vision->fullatt_block_indexes[i], vision->num_hidden_layers);
    }
    return VLM_OK;
}

// ---- the whole file ----

static vlm_status parse_root(const cJSON *root, const char *file, vlmi_model_config *config) {
    section top = {file, root, "", NULL, NULL};
    TRY(get_name(&top, "model_type", config->model_type, true));
    const family_defaults *family = find_family(config->model_type);

    const cJSON *architectures = vlmi_json_find(root, "architectures");
    if (architectures != NULL) {
        if (!cJSON_IsArray(architectures))
            return vlmi_json_fail_type(file, "", "architectures", "a list of strings",
                                       architectures);
        const cJSON *first = architectures->child;
        if (first != NULL) {
            if (!cJSON_IsString(first) || strlen(first->valuestring) >= VLMI_CONFIG_NAME_MAX)
                return vlmi_json_fail_type(file, "", "architectures[0]",
                                           "a class name string", first);
            set_name(config->architecture, first->valuestring);
        }
    }

    /* dtype: transformers 5 writes "dtype", 4.x "torch_dtype" */
    const char *dtype_key = has_key(&top, "dtype") ? "dtype" : "torch_dtype";
    TRY(get_name(&top, dtype_key, config->dtype, false));

    /* text model: text_config when present, else the top level */
    const cJSON *text_obj;
    TRY(vlmi_json_get_object(root, "text_config", file, "", &text_obj, false));
    section text = text_obj ? (section){file, text_obj, "text_config", root, ""}
                            : (section){file, root, "", NULL, NULL};
    if (text_obj != NULL) {
        TRY(vlmi_json_get_name(text_obj, "model_type", file, "text_config",
                               config->text.model_type, VLMI_CONFIG_NAME_MAX, false));
    }
    if (config->text.model_type[0] == '\0')
        set_name(config->text.model_type, family ? family->text_model_type : config->model_type);
    const text_defaults *td = find_text_defaults(config->text.model_type);
    TRY(parse_text(&text, td, &config->text));
    if (text_obj == NULL && td != NULL) set_name(config->text.model_type, td->model_type);

    /* vision encoder: absent vision_config means the family's default one */
    const cJSON *vision_obj;
    TRY(vlmi_json_get_object(root, "vision_config", file, "", &vision_obj, false));
    const vision_defaults *vd = find_vision_defaults(family ? family->vision_model_type : NULL);
    if (vision_obj != NULL || vd != NULL) TRY(parse_vision(file, vision_obj, vd, &config->vision));

    /* multimodal tokens and connector */
    config->image_token_id = family ? family->image_token_id : -1;
    config->video_token_id = family ? family->video_token_id : -1;
    config->vision_start_token_id = family ? family->vision_start_token_id : -1;
    config->vision_end_token_id = family ? family->vision_end_token_id : -1;
    config->boi_token_id = family ? family->boi_token_id : -1;
    config->eoi_token_id = family ? family->eoi_token_id : -1;
    config->scale_factor = family ? family->scale_factor : 0;
    config->mm_tokens_per_image = family ? family->mm_tokens_per_image : 0;
    config->yes_token_id = family ? family->yes_token_id : -1;
    config->no_token_id = family ? family->no_token_id : -1;
    TRY(get_i64(&top, pick_key(&top, "image_token_id", "image_token_index"),
                &config->image_token_id, false));
    TRY(get_i64(&top, "video_token_id", &config->video_token_id, false));
    TRY(get_i64(&top, "vision_start_token_id", &config->vision_start_token_id, false));
    TRY(get_i64(&top, "vision_end_token_id", &config->vision_end_token_id, false));
    TRY(get_i64(&top, pick_key(&top, "boi_token_index", "boi_token_id"),
                &config->boi_token_id, false));
    TRY(get_i64(&top, pick_key(&top, "eoi_token_index", "eoi_token_id"),
                &config->eoi_token_id, false));
    TRY(get_i32(&top, "scale_factor", &config->scale_factor, false));
    TRY(get_i32(&top, "mm_tokens_per_image", &config->mm_tokens_per_image, false));
    TRY(get_i64(&top, "yes_token_index", &config->yes_token_id, false));
    TRY(get_i64(&top, "no_token_index", &config->no_token_id, false));

    int32_t vocab = config->text.vocab_size;
    TRY(require_token(file, "image_token_id", config->image_token_id, vocab));
    TRY(require_token(file, "video_token_id", config->video_token_id, vocab));
    TRY(require_token(file, "vision_start_token_id", config->vision_start_token_id, vocab));
    TRY(require_token(file, "vision_end_token_id", config->vision_end_token_id, vocab));
    TRY(require_token(file, "boi_token_index", config->boi_token_id, vocab));
    TRY(require_token(file, "eoi_token_index", config->eoi_token_id, vocab));
    TRY(require_token(file, "yes_token_index", config->yes_token_id, vocab));
    TRY(require_token(file, "no_token_index", config->no_token_id, vocab));

    const vlmi_vision_config *vision = &config->vision;
    if (config->scale_factor != 0) {
        TRY(require_positive(file, "", "scale_factor", config->scale_factor));
        /* pixel shuffle folds scale x scale patches into one token */
        if (vision->present && vision->image_size > 0 &&
            (vision->image_size / vision->patch_size) % config->scale_factor != 0)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: scale_factor %d does not divide the %d "
                             "patches per side of vision_config", file, config->scale_factor,
                             vision->image_size / vision->patch_size);
    }
    if (config->mm_tokens_per_image != 0) {
        TRY(require_positive(file, "", "mm_tokens_per_image", config->mm_tokens_per_image));
        /* Gemma 3 average-pools the patch grid to a square of tokens */
        int32_t side = (int32_t)lround(sqrt((double)config->mm_tokens_per_image));
        if (side * side != config->mm_tokens_per_image)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: mm_tokens_per_image %d is not a square",
                             file, config->mm_tokens_per_image);
        if (vision->present && vision->image_size > 0 &&
            (vision->image_size / vision->patch_size) % side != 0)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: mm_tokens_per_image %d does not pool the "
                             "%d patches per side of vision_config", file,
                             config->mm_tokens_per_image, vision->image_size / vision->patch_size);
    }
    if (vision->present && vision->out_hidden_size != 0 &&
        vision->out_hidden_size != config->text.hidden_size)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: vision_config.out_hidden_size %d differs from "
                         "the text hidden_size %d", file, vision->out_hidden_size,
                         config->text.hidden_size);
    return VLM_OK;
}

vlm_status vlmi_model_config_parse(const char *json, size_t size, const char *file,
                                   vlmi_model_config *out) {
    if (out == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "config parse: out is NULL");
    memset(out, 0, sizeof *out);
    if (file == NULL) file = "config.json";
    if (json == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: data is NULL", file);
    cJSON *root;
    vlm_status st = vlmi_json_parse_object(json, size, file, &root);
    if (st != VLM_OK) return st;
    st = parse_root(root, file, out);
    cJSON_Delete(root);
    if (st != VLM_OK) vlmi_model_config_free(out);
    return st;
}

void vlmi_model_config_free(vlmi_model_config *config) {
    if (config == NULL) return;
    free(config->text.layer_is_sliding);
    memset(config, 0, sizeof *config);
}
