/* Shared checks of the tokenizer tests: encode, decode and stream one text
 * against expected values, counting exact matches. */
#ifndef VLM_TEST_TOKENIZER_CHECK_H
#define VLM_TEST_TOKENIZER_CHECK_H

#include "test.h"
#include "vlm.h"

#include <cjson/cJSON.h>
#include <stdint.h>

typedef struct match_counts {
    int ids_ok, ids_total;
    int dec_ok, dec_total;
    int stream_ok, stream_total;
} match_counts;

/* Reads a JSON array of ids; returns its length (NULL array: 0). */
static inline size_t json_ids(const cJSON *array, int32_t **out) {
    size_t n = array ? (size_t)cJSON_GetArraySize(array) : 0, k = 0;
    *out = malloc((n ? n : 1) * sizeof **out);
    for (const cJSON *v = array ? array->child : NULL; v; v = v->next) (*out)[k++] = (int32_t)v->valuedouble;
    return n;
}

static inline void print_ids(const char *label, const int32_t *ids, size_t n) {
    fprintf(stderr, "  %s [", label);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, "%s%d", i ? "," : "", ids[i]);
    fprintf(stderr, "%s] (%zu)\n", n > 40 ? ",..." : "", n);
}

/* Encodes text with flags and compares with expected ids. */
static inline int check_encode(const vlm_tokenizer *tok, const char *name, const char *text,
                               uint32_t flags, const int32_t *expected, size_t n_expected) {
    size_t n = 0;
    vlm_status st = vlm_tokenize(tok, text, strlen(text), flags, NULL, 0, &n);
    if (st != VLM_OK && st != VLM_ERR_BUFFER_TOO_SMALL) {
        fprintf(stderr, "%s: encode failed: %s\n", name, vlm_last_error());
        return 0;
    }
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    size_t n2 = 0;
    st = vlm_tokenize(tok, text, strlen(text), flags, ids, n, &n2);
    int ok = st == VLM_OK && n2 == n_expected && (n == 0 || memcmp(ids, expected, n * sizeof *ids) == 0);
    if (!ok) {
        fprintf(stderr, "%s: ids differ (flags %u) for %.80s\n", name, flags, text);
        print_ids("got     ", ids, n2);
        print_ids("expected", expected, n_expected);
    }
    free(ids);
    return ok;
}

/* Decodes ids and compares with expected text. */
static inline int check_decode(const vlm_tokenizer *tok, const char *name, const int32_t *ids,
                               size_t n, uint32_t flags, const char *expected) {
    size_t len = 0;
    vlm_status st = vlm_detokenize(tok, ids, n, flags, NULL, 0, &len);
    if (st != VLM_ERR_BUFFER_TOO_SMALL) {
        fprintf(stderr, "%s: size query returned %s\n", name, vlm_status_string(st));
        return 0;
    }
    char *buf = malloc(len + 1);
    size_t len2 = 0;
    st = vlm_detokenize(tok, ids, n, flags, buf, len + 1, &len2);
    int ok = st == VLM_OK && len2 == strlen(expected) && memcmp(buf, expected, len2) == 0;
    if (!ok) fprintf(stderr, "%s: decode (flags %u) gives \"%.80s\", expected \"%.80s\"\n", name, flags,
                     st == VLM_OK ? buf : vlm_last_error(), expected);
    free(buf);
    return ok;
}

/* Streams ids one by one; the concatenation must equal expected, and
 * every piece must be valid UTF-8 on its own. */
static inline int check_stream(const vlm_tokenizer *tok, const char *name, const int32_t *ids,
                               size_t n, uint32_t flags, const char *expected) {
    vlm_detokenizer *d = NULL;
    if (vlm_detokenizer_create(tok, flags, &d) != VLM_OK) return 0;
    size_t cap = strlen(expected) + 64, used = 0;
    char *all = malloc(cap);
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        char piece[64];
        size_t len = 0;
        vlm_status st = vlm_detokenizer_push(d, ids[i], piece, sizeof piece, &len);
        char *big = NULL;
        if (st == VLM_ERR_BUFFER_TOO_SMALL) {  /* retry with room: the id was not consumed */
            big = malloc(len + 1);
            st = vlm_detokenizer_push(d, ids[i], big, len + 1, &len);
        }
        if (st != VLM_OK) { ok = 0; free(big); break; }
        if (used + len + 1 > cap) { cap = (used + len + 1) * 2; all = realloc(all, cap); }
        memcpy(all + used, big ? big : piece, len);
        used += len;
        free(big);
    }
    all[used] = '\0';
    if (ok) ok = used == strlen(expected) && memcmp(all, expected, used) == 0;
    if (!ok) fprintf(stderr, "%s: stream gives \"%.80s\", expected \"%.80s\"\n", name, all, expected);
    free(all);
    vlm_detokenizer_free(d);
    return ok;
}

#endif
