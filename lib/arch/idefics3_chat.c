/* The SmolVLM chat template, rendered directly (see idefics3_chat.h). */
#include "arch/idefics3_chat.h"

#include <string.h>

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
    vlmi_chat_out o = {buf, cap, 0};
    vlmi_chat_put(&o, "<|im_start|>");
    for (size_t i = 0; i < n; i++) {
        const vlmi_chat_message *m = &messages[i];
        vlmi_chat_put(&o, role_name(m->role));
        vlmi_chat_put(&o, !m->video && m->n_images > 0 ? ":" : ": ");
        if (m->video) vlmi_chat_put(&o, "<video>");
        for (size_t k = 0; k < m->n_images; k++) vlmi_chat_put(&o, "<image>");
        vlmi_chat_put(&o, m->text);
        vlmi_chat_put(&o, "<end_of_utterance>\n");
    }
    if (add_generation_prompt) vlmi_chat_put(&o, "Assistant:");
    return vlmi_chat_finish(&o);
}

bool vlmi_idefics3_chat_template_known(const char *chat_template) {
    return chat_template != NULL && strstr(chat_template, "<|im_start|>") != NULL &&
           strstr(chat_template, "capitalize") != NULL &&
           strstr(chat_template, "<end_of_utterance>\n") != NULL &&
           strstr(chat_template, "'Assistant:'") != NULL;
}
