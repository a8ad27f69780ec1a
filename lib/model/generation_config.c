/* generation_config.json -> vlmi_generation_config. */
#include "model/generation_config.h"

#include "io/json_util.h"

#include <string.h>

#define TRY(call)                                   \
    do {                                            \
        vlm_status st_ = (call);                    \
        if (st_ != VLM_OK) return st_;              \
    } while (0)

void vlmi_generation_config_init(vlmi_generation_config *c) {
    memset(c, 0, sizeof *c);
    /* transformers GenerationConfig.__init__ defaults */
    c->bos_token_id = -1;
    c->pad_token_id = -1;
    c->max_length = 20;
    c->temperature = 1.0;
    c->top_k = 50;
    c->top_p = 1.0;
    c->repetition_penalty = 1.0;
}

static vlm_status parse_root(const cJSON *root, const char *file, vlmi_generation_config *c) {
    TRY(vlmi_json_get_int(root, "bos_token_id", file, "", &c->bos_token_id, false));
    TRY(vlmi_json_get_int(root, "pad_token_id", file, "", &c->pad_token_id, false));
    size_t n_eos = 0;
    TRY(vlmi_json_get_int_list(root, "eos_token_id", file, "", c->eos_token_ids,
                               VLMI_GENERATION_MAX_EOS, &n_eos, true, false));
    c->n_eos_token_ids = (int32_t)n_eos;
    if (c->bos_token_id < -1 || c->pad_token_id < -1)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: bos_token_id and pad_token_id must not be "
                         "negative", file);
    for (size_t i = 0; i < n_eos; i++)
        if (c->eos_token_ids[i] < 0)
            return vlmi_fail(VLM_ERR_FORMAT, "%s: eos_token_id %lld is negative", file,
                             (long long)c->eos_token_ids[i]);

    TRY(vlmi_json_get_int(root, "max_length", file, "", &c->max_length, false));
    TRY(vlmi_json_get_int(root, "max_new_tokens", file, "", &c->max_new_tokens, false));
    if (c->max_length <= 0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: max_length must be positive, got %lld", file,
                         (long long)c->max_length);
    if (c->max_new_tokens < 0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: max_new_tokens must not be negative, got %lld",
                         file, (long long)c->max_new_tokens);
    TRY(vlmi_json_get_bool(root, "do_sample", file, "", &c->do_sample, false));
    TRY(vlmi_json_get_double(root, "temperature", file, "", &c->temperature, false));
    TRY(vlmi_json_get_int(root, "top_k", file, "", &c->top_k, false));
    TRY(vlmi_json_get_double(root, "top_p", file, "", &c->top_p, false));
    TRY(vlmi_json_get_double(root, "repetition_penalty", file, "", &c->repetition_penalty,
                             false));
    if (c->temperature < 0.0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: temperature must not be negative, got %g", file,
                         c->temperature);
    if (c->top_k < 0)
        return vlmi_fail(VLM_ERR_FORMAT, "%s: top_k must not be negative, got %lld", file,
                         (long long)c->top_k);
    if (!(c->top_p > 0.0 && c->top_p <= 1.0))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: top_p must be in (0, 1], got %g", file, c->top_p);
    if (!(c->repetition_penalty > 0.0))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: repetition_penalty must be positive, got %g",
                         file, c->repetition_penalty);
    return VLM_OK;
}

vlm_status vlmi_generation_config_parse(const char *json, size_t size, const char *file,
                                        vlmi_generation_config *out) {
    if (out == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "generation config: out is NULL");
    vlmi_generation_config_init(out);
    if (file == NULL) file = "generation_config.json";
    if (json == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: data is NULL", file);
    cJSON *root;
    TRY(vlmi_json_parse_object(json, size, file, &root));
    vlm_status st = parse_root(root, file, out);
    cJSON_Delete(root);
    if (st != VLM_OK) vlmi_generation_config_init(out);
    return st;
}
