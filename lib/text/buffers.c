/* The growable containers the pipeline passes between steps: bytes, pieces,
 * spans, ids and string lists. All report VLM_ERR_OUT_OF_MEMORY (or
 * VLM_ERR_LIMIT on size overflow) through vlmi_fail. */
#include "text/tokenizer-impl.h"

#include <stdlib.h>
#include <string.h>

/* Grows *items (of elem bytes each) to hold at least need elements. */
static vlm_status grow_array(void **items, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return VLM_OK;
    size_t new_cap = *cap ? *cap : 8;
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 2) return vlmi_fail(VLM_ERR_LIMIT, "array too large");
        new_cap *= 2;
    }
    size_t bytes;
    if (vlmi_mul_overflow(new_cap, elem, &bytes))
        return vlmi_fail(VLM_ERR_LIMIT, "array too large");
    void *p = vlmi_realloc(*items, bytes);
    if (p == NULL) return VLM_ERR_OUT_OF_MEMORY;
    *items = p;
    *cap = new_cap;
    return VLM_OK;
}

/* ---- bytes ---- */

vlm_status vlmi_buf_reserve(vlmi_buf *buf, size_t extra) {
    size_t need;
    if (vlmi_add_overflow(buf->len, extra, &need) || vlmi_add_overflow(need, 1, &need))
        return vlmi_fail(VLM_ERR_LIMIT, "text too large");
    return grow_array((void **)&buf->data, &buf->cap, need, 1);
}

vlm_status vlmi_buf_append(vlmi_buf *buf, const void *bytes, size_t n) {
    vlm_status st = vlmi_buf_reserve(buf, n);
    if (st != VLM_OK) return st;
    if (n) memcpy(buf->data + buf->len, bytes, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return VLM_OK;
}

void vlmi_buf_free(vlmi_buf *buf) {
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

/* ---- spans ---- */

vlm_status vlmi_spans_push(vlmi_spans *spans, size_t start, size_t end, bool is_match) {
    vlm_status st = grow_array((void **)&spans->items, &spans->cap, spans->n + 1,
                               sizeof *spans->items);
    if (st != VLM_OK) return st;
    spans->items[spans->n++] = (vlmi_span){ start, end, is_match };
    return VLM_OK;
}

vlm_status vlmi_spans_reserve(vlmi_spans *spans, size_t n) {
    return grow_array((void **)&spans->items, &spans->cap, n, sizeof *spans->items);
}

void vlmi_spans_free(vlmi_spans *spans) {
    free(spans->items);
    spans->items = NULL;
    spans->n = spans->cap = 0;
}

/* ---- pieces ---- */

vlm_status vlmi_pieces_push(vlmi_pieces *pieces, const char *s, size_t len,
                            int32_t token, bool at_origin) {
    vlm_status st = grow_array((void **)&pieces->items, &pieces->cap, pieces->n + 1,
                               sizeof *pieces->items);
    if (st != VLM_OK) return st;
    size_t offset = pieces->text.len;
    st = vlmi_buf_append(&pieces->text, s, len);
    if (st != VLM_OK) return st;
    pieces->items[pieces->n++] = (vlmi_piece){ offset, len, token, at_origin };
    return VLM_OK;
}

void vlmi_pieces_clear(vlmi_pieces *pieces) {
    pieces->n = 0;
    pieces->text.len = 0;
}

void vlmi_pieces_free(vlmi_pieces *pieces) {
    vlmi_buf_free(&pieces->text);
    free(pieces->items);
    pieces->items = NULL;
    pieces->n = pieces->cap = 0;
}

/* ---- ids ---- */

vlm_status vlmi_ids_push(vlmi_ids *ids, int32_t id) {
    vlm_status st = grow_array((void **)&ids->items, &ids->cap, ids->n + 1, sizeof *ids->items);
    if (st != VLM_OK) return st;
    ids->items[ids->n++] = id;
    return VLM_OK;
}

vlm_status vlmi_ids_reserve(vlmi_ids *ids, size_t n) {
    return grow_array((void **)&ids->items, &ids->cap, n, sizeof *ids->items);
}

void vlmi_ids_free(vlmi_ids *ids) {
    free(ids->items);
    ids->items = NULL;
    ids->n = ids->cap = 0;
}

/* ---- string lists ---- */

vlm_status vlmi_strlist_push(vlmi_strlist *list, const char *s, size_t len) {
    vlm_status st = grow_array((void **)&list->offsets, &list->cap, list->n + 2,
                               sizeof *list->offsets);
    if (st != VLM_OK) return st;
    if (list->n == 0) list->offsets[0] = list->text.len;
    st = vlmi_buf_append(&list->text, s, len);
    if (st != VLM_OK) return st;
    list->offsets[++list->n] = list->text.len;
    return VLM_OK;
}

vlm_status vlmi_strlist_reserve(vlmi_strlist *list, size_t n, size_t text_bytes) {
    size_t need;
    if (vlmi_add_overflow(n, 1, &need)) return vlmi_fail(VLM_ERR_LIMIT, "array too large");
    vlm_status st = grow_array((void **)&list->offsets, &list->cap, need, sizeof *list->offsets);
    if (st != VLM_OK || text_bytes <= list->text.len) return st;
    return vlmi_buf_reserve(&list->text, text_bytes - list->text.len);
}

void vlmi_strlist_clear(vlmi_strlist *list) {
    list->n = 0;
    list->text.len = 0;
}

void vlmi_strlist_free(vlmi_strlist *list) {
    vlmi_buf_free(&list->text);
    free(list->offsets);
    list->offsets = NULL;
    list->n = list->cap = 0;
}
