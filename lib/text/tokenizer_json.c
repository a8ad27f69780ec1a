/* Typed reads of tokenizer.json fields: every wrong type is VLM_ERR_FORMAT
 * naming the component and field, every unknown option VLM_ERR_UNSUPPORTED. */
#include "text/tokenizer-impl.h"

#include <math.h>
#include <string.h>

vlm_status vlmi_json_bool(const cJSON *obj, const char *key, const char *what,
                          bool def, bool *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL || cJSON_IsNull(v)) { *out = def; return VLM_OK; }
    if (!cJSON_IsBool(v))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.%s must be true or false", what, key);
    *out = cJSON_IsTrue(v);
    return VLM_OK;
}

vlm_status vlmi_json_string(const cJSON *obj, const char *key, const char *what,
                            bool required, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (v == NULL || cJSON_IsNull(v)) {
        if (required)
            return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.%s missing", what, key);
        return VLM_OK;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.%s must be a string", what, key);
    *out = v->valuestring;
    return VLM_OK;
}

vlm_status vlmi_json_uint(const cJSON *obj, const char *key, const char *what,
                          bool required, uint64_t max, uint64_t def, uint64_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = def;
    if (v == NULL || cJSON_IsNull(v)) {
        if (required)
            return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.%s missing", what, key);
        return VLM_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
    if (!cJSON_IsNumber(v) || !(d >= 0.0) || d > (double)max || floor(d) != d)
        return vlmi_fail(VLM_ERR_FORMAT,
                         "tokenizer.json: %s.%s must be an integer in [0, %llu]", what, key,
                         (unsigned long long)max);
    *out = (uint64_t)d;
    return VLM_OK;
}

vlm_status vlmi_json_type(const cJSON *obj, const char *what, const char **out) {
    if (!cJSON_IsObject(obj))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s must be an object", what);
    return vlmi_json_string(obj, "type", what, true, out);
}

vlm_status vlmi_json_check_keys(const cJSON *obj, const char *what,
                                const char *const *known) {
    for (const cJSON *item = obj->child; item != NULL; item = item->next) {
        bool found = false;
        for (const char *const *k = known; *k != NULL && !found; k++)
            found = item->string != NULL && strcmp(item->string, *k) == 0;
        if (!found)
            return vlmi_fail(VLM_ERR_UNSUPPORTED,
                             "tokenizer.json: %s option '%s' is not supported", what,
                             item->string ? item->string : "?");
    }
    return VLM_OK;
}
