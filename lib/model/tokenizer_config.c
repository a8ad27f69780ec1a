/* tokenizer_config.json and chat template files -> vlmi_tokenizer_config. */
#include "model/tokenizer_config.h"

#include "io/json_util.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define TRY(call)                                   \
    do {                                            \
        vlm_status st_ = (call);                    \
        if (st_ != VLM_OK) return st_;              \
    } while (0)

/* 2^63 as a double: model_max_length at or above it means "no limit". */
#define INT64_LIMIT_AS_DOUBLE 9223372036854775808.0

static void init(vlmi_tokenizer_config *c) {
    memset(c, 0, sizeof *c);
    c->add_bos_token = -1;
    c->add_eos_token = -1;
    c->model_max_length = INT64_MAX;
}

static void free_templates(vlmi_tokenizer_config *c) {
    free(c->chat_template);
    for (size_t i = 0; i < c->n_chat_templates; i++) {
        free(c->chat_templates[i].name);
        free(c->chat_templates[i].text);
    }
    free(c->chat_templates);
    c->chat_template = NULL;
    c->chat_templates = NULL;
    c->n_chat_templates = 0;
    c->chat_template_source[0] = '\0';
}

void vlmi_tokenizer_config_free(vlmi_tokenizer_config *c) {
    if (c == NULL) return;
    free(c->bos_token);
    free(c->eos_token);
    free(c->pad_token);
    free(c->unk_token);
    free_templates(c);
    init(c);
}

// ---- special tokens ----

/* A token given as a string or as an AddedToken object {"content": ...}. */
static vlm_status get_token(const cJSON *root, const char *key, const char *file, char **out) {
    const cJSON *item = vlmi_json_find(root, key);
    if (item == NULL) return VLM_OK;
    if (cJSON_IsObject(item)) return vlmi_json_get_string(item, "content", file, key, out, true);
    if (!cJSON_IsString(item))
        return vlmi_json_fail_type(file, "", key, "a string or an AddedToken object", item);
    return vlmi_json_get_string(root, key, file, "", out, true);
}

// ---- chat template values ----

/* Fills templates of *c from a chat_template value (string or list of named
 * templates). Builds into a scratch struct so a failure leaves *c intact. */
static vlm_status set_template_value(const cJSON *item, const char *file, const char *key,
                                     vlmi_tokenizer_config *c) {
    vlmi_tokenizer_config t;
    init(&t);
    if (cJSON_IsString(item)) {
        t.chat_template = vlmi_strdup(item->valuestring);
        if (t.chat_template == NULL) return VLM_ERR_OUT_OF_MEMORY;
    } else if (cJSON_IsArray(item)) {
        size_t n = (size_t)cJSON_GetArraySize(item);
        t.chat_templates = vlmi_calloc(n ? n : 1, sizeof *t.chat_templates);
        if (t.chat_templates == NULL) return VLM_ERR_OUT_OF_MEMORY;
        vlm_status st = VLM_OK;
        size_t i = 0;
        for (const cJSON *e = item->child; e != NULL && st == VLM_OK; e = e->next, i++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%s[%zu]", key, i);
            if (!cJSON_IsObject(e)) {
                st = vlmi_json_fail_type(file, "", prefix, "an object {name, template}", e);
                break;
            }
            t.n_chat_templates = i + 1;
            st = vlmi_json_get_string(e, "name", file, prefix, &t.chat_templates[i].name, true);
            if (st == VLM_OK)
                st = vlmi_json_get_string(e, "template", file, prefix,
                                          &t.chat_templates[i].text, true);
        }
        /* like the dict HF builds from the list: the last "default" wins */
        for (size_t k = 0; st == VLM_OK && k < t.n_chat_templates; k++)
            if (strcmp(t.chat_templates[k].name, "default") == 0) {
                free(t.chat_template);
                t.chat_template = vlmi_strdup(t.chat_templates[k].text);
                if (t.chat_template == NULL) st = VLM_ERR_OUT_OF_MEMORY;
            }
        if (st != VLM_OK) { free_templates(&t); return st; }
    } else {
        return vlmi_json_fail_type(file, "", key, "a string or a list of named templates", item);
    }
    free_templates(c);
    c->chat_template = t.chat_template;
    c->chat_templates = t.chat_templates;
    c->n_chat_templates = t.n_chat_templates;
    const char *base = strrchr(file, '/');
    snprintf(c->chat_template_source, sizeof c->chat_template_source, "%s", base ? base + 1 : file);
    return VLM_OK;
}

// ---- tokenizer_config.json ----

static vlm_status parse_root(const cJSON *root, const char *file, vlmi_tokenizer_config *c) {
    TRY(get_token(root, "bos_token", file, &c->bos_token));
    TRY(get_token(root, "eos_token", file, &c->eos_token));
    TRY(get_token(root, "pad_token", file, &c->pad_token));
    TRY(get_token(root, "unk_token", file, &c->unk_token));
    bool flag;
    if (vlmi_json_find(root, "add_bos_token") != NULL) {
        TRY(vlmi_json_get_bool(root, "add_bos_token", file, "", &flag, true));
        c->add_bos_token = flag;
    }
    if (vlmi_json_find(root, "add_eos_token") != NULL) {
        TRY(vlmi_json_get_bool(root, "add_eos_token", file, "", &flag, true));
        c->add_eos_token = flag;
    }
    double max_length = 0.0;
    if (vlmi_json_find(root, "model_max_length") != NULL) {
        TRY(vlmi_json_get_double(root, "model_max_length", file, "", &max_length, true));
        if (!(max_length > 0.0))
            return vlmi_fail(VLM_ERR_FORMAT, "%s: model_max_length must be positive, got %g",
                             file, max_length);
        c->model_max_length = max_length >= INT64_LIMIT_AS_DOUBLE ? INT64_MAX
                                                                   : (int64_t)max_length;
    }
    TRY(vlmi_json_get_name(root, "tokenizer_class", file, "", c->tokenizer_class,
                           sizeof c->tokenizer_class, false));
    const cJSON *template_item = vlmi_json_find(root, "chat_template");
    if (template_item != NULL) TRY(set_template_value(template_item, file, "chat_template", c));
    return VLM_OK;
}

vlm_status vlmi_tokenizer_config_parse(const char *json, size_t size, const char *file,
                                       vlmi_tokenizer_config *out) {
    if (out == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "tokenizer config: out is NULL");
    init(out);
    if (file == NULL) file = "tokenizer_config.json";
    if (json == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: data is NULL", file);
    cJSON *root;
    TRY(vlmi_json_parse_object(json, size, file, &root));
    vlm_status st = parse_root(root, file, out);
    cJSON_Delete(root);
    if (st != VLM_OK) vlmi_tokenizer_config_free(out);
    return st;
}

// ---- chat_template.json / chat_template.jinja ----

vlm_status vlmi_chat_template_parse_json(const char *json, size_t size, const char *file,
                                         vlmi_tokenizer_config *config) {
    if (config == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "chat template: config is NULL");
    if (file == NULL) file = "chat_template.json";
    if (json == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: data is NULL", file);
    cJSON *root;
    TRY(vlmi_json_parse_object(json, size, file, &root));
    const cJSON *item = vlmi_json_find(root, "chat_template");
    vlm_status st = item == NULL ? vlmi_json_fail_missing(file, "", "chat_template")
                                 : set_template_value(item, file, "chat_template", config);
    cJSON_Delete(root);
    return st;
}

vlm_status vlmi_chat_template_set_jinja(const char *text, size_t size, const char *file,
                                        vlmi_tokenizer_config *config) {
    if (config == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "chat template: config is NULL");
    if (file == NULL) file = "chat_template.jinja";
    if (text == NULL && size != 0)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "%s: text is NULL", file);
    if (vlmi_utf8_valid_prefix(text, size) != size || (size && memchr(text, '\0', size)))
        return vlmi_fail(VLM_ERR_FORMAT, "%s: not UTF-8 text", file);
    char *copy = vlmi_strndup(size ? text : "", size);
    if (copy == NULL) return VLM_ERR_OUT_OF_MEMORY;
    free_templates(config);
    config->chat_template = copy;
    const char *base = strrchr(file, '/');
    snprintf(config->chat_template_source, sizeof config->chat_template_source, "%s",
             base ? base + 1 : file);
    return VLM_OK;
}
