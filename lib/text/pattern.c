/* Split and Replace patterns. Regexes run on Oniguruma with the syntax and
 * iteration rules of the Rust onig crate that tokenizers uses, so that
 * every match (empty ones included) falls where the reference puts it. */
#include "text/tokenizer-impl.h"

#include <oniguruma.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t onig_once = PTHREAD_ONCE_INIT;
static int onig_init_result;

static void init_oniguruma(void) {
    OnigEncoding encodings[1] = { ONIG_ENCODING_UTF8 };
    onig_init_result = onig_initialize(encodings, 1);
}

vlm_status vlmi_pattern_compile_regex(const char *source, const char *what,
                                      vlmi_pattern *out) {
    memset(out, 0, sizeof *out);
    pthread_once(&onig_once, init_oniguruma);
    if (onig_init_result != ONIG_NORMAL)
        return vlmi_fail(VLM_ERR_INTERNAL, "oniguruma failed to initialize (%d)", onig_init_result);
    OnigRegex regex = NULL;
    OnigErrorInfo einfo;
    const UChar *pat = (const UChar *)source;
    int r = onig_new(&regex, pat, pat + strlen(source), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                     ONIG_SYNTAX_DEFAULT, &einfo);
    if (r != ONIG_NORMAL) {
        UChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(message, r, &einfo);
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s: invalid regex: %s", what,
                         (const char *)message);
    }
    out->regex = regex;
    return VLM_OK;
}

vlm_status vlmi_pattern_parse(const cJSON *json, const char *what, vlmi_pattern *out) {
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(json) || json->child == NULL || json->child->next != NULL)
        return vlmi_fail(VLM_ERR_FORMAT,
                         "tokenizer.json: %s.pattern must be {\"String\": ...} or {\"Regex\": ...}",
                         what);
    const cJSON *v = json->child;
    if (!cJSON_IsString(v))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.pattern.%s must be a string",
                         what, v->string);
    if (strcmp(v->string, "Regex") == 0) return vlmi_pattern_compile_regex(v->valuestring, what, out);
    if (strcmp(v->string, "String") != 0)
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.pattern kind '%s' is unknown",
                         what, v->string);
    size_t len = strlen(v->valuestring);
    if (len == 0)
        return vlmi_fail(VLM_ERR_UNSUPPORTED, "tokenizer.json: %s: an empty String pattern is not supported", what);
    out->literal = vlmi_strndup(v->valuestring, len);
    if (out->literal == NULL) return VLM_ERR_OUT_OF_MEMORY;
    out->literal_len = len;
    return VLM_OK;
}

void vlmi_pattern_free(vlmi_pattern *pattern) {
    free(pattern->literal);
    if (pattern->regex) onig_free((OnigRegex)pattern->regex);
    memset(pattern, 0, sizeof *pattern);
}

/* First occurrence of needle in hay (memmem is not in C11). */
static const char *find_bytes(const char *hay, size_t hay_len, const char *needle, size_t len) {
    if (len == 0 || hay_len < len) return NULL;
    const char *end = hay + (hay_len - len) + 1;
    for (const char *p = hay; p < end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (p == NULL) return NULL;
        if (memcmp(p, needle, len) == 0) return p;
    }
    return NULL;
}

static vlm_status find_literal(const vlmi_pattern *p, const char *s, size_t len, vlmi_spans *out) {
    size_t prev = 0;
    vlm_status st = VLM_OK;
    while (st == VLM_OK && prev <= len) {
        const char *hit = find_bytes(s + prev, len - prev, p->literal, p->literal_len);
        if (hit == NULL) break;
        size_t start = (size_t)(hit - s);
        if (start != prev) st = vlmi_spans_push(out, prev, start, false);
        if (st == VLM_OK) st = vlmi_spans_push(out, start, start + p->literal_len, true);
        prev = start + p->literal_len;
    }
    if (st == VLM_OK && prev != len) st = vlmi_spans_push(out, prev, len, false);
    return st;
}

/* onig crate FindMatches: after a non-empty match, the next empty match is
 * skipped; an empty match advances the search by one character. */
static vlm_status find_regex(const vlmi_pattern *p, const char *s, size_t len, vlmi_spans *out) {
    OnigRegion *region = onig_region_new();
    if (region == NULL) return vlmi_fail(VLM_ERR_OUT_OF_MEMORY, "out of memory (regex region)");
    const UChar *str = (const UChar *)s, *end = str + len;
    size_t prev = 0, last_end = 0;
    bool skip_next_empty = false;
    vlm_status st = VLM_OK;
    while (st == VLM_OK && last_end <= len) {
        onig_region_clear(region);
        int r = onig_search((OnigRegex)p->regex, str, end, str + last_end, end, region,
                            ONIG_OPTION_NONE);
        if (r == ONIG_MISMATCH) break;
        if (r < 0) {
            st = vlmi_fail(VLM_ERR_LIMIT, "regex search failed (oniguruma error %d)", r);
            break;
        }
        size_t ms = (size_t)region->beg[0], me = (size_t)region->end[0];
        last_end = me;
        if (ms == me) {
            last_end += me < len ? vlmi_utf8_seq_len((unsigned char)s[me]) : 1;
            if (skip_next_empty) {
                skip_next_empty = false;
                continue;
            }
        } else {
            skip_next_empty = true;
        }
        if (prev != ms) st = vlmi_spans_push(out, prev, ms, false);
        if (st == VLM_OK) st = vlmi_spans_push(out, ms, me, true);
        prev = me;
    }
    if (st == VLM_OK && prev != len) st = vlmi_spans_push(out, prev, len, false);
    onig_region_free(region, 1);
    return st;
}

vlm_status vlmi_pattern_find(const vlmi_pattern *pattern, const char *s, size_t len,
                             vlmi_spans *out) {
    out->n = 0;
    if (len == 0) return vlmi_spans_push(out, 0, 0, false);
    return pattern->literal ? find_literal(pattern, s, len, out) : find_regex(pattern, s, len, out);
}

/* ---- split behaviors ---- */

vlm_status vlmi_split_behavior_parse(const cJSON *json, const char *what,
                                     vlmi_split_behavior *out) {
    static const struct { const char *name; vlmi_split_behavior value; } names[] = {
        { "Removed", VLMI_SPLIT_REMOVED },
        { "Isolated", VLMI_SPLIT_ISOLATED },
        { "MergedWithPrevious", VLMI_SPLIT_MERGED_WITH_PREVIOUS },
        { "MergedWithNext", VLMI_SPLIT_MERGED_WITH_NEXT },
        { "Contiguous", VLMI_SPLIT_CONTIGUOUS },
    };
    if (!cJSON_IsString(json))
        return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.behavior must be a string", what);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(json->valuestring, names[i].name) == 0) {
            *out = names[i].value;
            return VLM_OK;
        }
    }
    return vlmi_fail(VLM_ERR_FORMAT, "tokenizer.json: %s.behavior '%s' is unknown", what,
                     json->valuestring);
}

vlm_status vlmi_split_apply_behavior(vlmi_spans *spans, vlmi_split_behavior behavior) {
    vlmi_span *v = spans->items;
    size_t n = spans->n, kept = 0;
    switch (behavior) {
    case VLMI_SPLIT_REMOVED:
        return VLM_OK;  /* matches are dropped, the rest kept: already so */
    case VLMI_SPLIT_ISOLATED:
        for (size_t i = 0; i < n; i++) v[i].is_match = false;
        return VLM_OK;
    case VLMI_SPLIT_CONTIGUOUS:
    case VLMI_SPLIT_MERGED_WITH_PREVIOUS: {
        /* In place: the output never outgrows the input. */
        bool previous_match = false;
        for (size_t i = 0; i < n; i++) {
            vlmi_span s = v[i];
            bool extend = behavior == VLMI_SPLIT_CONTIGUOUS ? s.is_match == previous_match
                                                            : s.is_match && !previous_match;
            if (extend && kept > 0) {
                v[kept - 1].end = s.end;
            } else {
                v[kept++] = (vlmi_span){ s.start, s.end, false };
            }
            previous_match = s.is_match;
        }
        spans->n = kept;
        return VLM_OK;
    }
    case VLMI_SPLIT_MERGED_WITH_NEXT: {
        /* Walk backwards, fill from the back, then shift to the front. */
        bool previous_match = false;
        size_t w = n;
        for (size_t k = n; k-- > 0;) {
            vlmi_span s = v[k];
            if (s.is_match && !previous_match && w < n) {
                v[w].start = s.start;
            } else {
                v[--w] = (vlmi_span){ s.start, s.end, false };
            }
            previous_match = s.is_match;
        }
        memmove(v, v + w, (n - w) * sizeof *v);
        spans->n = n - w;
        return VLM_OK;
    }
    }
    return vlmi_fail(VLM_ERR_INTERNAL, "unknown split behavior %d", (int)behavior);
}
