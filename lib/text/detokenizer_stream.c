/* The streaming detokenizer. Decoders are not per-token functions (ByteLevel
 * joins bytes across tokens, Metaspace drops the space of the first token),
 * so each push decodes a short window of recent ids and emits what the new
 * id adds to the window's text, as tokenizers' DecodeStream does:
 *
 *   window = ids since the last emission point (plus the new one)
 *   prefix = decode(window before the new id)
 *   text   = decode(window)
 *   if text is longer than prefix and does not end in U+FFFD (a character
 *   still incomplete): emit text[len(prefix):] and move the window on.
 *
 * Text that ends in U+FFFD is held until a later id completes it; so the
 * pieces concatenate to vlm_detokenize of all ids whenever that text does
 * not itself end in U+FFFD. */
#include "text/tokenizer-impl.h"

#include <stdlib.h>
#include <string.h>

/* Room made at create, so that an ordinary stream (windows of a few ids of
 * ordinary tokens) never allocates; longer windows grow the buffers, which
 * are then kept for the detokenizer's life. */
#define INITIAL_WINDOW_IDS 32
#define INITIAL_TEXT_BYTES 1024

/* Everything a push works in is kept here and reused: a push allocates only
 * when its window (or the window's text) is longer than any before. */
struct vlm_detokenizer {
    const vlm_tokenizer *tok;
    uint32_t flags;
    vlmi_ids window;        /* ids not yet behind an emission point, plus context */
    size_t   prefix_index;  /* window[0..prefix_index) decode to prefix */
    vlmi_buf prefix;
    bool     have_prefix;
    vlmi_buf text;          /* the window's text */
    vlmi_decode_scratch scratch;
};

static bool ends_with_replacement(const vlmi_buf *text) {
    return text->len >= 3 && memcmp(text->data + text->len - 3, "\xEF\xBF\xBD", 3) == 0;
}

static vlm_status decode_window(vlm_detokenizer *d, vlmi_buf *out) {
    return vlmi_tokenizer_decode_scratch(d->tok, d->window.items, d->window.n, d->flags,
                                         &d->scratch, out);
}

vlm_status vlm_detokenizer_create(const vlm_tokenizer *tok, uint32_t flags, vlm_detokenizer **out) {
    vlmi_clear_error();
    if (out == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_detokenizer_create: out is NULL");
    *out = NULL;
    if (tok == NULL) return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_detokenizer_create: tokenizer is NULL");
    vlm_detokenizer *d = vlmi_calloc(1, sizeof *d);
    if (d == NULL) return VLM_ERR_OUT_OF_MEMORY;
    d->tok = tok;
    d->flags = flags;
    vlm_status st;
    if ((st = vlmi_ids_reserve(&d->window, INITIAL_WINDOW_IDS)) != VLM_OK ||
        (st = vlmi_buf_reserve(&d->prefix, INITIAL_TEXT_BYTES)) != VLM_OK ||
        (st = vlmi_buf_reserve(&d->text, INITIAL_TEXT_BYTES)) != VLM_OK ||
        (st = vlmi_decode_scratch_reserve(&d->scratch, INITIAL_WINDOW_IDS, INITIAL_TEXT_BYTES)) != VLM_OK) {
        vlm_detokenizer_free(d);
        return st;
    }
    *out = d;
    return VLM_OK;
}

void vlm_detokenizer_free(vlm_detokenizer *d) {
    if (d == NULL) return;
    vlmi_ids_free(&d->window);
    vlmi_buf_free(&d->prefix);
    vlmi_buf_free(&d->text);
    vlmi_decode_scratch_free(&d->scratch);
    free(d);
}

vlm_status vlm_detokenizer_push(vlm_detokenizer *d, int32_t id, char *buf, size_t buf_size,
                                size_t *out_len) {
    vlmi_clear_error();
    if (out_len) *out_len = 0;
    if (d == NULL || out_len == NULL || (buf == NULL && buf_size > 0))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_detokenizer_push: NULL argument");
    vlm_status st = VLM_OK;
    /* The prefix is set once the window's text is complete; recomputing it
     * does not change what a retried push returns. */
    if (!d->have_prefix && d->window.n > 0) {
        st = decode_window(d, &d->text);
        if (st != VLM_OK) return st;
        if (!ends_with_replacement(&d->text)) {
            vlmi_buf swap = d->prefix;  /* the text becomes the prefix, no copy */
            d->prefix = d->text;
            d->text = swap;
            d->prefix_index = d->window.n;
            d->have_prefix = true;
        }
    }
    if ((st = vlmi_ids_push(&d->window, id)) != VLM_OK) return st;
    vlmi_buf *text = &d->text;
    st = decode_window(d, text);
    size_t prefix_len = d->have_prefix ? d->prefix.len : 0;
    bool emit = st == VLM_OK && text->len > prefix_len && !ends_with_replacement(text) &&
                (prefix_len == 0 || memcmp(text->data, d->prefix.data, prefix_len) == 0);
    if (st != VLM_OK || !emit) {
        if (st != VLM_OK) d->window.n--;  /* not consumed */
        else if (buf_size > 0) buf[0] = '\0';
        return st;
    }
    size_t new_len = text->len - prefix_len;
    *out_len = new_len;
    if (buf_size <= new_len) {
        d->window.n--;  /* not consumed: the caller retries with more room */
        return vlmi_fail(VLM_ERR_BUFFER_TOO_SMALL, "vlm_detokenizer_push: %zu bytes needed, buffer holds %zu",
                         new_len + 1, buf_size);
    }
    memcpy(buf, text->data + prefix_len, new_len);
    buf[new_len] = '\0';
    /* Keep the ids since the previous emission point as context. */
    size_t keep_from = d->have_prefix ? d->prefix_index : 0;
    memmove(d->window.items, d->window.items + keep_from,
            (d->window.n - keep_from) * sizeof *d->window.items);
    d->window.n -= keep_from;
    st = decode_window(d, &d->prefix);
    d->prefix_index = d->window.n;
    d->have_prefix = st == VLM_OK;
    return st;
}

vlm_status vlm_detokenizer_flush(vlm_detokenizer *d, char *buf, size_t buf_size, size_t *out_len) {
    vlmi_clear_error();
    if (out_len) *out_len = 0;
    if (d == NULL || out_len == NULL || (buf == NULL && buf_size > 0))
        return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "vlm_detokenizer_flush: NULL argument");
    vlmi_buf *text = &d->text;
    vlm_status st = decode_window(d, text);
    if (st != VLM_OK) return st;
    /* What the window adds beyond what was already emitted, incomplete
     * characters included (the decoder rendered them as U+FFFD). */
    size_t prefix_len = d->have_prefix ? d->prefix.len : 0;
    if (text->len < prefix_len || (prefix_len > 0 && memcmp(text->data, d->prefix.data, prefix_len) != 0))
        prefix_len = text->len;
    size_t new_len = text->len - prefix_len;
    *out_len = new_len;
    if (buf_size <= new_len)
        return vlmi_fail(VLM_ERR_BUFFER_TOO_SMALL, "vlm_detokenizer_flush: %zu bytes needed, buffer holds %zu",
                         new_len + 1, buf_size);
    memcpy(buf, text->data + prefix_len, new_len);
    buf[new_len] = '\0';
    d->window.n = 0;
    d->prefix.len = 0;
    d->prefix_index = 0;
    d->have_prefix = false;
    return VLM_OK;
}
