/* Stop-string matching over streamed text (see stop.h). */
#include "generate/stop.h"

#include <stdlib.h>
#include <string.h>

vlm_status vlmi_stop_init(vlmi_stop_matcher *m, const char *const *strings, size_t n_strings,
                          size_t max_piece) {
    memset(m, 0, sizeof *m);
    if (n_strings > 0 && strings == NULL)
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "stop_strings is NULL but n_stop_strings is %zu",
                         n_strings);
    for (size_t i = 0; i < n_strings; i++) {
        if (strings[i] == NULL || strings[i][0] == '\0')
            return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "stop_strings[%zu] is %s", i,
                             strings[i] == NULL ? "NULL" : "empty");
        size_t len = strlen(strings[i]);
        if (len > m->max_len) m->max_len = len;
    }
    m->strings = strings;
    m->n_strings = n_strings;
    m->capacity = m->max_len + max_piece + 1;
    m->pending = vlmi_malloc(m->capacity);
    return m->pending != NULL ? VLM_OK : VLM_ERR_OUT_OF_MEMORY;
}

void vlmi_stop_free(vlmi_stop_matcher *m) {
    if (m == NULL) return;
    free(m->pending);
    memset(m, 0, sizeof *m);
}

/* Length of the longest suffix of text (shorter than a whole stop string)
 * that begins some stop string. */
static size_t held_suffix(const vlmi_stop_matcher *m, const char *text, size_t len) {
    size_t longest = m->max_len - 1 < len ? m->max_len - 1 : len;
    for (size_t k = longest; k > 0; k--)
        for (size_t i = 0; i < m->n_strings; i++)
            if (strlen(m->strings[i]) > k && memcmp(text + len - k, m->strings[i], k) == 0)
                return k;
    return 0;
}

bool vlmi_stop_feed(vlmi_stop_matcher *m, const char *piece, size_t len, const char **out,
                    size_t *out_len) {
    if (m->n_strings == 0) {
        *out = piece;
        *out_len = len;
        return false;
    }
    /* the text held back last time moves to the front (the text released
     * last time, before it, is no longer needed) */
    memmove(m->pending, m->pending + m->held_start, m->n_pending);
    m->held_start = 0;
    if (m->n_pending + len > m->capacity) len = m->capacity - m->n_pending; /* contract breach */
    memcpy(m->pending + m->n_pending, piece, len);
    m->n_pending += len;

    size_t first = m->n_pending;
    for (size_t i = 0; i < m->n_strings; i++) {
        size_t slen = strlen(m->strings[i]);
        for (size_t at = 0; at + slen <= m->n_pending && at < first; at++)
            if (memcmp(m->pending + at, m->strings[i], slen) == 0) {
                first = at;
                break;
            }
    }
    if (first < m->n_pending) {
        *out = m->pending;
        *out_len = first;
        m->held_start = 0;
        m->n_pending = 0;
        return true;
    }
    size_t held = held_suffix(m, m->pending, m->n_pending);
    *out = m->pending;
    *out_len = m->n_pending - held;
    m->held_start = m->n_pending - held;
    m->n_pending = held;
    return false;
}

void vlmi_stop_flush(vlmi_stop_matcher *m, const char **out, size_t *out_len) {
    *out = m->pending != NULL ? m->pending + m->held_start : "";
    *out_len = m->n_pending;
    m->held_start = 0;
    m->n_pending = 0;
}
