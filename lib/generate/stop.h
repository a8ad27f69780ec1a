/* Stop strings over streamed text: text is released to the caller only once
 * it can no longer be the start of a stop string, so a stop string is never
 * streamed. Buffers are sized at init; feeding text allocates nothing. */
#ifndef VLM_GENERATE_STOP_H
#define VLM_GENERATE_STOP_H

#include "vlm-impl.h"

#include <stdbool.h>

typedef struct vlmi_stop_matcher {
    const char *const *strings; /* (n_strings) borrowed, non-empty UTF-8 */
    size_t n_strings;
    size_t max_len;             /* longest stop string in bytes */
    char *pending;              /* (capacity) text released by the last call, then
                                   the text held back */
    size_t capacity;
    size_t held_start;          /* offset of the held-back text in pending */
    size_t n_pending;           /* bytes held back */
} vlmi_stop_matcher;

/* Sets up a matcher over strings (borrowed for the matcher's life; an empty
 * string is VLM_ERR_INVALID_ARGUMENT); max_piece is the longest piece that
 * vlmi_stop_feed will be given. */
vlm_status vlmi_stop_init(vlmi_stop_matcher *m, const char *const *strings, size_t n_strings,
                          size_t max_piece);
void vlmi_stop_free(vlmi_stop_matcher *m);

/* Appends piece (len <= max_piece) and sets *out, *out_len to the text that
 * may now be released (valid until the next call). Returns true when a stop
 * string was found: *out then ends just before it and generation should end. */
bool vlmi_stop_feed(vlmi_stop_matcher *m, const char *piece, size_t len, const char **out,
                    size_t *out_len);

/* The text still held back (no stop string followed it): releases it all. */
void vlmi_stop_flush(vlmi_stop_matcher *m, const char **out, size_t *out_len);

#endif
