/* The Gemma 3 chat format: what gemma-3-4b-it's chat template
 * (chat_template.json) renders for a conversation whose messages each hold
 * their images first, then their text:
 *
 *   <bos>
 *   <start_of_turn>user\n{system text}\n\n{<start_of_image> per image}{text}<end_of_turn>\n
 *   <start_of_turn>model\n{text}<end_of_turn>\n ...
 *   then "<start_of_turn>model\n" when a reply is asked for.
 *
 * A leading system message is not a turn: its text, untrimmed, plus "\n\n"
 * opens the first turn (its images are dropped, as the template reads only
 * its text). Every other text is trimmed of the whitespace Python's
 * str.strip() removes (Jinja's trim). The assistant role is "model". Gemma 3
 * has no video placeholder: a message's video flag is ignored. */
#ifndef VLM_ARCH_GEMMA3_CHAT_H
#define VLM_ARCH_GEMMA3_CHAT_H

#include "arch/chat.h"

/* The template's one check: after an optional leading system message, roles
 * alternate user, assistant, user, ... (VLM_ERR_INVALID_ARGUMENT naming the
 * first message that breaks it, where the template raises). */
vlm_status vlmi_gemma3_chat_check(const vlmi_chat_message *messages, size_t n);

/* Renders messages (n of them; see vlmi_gemma3_chat_check for what the
 * template accepts; others render as if the roles were as written). Writes
 * up to cap bytes plus a NUL when cap > 0; returns the full length (so
 * (NULL, 0) is a size query). */
size_t vlmi_gemma3_chat_render(char *buf, size_t cap, const vlmi_chat_message *messages,
                               size_t n, bool add_generation_prompt);

#endif
