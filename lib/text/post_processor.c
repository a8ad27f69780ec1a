/* Post-processors, run with VLM_TOKENIZE_ADD_SPECIAL: TemplateProcessing
 * (its "single" template), BertProcessing, RobertaProcessing, ByteLevel
 * (offsets only: no change to ids) and Sequence. */
#include "text/tokenizer-impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct template_item {
    bool     is_sequence;   /* the encoded text itself */
    int32_t *ids;           /* a special token's ids */
    size_t   n_ids;
} template_item;

struct vlmi_post_processor {
    bool is_sequence;
    template_item *items;              /* a template (also Bert/Roberta) */
    size_t n_items;
    vlmi_post_processor **children;    /* Sequence */
    size_t n_children;
};

void vlmi_post_processor_free(vlmi_post_processor *post) {
    if (post == NULL) return;
    for (size_t i = 0; i < post->n_items; i++) free(post->items[i].ids);
    free(post->items);
    for (size_t i = 0; i < post->n_children; i++) vlmi_post_processor_free(post->children[i]);
    free(post->children);
    free(post);
}

static vlm_status add_item(vlmi_post_processor *post, bool is_sequence, const int32_t *ids,
                           size_t n_ids) {
    template_item *items = vlmi_realloc(post->items, (post->n_items + 1) * sizeof *items);
    if (items == NULL) return VLM_ERR_OUT_OF_MEMORY;
    post->items = items;
    template_item *it = &items[post->n_items++];
    memset(it, 0, sizeof *it);
    it->is_sequence = is_sequence;
    if (n_ids == 0) return VLM_OK;
    if ((it->ids = vlmi_malloc(n_ids * sizeof *ids)) == NULL) return VLM_ERR_OUT_OF_MEMORY;
    memcpy(it->ids, ids, n_ids * sizeof *ids);
    it->n_ids = n_ids;
    return VLM_OK;
}

/* Bert and Roberta: {"cls": ["[CLS]", 101], "sep": ["[SEP]", 102]}. */
static vlm_status read_pair_token(const cJSON *json, const char *key, const char *what,
                                  int32_t *id) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, key);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsString(v->child) ||
        !cJSON_IsNumber(v->child->next) || v->child->next->valuedouble < 0 ||
        v->child->next->valuedouble > INT32_MAX)
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.%s must be [token, id]", what, key);
    *id = (int32_t)v->child->next->valuedouble;
    return VLM_OK;
}

static vlm_status parse_template(const cJSON *json, vlmi_post_processor *post) {
    const char *what = "TemplateProcessing post_processor";
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(json, "single");
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(json, "special_tokens");
    if (!cJSON_IsArray(single))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.single must be an array", what);
    if (specials != NULL && !cJSON_IsNull(specials) && !cJSON_IsObject(specials))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.special_tokens must be an object", what);
    vlm_status st = VLM_OK;
    for (const cJSON *item = single->child; item != NULL && st == VLM_OK; item = item->next) {
        const cJSON *body = cJSON_IsObject(item) ? item->child : NULL;
        const char *name;
        if (body == NULL || body->next != NULL || !cJSON_IsObject(body) ||
            vlmi_json_string(body, "id", what, true, &name) != VLM_OK)
            return vlmi_fail(VLM_ERR_FORMAT,
                             "tokenizer.json: %s.single items must be {\"SpecialToken\"|\"Sequence\": {\"id\": ...}}",
                             what);
        if (strcmp(body->string, "Sequence") == 0) {
            if (strcmp(name, "A") != 0)
                return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.single refers to sequence '%s'",
                                 what, name);
            st = add_item(post, true, NULL, 0);
            continue;
        }
        if (strcmp(body->string, "SpecialToken") != 0)
            return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.single item kind '%s' is unknown",
                             what, body->string);
        const cJSON *special = specials ? cJSON_GetObjectItemCaseSensitive(specials, name) : NULL;
        const cJSON *ids = special ? cJSON_GetObjectItemCaseSensitive(special, "ids") : NULL;
        if (!cJSON_IsArray(ids))
            return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.special_tokens[\"%.60s\"].ids missing",
                             what, name);
        size_t n = (size_t)cJSON_GetArraySize(ids), k = 0;
        int32_t *buf = vlmi_calloc(n, sizeof *buf);
        if (buf == NULL) return VLM_ERR_OUT_OF_MEMORY;
        for (const cJSON *v = ids->child; v != NULL; v = v->next, k++) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > INT32_MAX) {
                free(buf);
                return vlmi_fail(VLM_ERR_FORMAT,
                                 "tokenizer.json: %s.special_tokens[\"%.60s\"].ids must be ids", what, name);
            }
            buf[k] = (int32_t)v->valuedouble;
        }
        st = add_item(post, false, buf, n);
        free(buf);
    }
    return st;
}

static vlm_status parse_node(const cJSON *json, vlmi_post_processor *post) {
    static const char *const template_keys[] = { "type", "single", "pair", "special_tokens", NULL };
    static const char *const byte_level_keys[] = { "type", "add_prefix_space", "trim_offsets",
                                                   "use_regex", NULL };
    static const char *const bert_keys[] = { "type", "sep", "cls", NULL };
    static const char *const roberta_keys[] = { "type", "sep", "cls", "trim_offsets",
                                                "add_prefix_space", NULL };
    static const char *const sequence_keys[] = { "type", "processors", NULL };
    const char *type;
    vlm_status st = vlmi_json_type(json, "post_processor", &type);
    if (st != VLM_OK) return st;
    if (strcmp(type, "TemplateProcessing") == 0) {
        if ((st = vlmi_json_check_keys(json, "TemplateProcessing post_processor", template_keys)) != VLM_OK)
            return st;
        return parse_template(json, post);
    }
    if (strcmp(type, "ByteLevel") == 0)
        return vlmi_json_check_keys(json, "ByteLevel post_processor", byte_level_keys);
    if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0) {
        bool bert = type[0] == 'B';
        const char *what = bert ? "BertProcessing post_processor" : "RobertaProcessing post_processor";
        int32_t cls, sep;
        if ((st = vlmi_json_check_keys(json, what, bert ? bert_keys : roberta_keys)) != VLM_OK ||
            (st = read_pair_token(json, "cls", what, &cls)) != VLM_OK ||
            (st = read_pair_token(json, "sep", what, &sep)) != VLM_OK)
            return st;
        if ((st = add_item(post, false, &cls, 1)) != VLM_OK || (st = add_item(post, true, NULL, 0)) != VLM_OK)
            return st;
        return add_item(post, false, &sep, 1);
    }
    if (strcmp(type, "Sequence") == 0) {
        post->is_sequence = true;
        if ((st = vlmi_json_check_keys(json, "Sequence post_processor", sequence_keys)) != VLM_OK)
            return st;
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "processors");
        if (!cJSON_IsArray(list))
            return vlmi_fail(VLM_ERR_FORMAT,
                             "tokenizer.json: Sequence post_processor.processors must be an array");
        post->children = vlmi_calloc((size_t)cJSON_GetArraySize(list), sizeof *post->children);
        if (post->children == NULL) return VLM_ERR_OUT_OF_MEMORY;
        for (const cJSON *item = list->child; item != NULL; item = item->next) {
            if ((st = vlmi_post_processor_parse(item, &post->children[post->n_children])) != VLM_OK)
                return st;
            if (post->children[post->n_children] != NULL) post->n_children++;
        }
        return VLM_OK;
    }
    return vlmi_fail(VLM_ERR_UNSUPPORTED,
                     "tokenizer.json: post_processor type '%s' is not supported", type);
}

vlm_status vlmi_post_processor_parse(const cJSON *json, vlmi_post_processor **out) {
    *out = NULL;
    if (json == NULL || cJSON_IsNull(json)) return VLM_OK;
    vlmi_post_processor *post = vlmi_calloc(1, sizeof *post);
    if (post == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = parse_node(json, post);
    if (st != VLM_OK) {
        vlmi_post_processor_free(post);
        return st;
    }
    *out = post;
    return VLM_OK;
}

vlm_status vlmi_post_processor_apply(const vlmi_post_processor *post, vlmi_ids *ids) {
    if (post == NULL) return VLM_OK;
    if (post->is_sequence) {
        for (size_t i = 0; i < post->n_children; i++) {
            vlm_status st = vlmi_post_processor_apply(post->children[i], ids);
            if (st != VLM_OK) return st;
        }
        return VLM_OK;
    }
    if (post->n_items == 0) return VLM_OK;  /* ByteLevel */
    vlmi_ids out = { 0 };
    vlm_status st = VLM_OK;
    for (size_t i = 0; i < post->n_items && st == VLM_OK; i++) {
        const template_item *it = &post->items[i];
        if (it->is_sequence) {
            for (size_t k = 0; k < ids->n && st == VLM_OK; k++) st = vlmi_ids_push(&out, ids->items[k]);
        } else {
            for (size_t k = 0; k < it->n_ids && st == VLM_OK; k++) st = vlmi_ids_push(&out, it->ids[k]);
        }
    }
    if (st != VLM_OK) {
        vlmi_ids_free(&out);
        return st;
    }
    vlmi_ids_free(ids);
    *ids = out;
    return VLM_OK;
}
