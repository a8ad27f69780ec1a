/* Normalizers: NFC, NFD, NFKC, NFKD, Lowercase, Strip, Replace, Prepend and
 * Sequence, applied to one piece of text at a time as tokenizers does. */
#include "text/tokenizer-impl.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef enum normalizer_kind {
    NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_LOWERCASE, NORM_STRIP,
    NORM_REPLACE, NORM_PREPEND, NORM_SEQUENCE
} normalizer_kind;

struct vlmi_normalizer {
    normalizer_kind kind;
    bool strip_left, strip_right;       /* Strip */
    vlmi_pattern pattern;               /* Replace */
    char *content;                      /* Replace: replacement; Prepend: prefix */
    size_t content_len;
    vlmi_normalizer **children;         /* Sequence */
    size_t n_children;
};

void vlmi_normalizer_free(vlmi_normalizer *n) {
    if (n == NULL) return;
    vlmi_pattern_free(&n->pattern);
    free(n->content);
    for (size_t i = 0; i < n->n_children; i++) vlmi_normalizer_free(n->children[i]);
    free(n->children);
    free(n);
}

static vlm_status parse_node(const cJSON *json, vlmi_normalizer *n) {
    static const char *const type_only[] = { "type", NULL };
    static const char *const strip_keys[] = { "type", "strip_left", "strip_right", NULL };
    static const char *const replace_keys[] = { "type", "pattern", "content", NULL };
    static const char *const prepend_keys[] = { "type", "prepend", NULL };
    static const char *const sequence_keys[] = { "type", "normalizers", NULL };
    const char *type;
    vlm_status st = vlmi_json_type(json, "normalizer", &type);
    if (st != VLM_OK) return st;
    const struct { const char *name; normalizer_kind kind; } simple[] = {
        { "NFC", NORM_NFC }, { "NFD", NORM_NFD }, { "NFKC", NORM_NFKC },
        { "NFKD", NORM_NFKD }, { "Lowercase", NORM_LOWERCASE },
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (strcmp(type, simple[i].name) == 0) {
            n->kind = simple[i].kind;
            return vlmi_json_check_keys(json, type, type_only);
        }
    }
    if (strcmp(type, "Strip") == 0) {
        n->kind = NORM_STRIP;
        if ((st = vlmi_json_check_keys(json, "Strip normalizer", strip_keys)) != VLM_OK) return st;
        if ((st = vlmi_json_bool(json, "strip_left", "Strip normalizer", true, &n->strip_left)) != VLM_OK)
            return st;
        return vlmi_json_bool(json, "strip_right", "Strip normalizer", true, &n->strip_right);
    }
    if (strcmp(type, "Replace") == 0 || strcmp(type, "Prepend") == 0) {
        bool replace = type[0] == 'R';
        const char *what = replace ? "Replace normalizer" : "Prepend normalizer";
        n->kind = replace ? NORM_REPLACE : NORM_PREPEND;
        if ((st = vlmi_json_check_keys(json, what, replace ? replace_keys : prepend_keys)) != VLM_OK)
            return st;
        const char *content;
        st = vlmi_json_string(json, replace ? "content" : "prepend", what, true, &content);
        if (st != VLM_OK) return st;
        n->content_len = strlen(content);
        n->content = vlmi_strndup(content, n->content_len);
        if (n->content == NULL) return VLM_ERR_OUT_OF_MEMORY;
        if (!replace) return VLM_OK;
        return vlmi_pattern_parse(cJSON_GetObjectItemCaseSensitive(json, "pattern"), what,
                                  &n->pattern);
    }
    if (strcmp(type, "Sequence") == 0) {
        n->kind = NORM_SEQUENCE;
        if ((st = vlmi_json_check_keys(json, "Sequence normalizer", sequence_keys)) != VLM_OK)
            return st;
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "normalizers");
        if (!cJSON_IsArray(list))
            return vlmi_fail(VLM_ERR_FORMAT,
                             "tokenizer.json: Sequence normalizer.normalizers must be an array");
        size_t count = (size_t)cJSON_GetArraySize(list);
        n->children = vlmi_calloc(count, sizeof *n->children);
        if (n->children == NULL) return VLM_ERR_OUT_OF_MEMORY;
        for (const cJSON *item = list->child; item != NULL; item = item->next) {
            st = vlmi_normalizer_parse(item, &n->children[n->n_children]);
            if (st != VLM_OK) return st;
            if (n->children[n->n_children] != NULL) n->n_children++;
        }
        return VLM_OK;
    }
    return vlmi_fail(VLM_ERR_UNSUPPORTED, "tokenizer.json: normalizer type '%s' is not supported",
                     type);
}

vlm_status vlmi_normalizer_parse(const cJSON *json, vlmi_normalizer **out) {
    *out = NULL;
    if (json == NULL || cJSON_IsNull(json)) return VLM_OK;
    vlmi_normalizer *n = vlmi_calloc(1, sizeof *n);
    if (n == NULL) return VLM_ERR_OUT_OF_MEMORY;
    vlm_status st = parse_node(json, n);
    if (st != VLM_OK) {
        vlmi_normalizer_free(n);
        return st;
    }
    *out = n;
    return VLM_OK;
}

/* ---- application ---- */

static vlm_status unicode_form(const char *s, size_t len, utf8proc_option_t options,
                               vlmi_buf *out) {
    /* ASCII is its own NFC, NFD, NFKC and NFKD: skip utf8proc (and its
     * malloc) for it. */
    size_t ascii = 0;
    while (ascii < len && (unsigned char)s[ascii] < 0x80) ascii++;
    if (ascii == len) {
        if (out->data != NULL && s == out->data) {
            out->len = len;
            return VLM_OK;
        }
        out->len = 0;
        return vlmi_buf_append(out, s, len);
    }
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len,
                                      &mapped, options | UTF8PROC_STABLE);
    if (n < 0) {
        free(mapped);
        if (n == UTF8PROC_ERROR_NOMEM) return vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "out of memory (normalization)");
        return vlmi_fail(VLM_ERR_INTERNAL, "normalization failed: %s", utf8proc_errmsg(n));
    }
    out->len = 0;
    vlm_status st = vlmi_buf_append(out, mapped, (size_t)n);
    free(mapped);
    return st;
}

/* Rust's char::to_lowercase per character: the simple mapping except
 * U+0130, whose full lowercase is "i\u0307". */
static vlm_status lowercase(const char *s, size_t len, vlmi_buf *out) {
    out->len = 0;
    vlm_status st = vlmi_buf_reserve(out, len + 8);
    for (size_t i = 0; i < len && st == VLM_OK;) {
        uint32_t cp = vlmi_utf8_next(s, &i);
        char enc[8];
        size_t n;
        if (cp == 0x130) {
            memcpy(enc, "i\xCC\x87", 3);
            n = 3;
        } else {
            n = vlmi_utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), enc);
        }
        st = vlmi_buf_append(out, enc, n);
    }
    return st;
}

static vlm_status strip(const vlmi_normalizer *n, const char *s, size_t len, vlmi_buf *out) {
    size_t start = 0, end = len;
    if (n->strip_left) {
        while (start < end) {
            size_t i = start;
            if (!vlmi_unicode_is_whitespace(vlmi_utf8_next(s, &i))) break;
            start = i;
        }
    }
    if (n->strip_right) {
        while (end > start) {
            size_t i = end - 1;
            while (i > start && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
            size_t j = i;
            if (!vlmi_unicode_is_whitespace(vlmi_utf8_next(s, &j))) break;
            end = i;
        }
    }
    out->len = 0;
    return vlmi_buf_append(out, s + start, end - start);
}

static vlm_status replace(const vlmi_normalizer *n, const char *s, size_t len, vlmi_buf *out) {
    vlmi_spans spans = { 0 };
    vlm_status st = vlmi_pattern_find(&n->pattern, s, len, &spans);
    out->len = 0;
    for (size_t i = 0; i < spans.n && st == VLM_OK; i++) {
        const vlmi_span *sp = &spans.items[i];
        st = sp->is_match ? vlmi_buf_append(out, n->content, n->content_len)
                          : vlmi_buf_append(out, s + sp->start, sp->end - sp->start);
    }
    vlmi_spans_free(&spans);
    return st;
}

static vlm_status apply_one(const vlmi_normalizer *n, const char *s, size_t len, vlmi_buf *out) {
    switch (n->kind) {
    case NORM_NFC: return unicode_form(s, len, UTF8PROC_COMPOSE, out);
    case NORM_NFD: return unicode_form(s, len, UTF8PROC_DECOMPOSE, out);
    case NORM_NFKC: return unicode_form(s, len, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, out);
    case NORM_NFKD: return unicode_form(s, len, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, out);
    case NORM_LOWERCASE: return lowercase(s, len, out);
    case NORM_STRIP: return strip(n, s, len, out);
    case NORM_REPLACE: return replace(n, s, len, out);
    case NORM_PREPEND:
        out->len = 0;
        if (len > 0) {  /* tokenizers prepends only to non-empty text */
            vlm_status st = vlmi_buf_append(out, n->content, n->content_len);
            if (st != VLM_OK) return st;
        }
        return vlmi_buf_append(out, s, len);
    case NORM_SEQUENCE: {
        out->len = 0;
        vlm_status st = vlmi_buf_append(out, s, len);
        vlmi_buf tmp = { 0 };
        for (size_t i = 0; i < n->n_children && st == VLM_OK; i++) {
            st = apply_one(n->children[i], out->data, out->len, &tmp);
            vlmi_buf swap = *out;
            *out = tmp;
            tmp = swap;
        }
        vlmi_buf_free(&tmp);
        return st;
    }
    }
    return vlmi_fail(VLM_ERR_INTERNAL, "unknown normalizer kind %d", (int)n->kind);
}

vlm_status vlmi_normalizer_apply(const vlmi_normalizer *normalizer, const char *s, size_t len,
                                 vlmi_buf *out) {
    if (normalizer == NULL) {
        out->len = 0;
        return vlmi_buf_append(out, s, len);
    }
    return apply_one(normalizer, s, len, out);
}
