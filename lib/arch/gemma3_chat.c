/* The Gemma 3 chat template, rendered directly (see gemma3_chat.h). */
#include "arch/gemma3_chat.h"

#include <string.h>

/* Length of the code point at s (of n > 0 bytes) if it is whitespace as
 * Python's str.isspace() sees it, else 0. */
static size_t space_at(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if ((c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20)) return 1;
    if (c == 0xc2 && n >= 2 && (s[1] == 0x85 || s[1] == 0xa0)) return 2;
    if (n < 3) return 0;
    unsigned cp = ((c & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
    if ((c & 0xf0) != 0xe0) return 0;
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
        cp == 0x202f || cp == 0x205f || cp == 0x3000)
        return 3;
    return 0;
}

/* Jinja's trim (Python str.strip()) of s: *start and the trimmed length. */
static size_t trimmed(const char *s, const char **start) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), k;
    while (n > 0 && (k = space_at(p, n)) > 0) { p += k; n -= k; }
    /* from the end: try each whitespace width ending there */
    for (bool cut = true; cut && n > 0;) {
        cut = false;
        for (size_t w = 1; w <= 3 && w <= n; w++)
            if ((p[n - w] & 0xc0) != 0x80 && space_at(p + n - w, w) == w) {
                n -= w;
                cut = true;
                break;
            }
    }
    *start = (const char *)p;
    return n;
}

vlm_status vlmi_gemma3_chat_check(const vlmi_chat_message *messages, size_t n) {
    size_t first = n > 0 && messages[0].role == VLM_ROLE_SYSTEM ? 1 : 0;
    for (size_t i = first; i < n; i++) {
        bool user_turn = (i - first) % 2 == 0;
        if ((messages[i].role == VLM_ROLE_USER) != user_turn)
            return vlmi_fail(VLM_ERR_INVALID_ARGUMENT, "chat message %zu: Gemma 3's template "
                             "needs roles alternating user/assistant/user/... after an "
                             "optional system message", i);
    }
    return VLM_OK;
}

size_t vlmi_gemma3_chat_render(char *buf, size_t cap, const vlmi_chat_message *messages,
                               size_t n, bool add_generation_prompt) {
    vlmi_chat_out o = {buf, cap, 0};
    vlmi_chat_put(&o, "<bos>");
    size_t first = n > 0 && messages[0].role == VLM_ROLE_SYSTEM ? 1 : 0;
    for (size_t i = first; i < n; i++) {
        const vlmi_chat_message *m = &messages[i];
        vlmi_chat_put(&o, "<start_of_turn>");
        vlmi_chat_put(&o, m->role == VLM_ROLE_ASSISTANT ? "model"
                : m->role == VLM_ROLE_SYSTEM  ? "system" : "user");
        vlmi_chat_put(&o, "\n");
        if (i == first && first == 1) {
            vlmi_chat_put(&o, messages[0].text != NULL ? messages[0].text : "");
            vlmi_chat_put(&o, "\n\n");
        }
        for (size_t k = 0; k < m->n_images; k++) vlmi_chat_put(&o, "<start_of_image>");
        const char *text;
        size_t len = trimmed(m->text != NULL ? m->text : "", &text);
        vlmi_chat_put_n(&o, text, len);
        vlmi_chat_put(&o, "<end_of_turn>\n");
    }
    if (add_generation_prompt) vlmi_chat_put(&o, "<start_of_turn>model\n");
    return vlmi_chat_finish(&o);
}
