/* The SmolVLM chat template, rendered directly (see idefics3_chat.h). */
#include "arch/idefics3_chat.h"

#include <string.h>

typedef struct chat_out {
    char *buf;
    size_t cap, len;
} chat_out;

static void put(chat_out *o, const char *s) {
    size_t n = strlen(s);
    if (o->len + n < o->cap) memcpy(o->buf + o->len, s, n);
    o->len += n;
}

/* Jinja's capitalize filter on the three role names. */
static const char *role_name(vlm_role role) {
    switch (role) {
    case VLM_ROLE_SYSTEM: return "System";
    case VLM_ROLE_USER: return "User";
    case VLM_ROLE_ASSISTANT: return "Assistant";
    }
    return "User";
}

size_t vlmi_idefics3_chat_render(char *buf, size_t cap, const vlmi_chat_message *messages,
                                 size_t n, bool add_generation_prompt) {
    chat_out o = {buf, cap, 0};
    put(&o, "<|im_start|>");
    for (size_t i = 0; i < n; i++) {
        const vlmi_chat_message *m = &messages[i];
        put(&o, role_name(m->role));
        put(&o, !m->video && m->n_images > 0 ? ":" : ": ");
        if (m->video) put(&o, "<video>");
        for (size_t k = 0; k < m->n_images; k++) put(&o, "<image>");
        put(&o, m->text);
        put(&o, "<end_of_utterance>\n");
    }
    if (add_generation_prompt) put(&o, "Assistant:");
    if (cap > 0) buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len;
}

bool vlmi_idefics3_chat_template_known(const char *chat_template) {
    return chat_template != NULL && strstr(chat_template, "<|im_start|>") != NULL &&
           strstr(chat_template, "capitalize") != NULL &&
           strstr(chat_template, "<end_of_utterance>\n") != NULL &&
           strstr(chat_template, "'Assistant:'") != NULL;
}
