/* The Qwen2.5-VL chat template, rendered directly (see qwen2_5_vl_chat.h). */
#include "arch/qwen2_5_vl_chat.h"

#include <string.h>

static const char *role_name(vlm_role role) {
    switch (role) {
    case VLM_ROLE_SYSTEM: return "system";
    case VLM_ROLE_USER: return "user";
    case VLM_ROLE_ASSISTANT: return "assistant";
    }
    return "user";
}

size_t vlmi_qwen2vl_chat_render(char *buf, size_t cap, const vlmi_chat_message *messages,
                                size_t n, bool add_generation_prompt) {
    vlmi_chat_out o = {buf, cap, 0};
    for (size_t i = 0; i < n; i++) {
        const vlmi_chat_message *m = &messages[i];
        if (i == 0 && m->role != VLM_ROLE_SYSTEM)
            vlmi_chat_put(&o, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n");
        vlmi_chat_put(&o, "<|im_start|>");
        vlmi_chat_put(&o, role_name(m->role));
        vlmi_chat_put(&o, "\n");
        if (m->video) vlmi_chat_put(&o, VLMI_QWEN2VL_VIDEO_PLACEHOLDER);
        for (size_t k = 0; k < m->n_images; k++) vlmi_chat_put(&o, VLMI_QWEN2VL_IMAGE_PLACEHOLDER);
        vlmi_chat_put(&o, m->text);
        vlmi_chat_put(&o, "<|im_end|>\n");
    }
    if (add_generation_prompt) vlmi_chat_put(&o, "<|im_start|>assistant\n");
    return vlmi_chat_finish(&o);
}
