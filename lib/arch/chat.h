/* A conversation message as the families' chat renderers take it: the
 * session's turns, each with its images placed before its text. */
#ifndef VLM_ARCH_CHAT_H
#define VLM_ARCH_CHAT_H

#include "vlm-impl.h"

#include <stdbool.h>

typedef struct vlmi_chat_message {
    vlm_role role;
    const char *text;   /* UTF-8, NUL-terminated */
    size_t n_images;    /* images placed before the text */
    bool video;         /* a video placed before the images */
} vlmi_chat_message;

#endif
