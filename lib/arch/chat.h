/* A conversation message as the families' chat renderers take it: the
 * session's turns, each with its images placed before its text. */
#ifndef VLM_ARCH_CHAT_H
#define VLM_ARCH_CHAT_H

#include "vlm-impl.h"

#include <stdbool.h>
#include <string.h>

typedef struct vlmi_chat_message {
    vlm_role role;
    const char *text;   /* UTF-8, NUL-terminated */
    size_t n_images;    /* images placed before the text */
    bool video;         /* a video placed before the images */
} vlmi_chat_message;

/* The output of a chat renderer: up to cap bytes of buf, then a NUL; len
 * counts every byte, so a renderer called with (NULL, 0) returns the size
 * and a short buffer receives a prefix of the text. */
typedef struct vlmi_chat_out {
    char *buf;
    size_t cap, len;
} vlmi_chat_out;

static inline void vlmi_chat_put_n(vlmi_chat_out *o, const char *s, size_t n) {
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static inline void vlmi_chat_put(vlmi_chat_out *o, const char *s) {
    vlmi_chat_put_n(o, s, strlen(s));
}

/* NUL-terminates (when cap > 0) and returns the full length. */
static inline size_t vlmi_chat_finish(vlmi_chat_out *o) {
    if (o->cap > 0) o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
    return o->len;
}

#endif
